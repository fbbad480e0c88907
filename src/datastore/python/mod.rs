//! The embedded CPython interpreter (pyo3) behind [`PythonHost`].
//!
//! One interpreter per process, initialised on first use. Our own python
//! (the `bb` package, `_bitzel_host`, and `_bitzel_codeparser` for
//! `signature::pycode`, next to this file) is compiled into the binary and served to `import` by an in-memory
//! finder; the native module `_bitzel` provides `DataSmart`, the `d`
//! object over the Rust datastore, and the fetcher's hook to a download
//! cache ([`DownloadCache`]); `_bitzel_fetch` is the Rust fetcher
//! behind our `bb.fetch2`. Every call attaches to the interpreter
//! for its own duration only, so Rust work on other threads never waits
//! for python that is not running.

mod d;
mod downloads;
mod fetch;
mod inline_memo;

use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyModule, PyTuple};

pub use d::PyData;
pub use downloads::{DownloadCache, DownloadServer, SocketDownloadCache, set_download_cache};
pub use inline_memo::stats as inline_memo_stats;

use super::{AnonymousFunction, DataStore, PythonFailure, PythonHost};

/// Our python sources: module name, whether it is a package, source text.
const SOURCES: &[(&str, bool, &str)] = &[
    ("_bitzel_host", false, include_str!("_bitzel_host.py")),
    (
        "_bitzel_codeparser",
        false,
        include_str!("_bitzel_codeparser.py"),
    ),
    ("bb", true, include_str!("bb/__init__.py")),
    ("bb.build", false, include_str!("bb/build.py")),
    ("bb.compress", true, include_str!("bb/compress/__init__.py")),
    (
        "bb.compress.zstd",
        false,
        include_str!("bb/compress/zstd.py"),
    ),
    ("bb.cookerdata", false, include_str!("bb/cookerdata.py")),
    ("bb.data", false, include_str!("bb/data.py")),
    ("bb.data_smart", false, include_str!("bb/data_smart.py")),
    ("bb.event", false, include_str!("bb/event.py")),
    ("bb.filter", false, include_str!("bb/filter.py")),
    ("bb.fetch2", true, include_str!("bb/fetch2/__init__.py")),
    ("bb.msg", false, include_str!("bb/msg.py")),
    (
        "bb.multiprocessing",
        false,
        include_str!("bb/multiprocessing.py"),
    ),
    ("bb.parse", true, include_str!("bb/parse/__init__.py")),
    ("bb.process", false, include_str!("bb/process.py")),
    ("bb.progress", false, include_str!("bb/progress.py")),
    ("bb.runqueue", false, include_str!("bb/runqueue.py")),
    ("bb.siggen", false, include_str!("bb/siggen.py")),
    ("bb.tinfoil", false, include_str!("bb/tinfoil.py")),
    ("bb.utils", false, include_str!("bb/utils.py")),
];

/// Installs an import finder for `SOURCES` (our code, run once at start).
const BOOTSTRAP: &std::ffi::CStr = cr#"
import sys

# importlib.machinery.ModuleSpec, without importing importlib.
_ModuleSpec = type(sys.__spec__)

# A finder and loader by protocol, not by subclassing importlib.abc: that
# module imports importlib.resources, pathlib and more, which cost a task's
# runner (bitzel __run-task) tens of milliseconds at every start.
class _BitzelFinder:
    def __init__(self, sources, code):
        self.sources = sources
        self.code = code

    def find_spec(self, name, path, target=None):
        if name in self.sources:
            return _ModuleSpec(name, self, is_package=self.sources[name][0])
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = self.code.get(module.__name__)
        if code is None:
            is_package, source = self.sources[module.__name__]
            code = compile(source, _filename(module.__name__), "exec")
        exec(code, module.__dict__)

def _filename(name):
    return "<bitzel>/" + name.replace(".", "/") + ".py"

# Code objects compiled by another process of this bitzel (a task's
# runner gets them from bitzel: compiling our sources costs more than
# loading them).
import marshal
_code = marshal.loads(PRECOMPILED) if PRECOMPILED else {}
sys.meta_path.insert(0, _BitzelFinder(SOURCES, _code))
sys.dont_write_bytecode = True

# Embedded, sys.executable would name bitzel; metadata asks it for the
# interpreter (PYTHON = "${@sys.executable}"), so name the real one, in
# the installation's bin/ (sysconfig's BINDIR, without the cost of
# importing sysconfig's data at every task start).
import os
_python = os.path.join(sys.base_exec_prefix or "/usr", "bin", "python3")
if os.path.exists(_python):
    sys.executable = _python
    sys._base_executable = _python
"#;

/// Bytecode of our sources from [`compiled_sources`] of another process of
/// this bitzel, set before the interpreter starts.
static PRECOMPILED: OnceLock<Vec<u8>> = OnceLock::new();

/// Makes the interpreter, when it starts, load our python modules from
/// `bytecode` (what [`compiled_sources`] returned in a process of the same
/// bitzel binary) instead of compiling their sources. Has no effect once
/// the interpreter has started.
pub fn use_compiled_sources(bytecode: Vec<u8>) {
    let _ = PRECOMPILED.set(bytecode);
}

/// Our python modules compiled, as `marshal` bytes for
/// [`use_compiled_sources`] (computed once per process).
pub fn compiled_sources() -> Result<&'static [u8], String> {
    static COMPILED: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            with_interpreter(|py| -> PyResult<Vec<u8>> {
                let code = PyDict::new(py);
                let builtins = py.import("builtins")?;
                for (name, _, text) in SOURCES {
                    let filename = format!("<bitzel>/{}.py", name.replace('.', "/"));
                    code.set_item(
                        name,
                        builtins.call_method1("compile", (*text, filename, "exec"))?,
                    )?;
                }
                let bytes = py.import("marshal")?.call_method1("dumps", (code,))?;
                Ok(bytes.cast::<pyo3::types::PyBytes>()?.as_bytes().to_vec())
            })?
            .map_err(|e| format!("cannot compile our python modules: {e}"))
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// `_bitzel.context_changed(name)`: the metadata's python globals changed,
/// by a new `name` or (None) otherwise; for the memo of inline python.
#[pyfunction]
#[pyo3(signature = (new_name=None))]
fn context_changed(new_name: Option<&str>) {
    inline_memo::context_changed(new_name);
}

/// The process's interpreter state: our host module, imported once.
struct Interpreter {
    host: Py<PyModule>,
}

static INTERPRETER: OnceLock<Result<Interpreter, String>> = OnceLock::new();

fn interpreter() -> Result<&'static Interpreter, String> {
    INTERPRETER
        .get_or_init(|| {
            Python::initialize();
            Python::attach(|py| -> PyResult<Interpreter> {
                let native = PyModule::new(py, "_bitzel")?;
                native.add_class::<PyData>()?;
                native.add_function(wrap_pyfunction!(downloads::download_cache_fetch, &native)?)?;
                native.add_function(wrap_pyfunction!(downloads::download_cache_push, &native)?)?;
                native.add_function(wrap_pyfunction!(context_changed, &native)?)?;
                let modules = py.import("sys")?.getattr("modules")?;
                modules.set_item("_bitzel", native)?;
                modules.set_item("_bitzel_fetch", fetch::module(py)?)?;
                let sources = PyDict::new(py);
                for (name, is_package, text) in SOURCES {
                    sources.set_item(name, (*is_package, *text))?;
                }
                let globals = PyDict::new(py);
                globals.set_item("SOURCES", sources)?;
                let precompiled = PRECOMPILED.get().map(Vec::as_slice).unwrap_or_default();
                globals.set_item("PRECOMPILED", pyo3::types::PyBytes::new(py, precompiled))?;
                py.run(BOOTSTRAP, Some(&globals), None)?;
                let host = py.import("_bitzel_host")?.unbind();
                Ok(Interpreter { host })
            })
            .map_err(|e| {
                Python::attach(|py| {
                    format!("cannot start the embedded python: {}", describe(py, &e))
                })
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `f` attached to the process's interpreter, starting it on first
/// use. For the later stages that call our embedded modules (imported by
/// name: `py.import("_bitzel_codeparser")`).
pub fn with_interpreter<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Result<R, String> {
    interpreter()?;
    Ok(Python::attach(f))
}

/// Runs `f` (which may call python any number of times) with this
/// thread's python thread state kept alive, not holding the GIL. Each call
/// into python from a thread without a thread state creates one and
/// destroys it afterwards, which also drops the thread's `threading.local`
/// data (our evaluation context lives there); a parser thread that
/// evaluates a whole recipe under this pays that once. Without a running
/// interpreter, just runs `f`.
pub fn with_thread_state<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if !matches!(INTERPRETER.get(), Some(Ok(_))) {
        return f();
    }
    Python::attach(|py| py.detach(f))
}

/// `Type: message` for a python exception, as BitBake reports it.
fn describe(py: Python<'_>, err: &PyErr) -> String {
    let value = err.value(py);
    let formatted = interpreter_host(py)
        .and_then(|host| host.call_method1("format_exception", (value,)).ok())
        .and_then(|s| s.extract::<String>().ok());
    formatted.unwrap_or_else(|| err.to_string())
}

fn interpreter_host(py: Python<'_>) -> Option<Bound<'_, PyModule>> {
    match INTERPRETER.get() {
        Some(Ok(interpreter)) => Some(interpreter.host.bind(py).clone()),
        _ => None,
    }
}

/// Calls `_bitzel_host.FUNCTION(*args, d)` with a writable `d`. The
/// function returns None, or a SkipRecipe reason; an exception becomes a
/// failure located at the innermost metadata line of its traceback.
fn call_with_d(
    d: &mut DataStore,
    function: &str,
    args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>>,
) -> Result<(), PythonFailure> {
    let interpreter = interpreter().map_err(PythonFailure::error)?;
    Python::attach(|py| {
        let failed = |e: PyErr| PythonFailure::error(describe(py, &e));
        let (data, _guard) = PyData::borrow_mut(d);
        let data = Py::new(py, data).map_err(failed)?;
        let mut args = args(py).map_err(failed)?;
        args.push(data.into_bound(py).into_any());
        let args = PyTuple::new(py, args).map_err(failed)?;
        match interpreter.host.bind(py).call_method1(function, args) {
            Ok(skip) if skip.is_none() => Ok(()),
            Ok(skip) => Err(PythonFailure::Skip(
                skip.extract::<String>().unwrap_or_default(),
            )),
            Err(err) => {
                let location = interpreter
                    .host
                    .bind(py)
                    .call_method1("error_location", (err.value(py),))
                    .and_then(|l| l.extract::<(Option<String>, usize)>())
                    .unwrap_or((None, 0));
                Err(PythonFailure::Error {
                    message: describe(py, &err),
                    file: location.0,
                    line: location.1,
                })
            }
        }
    })
}

/// The embedded interpreter as the datastore's python host.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmbeddedPython;

impl EmbeddedPython {
    /// Starts the interpreter (once per process) and returns a host for it.
    pub fn start() -> Result<Arc<dyn PythonHost>, String> {
        interpreter()?;
        Ok(Arc::new(EmbeddedPython))
    }

    /// A host whose interpreter starts on first use (each call starts it
    /// if need be, and reports a failure to start as its own error): for
    /// commands that often need no python at all, such as a parse whose
    /// every recipe comes from the cache (starting it is a quarter of
    /// that).
    pub fn lazy() -> Arc<dyn PythonHost> {
        Arc::new(EmbeddedPython)
    }
}

impl PythonHost for EmbeddedPython {
    fn eval_inline(&self, code: &str, d: &DataStore) -> Result<String, String> {
        if let Some(value) = inline_memo::lookup(code, d) {
            return Ok(value);
        }
        let interpreter = interpreter()?;
        let (result, recording) = inline_memo::record(d, || {
            Python::attach(|py| {
                let (data, _guard) = PyData::borrow_shared(d);
                let data = Py::new(py, data).map_err(|e| describe(py, &e))?;
                let result = interpreter
                    .host
                    .bind(py)
                    .call_method1("eval_inline", (code, data));
                match result {
                    Ok(value) => value.extract::<String>().map_err(|e| describe(py, &e)),
                    Err(err) => Err(describe(py, &err)),
                }
            })
        });
        if let Ok(value) = &result {
            inline_memo::remember(code, recording, value, || {
                Python::attach(|py| {
                    interpreter
                        .host
                        .bind(py)
                        .call_method1("inline_names", (code,))
                        .and_then(|names| names.extract::<Vec<String>>())
                        .ok()
                })
            });
        }
        result
    }

    fn globals_version(&self) -> u64 {
        inline_memo::globals_version()
    }

    fn define_function(
        &self,
        name: &str,
        text: &str,
        file: &str,
        line: usize,
    ) -> Result<(), String> {
        let interpreter = interpreter()?;
        Python::attach(|py| {
            interpreter
                .host
                .bind(py)
                .call_method1("define_function", (name, text, file, line))
                .map(|_| ())
                .map_err(|e| describe(py, &e))
        })
    }

    fn run_anonymous(
        &self,
        functions: &[AnonymousFunction],
        d: &mut DataStore,
    ) -> Result<(), PythonFailure> {
        call_with_d(d, "run_anonymous", |py| {
            let items: Vec<Bound<'_, PyTuple>> = functions
                .iter()
                .map(|f| {
                    (f.name.as_str(), f.code.as_str(), f.file.as_str(), f.line).into_pyobject(py)
                })
                .collect::<PyResult<_>>()?;
            Ok(vec![PyList::new(py, items)?.into_any()])
        })
    }

    fn exec_python_function(&self, name: &str, d: &mut DataStore) -> Result<(), PythonFailure> {
        call_with_d(d, "exec_python_func", |py| {
            Ok(vec![name.into_pyobject(py)?.into_any()])
        })
    }

    fn fire_event(
        &self,
        event: &str,
        recipe: &str,
        args: &[String],
        d: &mut DataStore,
    ) -> Result<(), PythonFailure> {
        call_with_d(d, "fire_event", |py| {
            Ok(vec![
                event.into_pyobject(py)?.into_any(),
                recipe.into_pyobject(py)?.into_any(),
                PyList::new(py, args)?.into_any(),
            ])
        })
    }

    fn add_tasks(&self, tasks: &[String], d: &mut DataStore) -> Result<(), PythonFailure> {
        call_with_d(d, "add_tasks", |py| {
            Ok(vec![PyList::new(py, tasks)?.into_any()])
        })
    }

    fn apply_filter(&self, expression: &str, value: &str) -> Result<String, String> {
        let interpreter = interpreter()?;
        Python::attach(|py| {
            let result = interpreter
                .host
                .bind(py)
                .call_method1("apply_filter", (expression, value));
            result
                .and_then(|v| v.extract::<String>())
                .map_err(|e| describe(py, &e))
        })
    }

    fn environment_object(&self, env: &[(String, String)]) -> Result<super::ForeignValue, String> {
        interpreter()?;
        let mut store = DataStore::new();
        for (name, value) in env {
            store.set_var_python(name, value.clone());
        }
        Python::attach(|py| {
            let object = Py::new(py, PyData::owned(store)).map_err(|e| describe(py, &e))?;
            let object: Py<PyAny> = object.into_any();
            Ok(Arc::new(object) as super::ForeignValue)
        })
    }

    fn add_pylib(
        &self,
        dir: &str,
        namespace: &str,
        global_modules: &[String],
    ) -> Result<(), String> {
        let interpreter = interpreter()?;
        Python::attach(|py| {
            interpreter
                .host
                .bind(py)
                .call_method1("add_pylib", (dir, namespace, global_modules.to_vec()))
                .map(|_| ())
                .map_err(|e| describe(py, &e))
        })
    }
}
