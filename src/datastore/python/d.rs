//! `d`: the datastore as python code sees it, BitBake's `DataSmart` API on
//! top of our Rust [`DataStore`].
//!
//! A `d` either borrows a datastore for the length of one call into python
//! (expansion, anonymous functions) or owns one (`d.createCopy()`). A
//! borrowed `d` is invalidated when the call returns, so python code that
//! keeps it gets an exception instead of a dangling pointer. A `d` handed
//! out for inline expansion is read-only: the datastore is being read.

use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::{PyKeyError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString};

use super::inline_memo::{self, Read, VarMode, VarValue, is_list_var, read_flag, read_var};
use crate::datastore::{DataStore, ExpansionError, FlagValue};

/// Where a `d` finds its datastore.
enum Target {
    /// Valid while the pointer is not null.
    Borrowed {
        ptr: Arc<AtomicPtr<DataStore>>,
        mutable: bool,
    },
    Owned(Box<DataStore>),
}

#[pyclass(name = "DataSmart", module = "bb.data_smart")]
pub struct PyData {
    target: Target,
}

// SAFETY: a `PyData` is only used from python code, which runs under the
// interpreter lock, so one thread at a time uses it. A borrowed datastore
// is reached only while its call (on the borrowing thread) is under way;
// python on other threads cannot reach that `d` (it is not shared). Python
// may still drop a `d` on any thread (garbage from another recipe's parse),
// which touches nothing of a borrowed datastore and frees an owned one no
// one else can see.
unsafe impl Send for PyData {}
unsafe impl Sync for PyData {}

/// Invalidates a borrowed `d` when dropped.
pub struct BorrowGuard {
    ptr: Arc<AtomicPtr<DataStore>>,
}

impl Drop for BorrowGuard {
    fn drop(&mut self) {
        self.ptr.store(std::ptr::null_mut(), Ordering::SeqCst);
    }
}

impl PyData {
    /// A read-only `d` over `store` for the guard's lifetime.
    pub fn borrow_shared(store: &DataStore) -> (PyData, BorrowGuard) {
        // Only shared references are ever made from this pointer: every
        // method that would mutate checks `mutable` first.
        let ptr = Arc::new(AtomicPtr::new(store as *const DataStore as *mut DataStore));
        let data = PyData {
            target: Target::Borrowed {
                ptr: ptr.clone(),
                mutable: false,
            },
        };
        (data, BorrowGuard { ptr })
    }

    /// A `d` that owns its datastore.
    pub fn owned(store: DataStore) -> PyData {
        PyData {
            target: Target::Owned(Box::new(store)),
        }
    }

    /// A writable `d` over `store` for the guard's lifetime.
    pub fn borrow_mut(store: &mut DataStore) -> (PyData, BorrowGuard) {
        let ptr = Arc::new(AtomicPtr::new(store as *mut DataStore));
        let data = PyData {
            target: Target::Borrowed {
                ptr: ptr.clone(),
                mutable: true,
            },
        };
        (data, BorrowGuard { ptr })
    }

    /// Reads the datastore behind this `d` (for native functions that
    /// take a `d`); an error if it is no longer available.
    pub fn with_store<R>(&self, f: impl FnOnce(&DataStore) -> R) -> PyResult<R> {
        // Native code reads it unrecorded.
        inline_memo::taint();
        let store = self.store()?;
        store.note_read_any();
        Ok(f(store))
    }

    fn store(&self) -> PyResult<&DataStore> {
        match &self.target {
            Target::Owned(store) => Ok(store),
            Target::Borrowed { ptr, .. } => {
                let raw = ptr.load(Ordering::SeqCst);
                if raw.is_null() {
                    inline_memo::taint();
                    return Err(PyRuntimeError::new_err(
                        "this datastore is no longer available (`d` kept past its call)",
                    ));
                }
                // SAFETY: the pointer was made from a reference that outlives
                // the guard, and the guard nulls it before that reference ends.
                Ok(unsafe { &*raw })
            }
        }
    }

    fn store_mut(&mut self) -> PyResult<&mut DataStore> {
        // A write (or an attempt) is not a read a replay can repeat.
        inline_memo::taint();
        match &mut self.target {
            Target::Owned(store) => Ok(store),
            Target::Borrowed { ptr, mutable } => {
                if !*mutable {
                    return Err(PyRuntimeError::new_err(
                        "the datastore cannot be changed while a variable is being expanded",
                    ));
                }
                let raw = ptr.load(Ordering::SeqCst);
                if raw.is_null() {
                    return Err(PyRuntimeError::new_err(
                        "this datastore is no longer available (`d` kept past its call)",
                    ));
                }
                // SAFETY: made from a `&mut DataStore` that outlives the guard;
                // python calls are single-threaded under the GIL, so no other
                // reference to it is in use while this one is.
                Ok(unsafe { &mut *raw })
            }
        }
    }
}

/// The `bb.data_smart.ExpansionError` python exception for an error.
pub fn expansion_error(py: Python<'_>, error: &ExpansionError) -> PyErr {
    let make = || -> PyResult<PyErr> {
        let module = py.import("bb.data_smart")?;
        let class = module.getattr("ExpansionError")?;
        let instance = class.call1((error.variable.clone(), "", error.message.clone()))?;
        Ok(PyErr::from_value(instance))
    };
    make().unwrap_or_else(|e| e)
}

fn flag_to_py<'py>(py: Python<'py>, value: &FlagValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        FlagValue::Text(text) => PyString::new(py, text).into_any(),
        FlagValue::Int(n) => n.into_pyobject(py)?.into_any(),
        FlagValue::List(items) => PyList::new(py, items)?.into_any(),
        FlagValue::None => py.None().into_bound(py),
    })
}

fn py_to_flag(value: &Bound<'_, PyAny>) -> PyResult<FlagValue> {
    if value.is_none() {
        return Ok(FlagValue::None);
    }
    if value.is_instance_of::<PyString>() {
        return Ok(FlagValue::Text(value.extract()?));
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(FlagValue::Int(i64::from(value.extract::<bool>()?)));
    }
    if value.is_instance_of::<PyInt>()
        && let Ok(n) = value.extract::<i64>()
    {
        return Ok(FlagValue::Int(n));
    }
    if let Ok(list) = value.cast::<PyList>() {
        let items: PyResult<Vec<String>> = list.iter().map(|i| Ok(i.str()?.to_string())).collect();
        return Ok(FlagValue::List(items?));
    }
    Ok(FlagValue::Text(value.str()?.to_string()))
}

/// A python argument taken by its truth value, as BitBake's API takes
/// `expand=0` as readily as `expand=False`.
pub struct Truthy(pub bool);

impl<'py> FromPyObject<'_, 'py> for Truthy {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        Ok(Truthy(obj.is_truthy()?))
    }
}

// The method names are BitBake's python API, which python code calls.
#[allow(non_snake_case)]
#[pymethods]
impl PyData {
    #[pyo3(signature = (var, expand = Truthy(true), noweakdefault = Truthy(false), parsing = Truthy(false)))]
    fn getVar<'py>(
        &self,
        py: Python<'py>,
        var: &str,
        expand: Truthy,
        noweakdefault: Truthy,
        parsing: Truthy,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (Truthy(expand), Truthy(parsing)) = (expand, parsing);
        let _ = noweakdefault;
        let store = self.store()?;
        if let Some(object) = store.object(var)
            && let Some(object) = object.downcast_ref::<Py<PyAny>>()
        {
            // (`read_var` notes the read otherwise.)
            store.note_read(var);
            // A python object: not something a replay can compare.
            inline_memo::taint();
            return Ok(object.bind(py).clone());
        }
        let mode = if parsing {
            VarMode::Parsing
        } else if expand {
            VarMode::Expanded
        } else {
            VarMode::Unexpanded
        };
        let value = read_var(store, var, mode).map_err(|e| {
            inline_memo::taint();
            expansion_error(py, &e)
        })?;
        let object = match &value {
            VarValue::List(items) => PyList::new(py, items)?.into_any(),
            VarValue::Text(Some(v)) => PyString::new(py, v).into_any(),
            VarValue::Text(None) => py.None().into_bound(py),
        };
        inline_memo::note(store, || Read::Var {
            name: var.into(),
            mode,
            value,
        });
        Ok(object)
    }

    #[pyo3(signature = (var, value, **_kwargs))]
    fn setVar(
        &mut self,
        var: &str,
        value: &Bound<'_, PyAny>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let parsing = _kwargs
            .and_then(|k| k.get_item("parsing").ok().flatten())
            .map(|v| v.is_truthy())
            .transpose()?
            .unwrap_or(false);
        let is_text = value.is_instance_of::<PyString>() || value.is_none();
        let is_list = value.cast::<PyList>().is_ok() && is_list_var(var);
        let read_only = matches!(self.target, Target::Borrowed { mutable: false, .. });
        // While a variable is being read the datastore cannot change;
        // python code that stores something then (a cache, usually) keeps
        // it where only python reads it back.
        if read_only || (!is_text && !is_list) {
            // Any other python object is kept as it is for python to read
            // back; where the datastore can be written, its text too.
            let object: Py<PyAny> = value.clone().unbind();
            if let Ok(store) = self.store_mut() {
                store.set_var_python(var, value.str()?.to_string());
            }
            self.store()?.set_object(var, std::sync::Arc::new(object));
            return Ok(());
        }
        let store = self.store_mut()?;
        if let Ok(list) = value.cast::<PyList>()
            && is_list_var(var)
        {
            let items: PyResult<Vec<String>> =
                list.iter().map(|i| Ok(i.str()?.to_string())).collect();
            store.set_list_var(var, items?);
            return Ok(());
        }
        if value.is_none() {
            store.set_var_python(var, String::new());
            store.clear_value(var);
            return Ok(());
        }
        let text = value.str()?.to_string();
        if parsing {
            store.set_var_parse(var, text);
        } else {
            store.set_var_python(var, text);
        }
        Ok(())
    }

    #[pyo3(signature = (var, flag, expand = Truthy(true), noweakdefault = Truthy(false)))]
    fn getVarFlag<'py>(
        &self,
        py: Python<'py>,
        var: &str,
        flag: &str,
        expand: Truthy,
        noweakdefault: Truthy,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.store()?;
        if flag == "_content" {
            return self.getVar(py, var, expand, noweakdefault, Truthy(false));
        }
        let (Truthy(expand), Truthy(noweakdefault)) = (expand, noweakdefault);
        let value = read_flag(store, var, flag, expand, noweakdefault).map_err(|e| {
            inline_memo::taint();
            expansion_error(py, &e)
        })?;
        let object = match &value {
            Some(value) => flag_to_py(py, value)?,
            None => py.None().into_bound(py),
        };
        inline_memo::note(store, || Read::Flag {
            name: var.into(),
            flag: flag.into(),
            expand,
            noweakdefault,
            value,
        });
        Ok(object)
    }

    #[pyo3(signature = (var, flag, value, **_kwargs))]
    fn setVarFlag(
        &mut self,
        var: &str,
        flag: &str,
        value: &Bound<'_, PyAny>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let value = py_to_flag(value)?;
        self.store_mut()?.set_var_flag(var, flag, value);
        Ok(())
    }

    #[pyo3(signature = (var, flags, **_kwargs))]
    fn setVarFlags(
        &mut self,
        var: &str,
        flags: &Bound<'_, PyDict>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        for (flag, value) in flags.iter() {
            let flag: String = flag.extract()?;
            let value = py_to_flag(&value)?;
            self.store_mut()?.set_var_flag(var, &flag, value);
        }
        Ok(())
    }

    #[pyo3(signature = (var, expand = Truthy(false), internalflags = Truthy(false)))]
    fn getVarFlags<'py>(
        &self,
        py: Python<'py>,
        var: &str,
        expand: Truthy,
        internalflags: Truthy,
    ) -> PyResult<Bound<'py, PyAny>> {
        inline_memo::taint();
        self.store()?.note_read(var);
        let (Truthy(expand), _) = (expand, internalflags);
        let store = self.store()?;
        if store.record(var).is_none() {
            return Ok(py.None().into_bound(py));
        }
        let dict = PyDict::new(py);
        for (flag, value) in store.flags(var) {
            let item = match (&value, expand) {
                (FlagValue::Text(text), true) => {
                    let cache_key = format!("{var}[{flag}]");
                    PyString::new(
                        py,
                        &store
                            .expand_guarded(text, &cache_key)
                            .map_err(|e| expansion_error(py, &e))?,
                    )
                    .into_any()
                }
                _ => flag_to_py(py, &value)?,
            };
            dict.set_item(flag, item)?;
        }
        Ok(dict.into_any())
    }

    #[pyo3(signature = (var, **_kwargs))]
    fn delVar(&mut self, var: &str, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        self.store_mut()?.del_var(var);
        Ok(())
    }

    #[pyo3(signature = (var, flag, **_kwargs))]
    fn delVarFlag(
        &mut self,
        var: &str,
        flag: &str,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.store_mut()?.del_var_flag(var, flag);
        Ok(())
    }

    #[pyo3(signature = (var, value, **_kwargs))]
    fn appendVar(
        &mut self,
        var: &str,
        value: &Bound<'_, PyAny>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let text = value.str()?.to_string();
        self.store_mut()?.append_var(var, text);
        Ok(())
    }

    #[pyo3(signature = (var, value, **_kwargs))]
    fn prependVar(
        &mut self,
        var: &str,
        value: &Bound<'_, PyAny>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let text = value.str()?.to_string();
        self.store_mut()?.prepend_var(var, text);
        Ok(())
    }

    #[pyo3(signature = (var, flag, value, **_kwargs))]
    fn appendVarFlag(
        &mut self,
        var: &str,
        flag: &str,
        value: &Bound<'_, PyAny>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let add = value.str()?.to_string();
        let store = self.store_mut()?;
        let old = store.get_var_flag_unexpanded(var, flag).unwrap_or_default();
        store.set_var_flag(var, flag, FlagValue::Text(old + &add));
        Ok(())
    }

    #[pyo3(signature = (var, flag, value, **_kwargs))]
    fn prependVarFlag(
        &mut self,
        var: &str,
        flag: &str,
        value: &Bound<'_, PyAny>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let add = value.str()?.to_string();
        let store = self.store_mut()?;
        let old = store.get_var_flag_unexpanded(var, flag).unwrap_or_default();
        store.set_var_flag(var, flag, FlagValue::Text(add + &old));
        Ok(())
    }

    #[pyo3(signature = (key, newkey, **_kwargs))]
    fn renameVar(
        &mut self,
        key: &str,
        newkey: &str,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.store_mut()?.rename_var(key, newkey);
        Ok(())
    }

    #[pyo3(signature = (s, varname = None))]
    fn expand(
        &self,
        py: Python<'_>,
        s: Option<&Bound<'_, PyAny>>,
        varname: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let Some(s) = s else { return Ok(py.None()) };
        if !s.is_instance_of::<PyString>() {
            return Ok(s.clone().unbind());
        }
        let text: String = s.extract()?;
        let store = self.store()?;
        let varname = varname.unwrap_or("");
        let value = store.expand_guarded(&text, varname).map_err(|e| {
            inline_memo::taint();
            expansion_error(py, &e)
        })?;
        let object = PyString::new(py, &value).into_any().unbind();
        inline_memo::note(store, || Read::Expand {
            text: text.into(),
            varname: varname.into(),
            value,
        });
        Ok(object)
    }

    fn keys(&self) -> PyResult<Vec<String>> {
        inline_memo::taint();
        self.store()?.note_read_any();
        Ok(self
            .store()?
            .keys()
            .into_iter()
            .filter(|k| self.store().is_ok_and(|s| s.has_content(k)))
            .collect())
    }

    /// Bitzel's own: the names of `keys()` whose record has `flag` (a
    /// value or a weak default), in the same order, without walking
    /// every name (for `bb.build.tasksbetween`).
    fn _bitzel_names_with_flag(&self, flag: &str) -> PyResult<Vec<String>> {
        inline_memo::taint();
        self.store()?.note_read_any();
        Ok(self.store()?.names_with_flag(flag))
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.keys()?)?
            .try_iter()
            .map(|it| it.into_any())
    }

    fn __contains__(&self, var: &str) -> PyResult<bool> {
        let store = self.store()?;
        store.note_read(var);
        let value = store.has_content(var);
        inline_memo::note(store, || Read::Contains {
            name: var.into(),
            value,
        });
        Ok(value)
    }

    fn createCopy(&mut self) -> PyResult<PyData> {
        inline_memo::taint();
        self.store()?.note_read_any();
        let copy = match &mut self.target {
            Target::Owned(store) => store.create_copy(),
            Target::Borrowed { mutable: true, .. } => self.store_mut()?.create_copy(),
            Target::Borrowed { mutable: false, .. } => self.store()?.clone(),
        };
        Ok(PyData {
            target: Target::Owned(Box::new(copy)),
        })
    }

    fn setVarFilter(&mut self, var: &str, filter: Option<&str>) -> PyResult<()> {
        let store = self.store_mut()?;
        match filter.filter(|f| !f.is_empty()) {
            Some(filter) => store.set_var_flag(var, "_filter", FlagValue::Text(filter.to_string())),
            None => store.del_var_flag(var, "_filter"),
        }
        Ok(())
    }

    fn hasOverrides(&self, var: &str) -> PyResult<bool> {
        inline_memo::taint();
        self.store()?.note_read(var);
        Ok(self
            .store()?
            .record(var)
            .is_some_and(|r| !r.variants.is_empty()))
    }

    fn getVarHistory(&self, _var: &str) -> Vec<String> {
        Vec::new()
    }

    fn __getitem__(&self, _key: &str) -> PyResult<()> {
        Err(PyKeyError::new_err("use d.getVar"))
    }
}
