//! The evaluator: parsed metadata statements applied to a datastore, in
//! order, with `include`/`require`/`include_all` and `inherit` evaluated in
//! place (spec §4, §8 to §12), and recipe finalisation (spec §16).
//!
//! Files come through a [`Loader`], so tests run on in-memory trees. Each
//! file is parsed once per evaluator (classes and includes are shared by
//! every recipe) and its parse errors become evaluation errors at the line
//! BitBake names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rowan::ast::AstNode;

use super::{DataStore, FlagValue, PythonFailure, PythonHost};
use crate::diag::LineIndex;
use crate::syntax::ast::{self, HasArgs, Stmt};
use crate::syntax::{self, AssignOp, FileKind};

/// Reads metadata files. `Ok(None)` means the file does not exist.
pub trait Loader: Send + Sync {
    fn load(&self, path: &Path) -> std::io::Result<Option<Arc<str>>>;

    fn exists(&self, path: &Path) -> bool {
        matches!(self.load(path), Ok(Some(_)))
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<Option<Arc<str>>> {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Ok(Some(text.into())),
                Err(err) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, err)),
            },
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn exists(&self, path: &Path) -> bool {
        path.is_file()
    }
}

/// An in-memory tree of files, for tests.
#[derive(Debug, Default, Clone)]
pub struct MemoryLoader {
    files: HashMap<PathBuf, Arc<str>>,
}

impl MemoryLoader {
    pub fn new() -> MemoryLoader {
        MemoryLoader::default()
    }

    pub fn add(&mut self, path: impl Into<PathBuf>, text: &str) -> &mut Self {
        self.files.insert(path.into(), text.into());
        self
    }
}

impl Loader for MemoryLoader {
    fn load(&self, path: &Path) -> std::io::Result<Option<Arc<str>>> {
        Ok(self.files.get(path).cloned())
    }
}

/// A failure that stops evaluating a file, as a BitBake parse error does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{}:{line}: {message}", path.display())]
pub struct EvalError {
    pub path: PathBuf,
    /// 1-based, the line BitBake reports; 0 when the error has no line.
    pub line: usize,
    pub message: String,
}

/// How finalising a recipe ended (spec §16.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Parsed,
    /// `bb.parse.SkipRecipe` with its reason.
    Skipped(String),
}

/// A parsed file, shared by every recipe that reads it.
struct ParsedFile {
    green: rowan::GreenNode,
    errors: Vec<syntax::SyntaxError>,
    lines: LineIndex,
}

impl ParsedFile {
    fn line_of(&self, offset: rowan::TextSize) -> usize {
        self.lines.line_of(offset.into()) + 1
    }
}

/// Where evaluation is: the file whose statements run, and what kind of
/// file started the chain (classes do not change `FILE`).
#[derive(Clone)]
struct Frame {
    path: PathBuf,
    /// The class being evaluated, for `EXPORT_FUNCTIONS`.
    class_name: Option<String>,
    /// A file the configuration phase reads directly (not included):
    /// only there is `addpylib` accepted (spec §14.4).
    top_level: bool,
}

/// Applies metadata files to datastores. One evaluator serves many recipes
/// (on many threads): it caches parsed files.
pub struct Evaluator {
    loader: Arc<dyn Loader>,
    python: Option<Arc<dyn PythonHost>>,
    parsed: Mutex<HashMap<PathBuf, Arc<ParsedFile>>>,
}

/// `include` or `require`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IncludeKind {
    Include,
    Require,
}

const INCLUDE_STACK: &str = "__bitzel_include_stack";

impl Evaluator {
    pub fn new(loader: Arc<dyn Loader>, python: Option<Arc<dyn PythonHost>>) -> Evaluator {
        Evaluator {
            loader,
            python,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    pub fn python(&self) -> Option<&Arc<dyn PythonHost>> {
        self.python.as_ref()
    }

    fn parse_file(&self, path: &Path) -> Result<Option<Arc<ParsedFile>>, EvalError> {
        if let Some(parsed) = self.parsed.lock().map_err(|_| poisoned(path))?.get(path) {
            return Ok(Some(parsed.clone()));
        }
        let text = match self.loader.load(path) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(None),
            Err(err) => {
                return Err(EvalError {
                    path: path.to_path_buf(),
                    line: 0,
                    message: format!("cannot read file: {err}"),
                });
            }
        };
        let kind = FileKind::from_path(path).unwrap_or(FileKind::Recipe);
        let parse = syntax::parse(kind, &text);
        let parsed = Arc::new(ParsedFile {
            green: parse.green().clone(),
            errors: parse.errors().to_vec(),
            lines: LineIndex::new(&text),
        });
        self.parsed
            .lock()
            .map_err(|_| poisoned(path))?
            .insert(path.to_path_buf(), parsed.clone());
        Ok(Some(parsed))
    }

    /// Evaluates a top-level file (configuration file, recipe or append)
    /// into `d`, setting `FILE` to it as BitBake does.
    pub fn eval_file(&self, d: &mut DataStore, path: &Path) -> Result<(), EvalError> {
        self.eval_file_at(d, path, true)
    }

    fn eval_file_at(
        &self,
        d: &mut DataStore,
        path: &Path,
        top_level: bool,
    ) -> Result<(), EvalError> {
        mark_dependency(d, path);
        let Some(parsed) = self.parse_file(path)? else {
            return Err(EvalError {
                path: path.to_path_buf(),
                line: 0,
                message: "file not found".into(),
            });
        };
        let is_class = path.extension().is_some_and(|e| e == "bbclass");
        let old_file = d.raw_value("FILE").map(str::to_string);
        if !is_class {
            d.set_var_python("FILE", path.display().to_string());
        }
        let frame = Frame {
            path: path.to_path_buf(),
            class_name: is_class.then(|| file_stem(path)),
            top_level,
        };
        let result = self.eval_parsed(d, &parsed, &frame);
        if !is_class && let Some(old) = old_file {
            d.set_var_python("FILE", old);
        }
        result
    }

    fn eval_parsed(
        &self,
        d: &mut DataStore,
        parsed: &ParsedFile,
        frame: &Frame,
    ) -> Result<(), EvalError> {
        if let Some(error) = parsed.errors.first() {
            return Err(EvalError {
                path: frame.path.clone(),
                line: parsed.line_of(error.range.start()),
                message: error.message.clone(),
            });
        }
        let root = syntax::SyntaxNode::new_root(parsed.green.clone());
        let Some(file) = ast::SourceFile::cast(root) else {
            return Ok(());
        };
        for stmt in file.statements() {
            self.eval_stmt(d, parsed, frame, &stmt)?;
        }
        Ok(())
    }

    fn eval_stmt(
        &self,
        d: &mut DataStore,
        parsed: &ParsedFile,
        frame: &Frame,
        stmt: &Stmt,
    ) -> Result<(), EvalError> {
        let node = stmt.syntax();
        // BitBake numbers a statement by its last physical line.
        let end = node.text_range().end();
        let last_line = parsed.line_of(end.checked_sub(1.into()).unwrap_or(end));
        let error = |message: String| EvalError {
            path: frame.path.clone(),
            line: last_line,
            message,
        };
        let expansion = |e: super::ExpansionError| error(e.to_string());
        match stmt {
            Stmt::Assignment(assignment) => self.assign(d, assignment).map_err(expansion),
            Stmt::Export(export) => {
                if let Some(name) = export.var_name() {
                    d.set_var_flag(&name.text(), "export", FlagValue::Int(1));
                }
                Ok(())
            }
            Stmt::Unset(unset) => {
                let Some(name) = unset.var_name() else {
                    return Ok(());
                };
                match unset.flag().and_then(|f| f.name()) {
                    Some(flag) => d.del_var_flag(&name.text(), &flag),
                    None => d.del_var(&name.text()),
                }
                Ok(())
            }
            Stmt::Include(include) => self.include(
                d,
                frame,
                &include.args_text(),
                IncludeKind::Include,
                last_line,
            ),
            Stmt::Require(require) => self.include(
                d,
                frame,
                &require.args_text(),
                IncludeKind::Require,
                last_line,
            ),
            Stmt::IncludeAll(include_all) => {
                let target = d.expand(&include_all.args_text()).map_err(expansion)?;
                let bbpath = d.get_var("BBPATH").map_err(expansion)?.unwrap_or_default();
                for entry in bbpath.split(':') {
                    let candidate = Path::new(entry).join(target.trim());
                    // BitBake records the path whether or not it exists.
                    mark_dependency(d, &candidate);
                    if self.loader.exists(&candidate) {
                        self.include_one(d, frame, &candidate, last_line)?;
                    }
                }
                Ok(())
            }
            Stmt::Inherit(inherit) => {
                self.inherit(d, &inherit.args_text(), &frame.path, last_line, false)
            }
            Stmt::InheritDefer(inherit) => {
                let mut deferred = d.list_var("__BBDEFINHERITS");
                deferred.push(encode_deferred(
                    &inherit.args_text(),
                    &frame.path,
                    last_line,
                ));
                d.set_list_var("__BBDEFINHERITS", deferred);
                Ok(())
            }
            Stmt::Function(function) => self.function(d, frame, function, last_line),
            Stmt::DefFunction(def) => self.def_function(d, frame, def, last_line),
            Stmt::ExportFunctions(export) => self
                .export_functions(d, frame, &export.words())
                .map_err(error),
            Stmt::AddTask(addtask) => {
                for task in addtask.task_names() {
                    add_task(d, &task, &addtask.before(), &addtask.after());
                }
                Ok(())
            }
            Stmt::DelTask(deltask) => {
                let names = d.expand(&deltask.args_text()).map_err(expansion)?;
                for task in names.split_whitespace() {
                    del_task(d, task);
                }
                Ok(())
            }
            Stmt::AddHandler(handler) => {
                let mut handlers = d.list_var("__BBHANDLERS");
                for name in handler.words() {
                    d.set_var_flag(&name, "handler", FlagValue::Int(1));
                    handlers.push(name);
                }
                d.set_list_var("__BBHANDLERS", handlers);
                Ok(())
            }
            Stmt::AddPylib(pylib) => {
                if !frame.top_level {
                    return Err(error(format!(
                        "unparsed line: '{}'",
                        node.text().to_string().trim_end()
                    )));
                }
                let words = pylib.words();
                let (Some(namespace), Some(_)) = (words.last(), words.first()) else {
                    return Ok(());
                };
                let dir = d
                    .expand(&words[..words.len() - 1].join(" "))
                    .map_err(expansion)?;
                let modules: Vec<String> = d
                    .get_var("BB_GLOBAL_PYMODULES")
                    .map_err(expansion)?
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                let Some(python) = &self.python else {
                    return Err(error(format!(
                        "`addpylib {dir} {namespace}` needs the embedded interpreter"
                    )));
                };
                python.add_pylib(&dir, namespace, &modules).map_err(error)?;
                // The library's python is part of what every recipe depends on.
                let mut sources: Vec<PathBuf> = walkdir::WalkDir::new(&dir)
                    .into_iter()
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "py"))
                    .map(|e| e.into_path())
                    .collect();
                sources.sort();
                // Kept apart from `__depends` so that BBINCLUDED stays BitBake's.
                let mut python_sources = d.list_var("__bitzel_python_depends");
                python_sources.extend(sources.iter().map(|p| p.display().to_string()));
                d.set_list_var("__bitzel_python_depends", python_sources);
                Ok(())
            }
            Stmt::AddFragments(fragments) => {
                self.add_fragments(d, frame, &fragments.words(), last_line)
            }
            Stmt::Error(_) => Ok(()),
        }
    }

    /// An assignment statement (BitBake's `DataNode`, spec §4).
    fn assign(
        &self,
        d: &mut DataStore,
        assignment: &ast::Assignment,
    ) -> Result<(), super::ExpansionError> {
        let (Some(name), Some(op), Some(value)) =
            (assignment.var_name(), assignment.op(), assignment.value())
        else {
            return Ok(());
        };
        let key = name.text();
        let value = value.text();
        if assignment.is_exported() {
            d.set_var_flag(&key, "export", FlagValue::Int(1));
        }
        let flag = assignment.flag().and_then(|f| f.name());
        let existing = || match &flag {
            Some(flag) => d.raw_flag(&key, flag).map(FlagValue::to_python_str),
            None => d.raw_value(&key).map(str::to_string),
        };
        let new_value = match op {
            AssignOp::Assign | AssignOp::WeakDefault => value,
            AssignOp::Default => existing().unwrap_or(value),
            AssignOp::Immediate => d.expand_guarded(&value, &format!("{key}[:=]"))?,
            AssignOp::Append => format!("{} {value}", existing().unwrap_or_default()),
            AssignOp::Prepend => format!("{value} {}", existing().unwrap_or_default()),
            AssignOp::AppendNoSpace => format!("{}{value}", existing().unwrap_or_default()),
            AssignOp::PrependNoSpace => format!("{value}{}", existing().unwrap_or_default()),
        };
        match (flag, op) {
            (Some(flag), AssignOp::WeakDefault) => d.set_flag_weak_default(&key, &flag, new_value),
            (Some(flag), _) => d.set_var_flag(&key, &flag, FlagValue::Text(new_value)),
            (None, AssignOp::WeakDefault) => d.set_weak_default(&key, new_value),
            (None, _) => d.set_var_parse(&key, new_value),
        }
        Ok(())
    }

    /// `include`/`require` (spec §9.1).
    fn include(
        &self,
        d: &mut DataStore,
        frame: &Frame,
        args: &str,
        kind: IncludeKind,
        line: usize,
    ) -> Result<(), EvalError> {
        let error = |message: String| EvalError {
            path: frame.path.clone(),
            line,
            message,
        };
        let expanded = d.expand(args).map_err(|e| error(e.to_string()))?;
        for word in expanded.split_whitespace() {
            let supported = [".bb", ".bbclass", ".inc", ".conf"];
            let ext_ok = Path::new(word)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| supported.contains(&format!(".{e}").as_str()));
            if !ext_ok {
                return Err(error(format!("`{word}` is not a BitBake file")));
            }
            // BitBake skips only a file naming itself exactly as it was
            // found; any other self-inclusion recurses.
            if Path::new(word) == frame.path {
                continue;
            }
            let (found, attempts) = self
                .resolve(d, &frame.path, word)
                .map_err(|e| error(e.to_string()))?;
            for attempt in &attempts {
                mark_dependency(d, attempt);
            }
            match found {
                Some(path) => self.include_one(d, frame, &path, line)?,
                None if kind == IncludeKind::Require => {
                    return Err(error(format!("Could not include required file {word}")));
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Evaluates one included file in place, with `FILE` set to it.
    fn include_one(
        &self,
        d: &mut DataStore,
        frame: &Frame,
        path: &Path,
        line: usize,
    ) -> Result<(), EvalError> {
        let mut stack = d.list_var(INCLUDE_STACK);
        let shown = path.display().to_string();
        if stack.contains(&shown) {
            return Err(EvalError {
                path: frame.path.clone(),
                line,
                message: format!("maximum recursion depth exceeded: {shown} includes itself"),
            });
        }
        stack.push(shown);
        d.set_list_var(INCLUDE_STACK, stack.clone());
        let result = self.eval_file_at(d, path, false);
        stack.pop();
        d.set_list_var(INCLUDE_STACK, stack);
        result
    }

    /// A relative path searched in the including file's directory, then
    /// along `BBPATH` (spec §9.1).
    /// Also returns every path tried, the found one last, which BitBake
    /// records as dependencies of the file being parsed.
    fn resolve(
        &self,
        d: &DataStore,
        from: &Path,
        word: &str,
    ) -> Result<(Option<PathBuf>, Vec<PathBuf>), super::ExpansionError> {
        let path = Path::new(word);
        if path.is_absolute() {
            let found = self.loader.exists(path).then(|| path.to_path_buf());
            return Ok((found, vec![path.to_path_buf()]));
        }
        let mut dirs = vec![from.parent().map(Path::to_path_buf).unwrap_or_default()];
        let bbpath = d.get_var("BBPATH")?.unwrap_or_default();
        dirs.extend(bbpath.split(':').map(PathBuf::from));
        let mut attempts = Vec::new();
        for dir in dirs {
            let candidate = dir.join(path);
            attempts.push(candidate.clone());
            if self.loader.exists(&candidate) {
                return Ok((Some(candidate), attempts));
            }
        }
        Ok((None, attempts))
    }

    /// `inherit` (spec §10.2); `deferred` when finalisation processes an
    /// `inherit_defer`.
    pub fn inherit(
        &self,
        d: &mut DataStore,
        classes: &str,
        from: &Path,
        line: usize,
        deferred: bool,
    ) -> Result<(), EvalError> {
        let error = |message: String| EvalError {
            path: from.to_path_buf(),
            line,
            message,
        };
        let expanded = d.expand(classes).map_err(|e| error(e.to_string()))?;
        for class in expanded.split_whitespace() {
            let defer: Vec<String> = d
                .get_var("BB_DEFER_BBCLASSES")
                .map_err(|e| error(e.to_string()))?
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !deferred && defer.iter().any(|c| c == class) {
                let mut queue = d.list_var("__BBDEFINHERITS");
                queue.push(encode_deferred(class, from, line));
                d.set_list_var("__BBDEFINHERITS", queue);
                continue;
            }
            let (path, attempts) = self
                .locate_class(d, class)
                .map_err(|e| error(e.to_string()))?;
            // BitBake records the places it looked in; the class itself is
            // recorded when it is read.
            for attempt in attempts.iter().filter(|a| path.as_ref().ok() != Some(*a)) {
                mark_dependency(d, attempt);
            }
            let Ok(path) = path else {
                return Err(error(format!(
                    "Could not inherit file {}",
                    path.unwrap_err()
                )));
            };
            let shown = path.display().to_string();
            let mut cache = d.list_var("__inherit_cache");
            if cache.contains(&shown) {
                continue;
            }
            cache.push(shown);
            d.set_list_var("__inherit_cache", cache);
            self.eval_file_at(d, &path, false)?;
        }
        Ok(())
    }

    /// Finds a class (spec §10.1): `Ok(path)`, or `Err(last path tried)`,
    /// with every path tried along `BBPATH`.
    #[allow(clippy::type_complexity)]
    fn locate_class(
        &self,
        d: &DataStore,
        class: &str,
    ) -> Result<(Result<PathBuf, String>, Vec<PathBuf>), super::ExpansionError> {
        let class_type = d.raw_value("__bbclasstype").unwrap_or("recipe").to_string();
        let bbpath = d.get_var("BBPATH")?.unwrap_or_default();
        let mut last_tried = String::new();
        let mut attempts = Vec::new();
        for dir in [format!("classes-{class_type}"), "classes".to_string()] {
            let mut file = PathBuf::from(class);
            if !file.is_absolute() && !class.ends_with(".bbclass") {
                file = Path::new(&dir).join(format!("{class}.bbclass"));
            }
            last_tried = file.display().to_string();
            if file.is_absolute() {
                if self.loader.exists(&file) {
                    return Ok((Ok(file), attempts));
                }
                continue;
            }
            for entry in bbpath.split(':') {
                let candidate = Path::new(entry).join(&file);
                attempts.push(candidate.clone());
                if self.loader.exists(&candidate) {
                    return Ok((Ok(candidate), attempts));
                }
            }
        }
        Ok((Err(last_tried), attempts))
    }

    /// A shell, python or anonymous function (BitBake's `MethodNode`).
    fn function(
        &self,
        d: &mut DataStore,
        frame: &Frame,
        function: &ast::Function,
        close_line: usize,
    ) -> Result<(), EvalError> {
        let body = function.body();
        let n_body = function.body_line_count() + 1;
        let mut python = function.is_python();
        let mut name = function
            .name()
            .map(|n| n.text())
            .unwrap_or_else(|| "__anonymous".to_string());
        let mut text = body;
        if name == "__anonymous" {
            let file: String = frame
                .path
                .display()
                .to_string()
                .chars()
                .map(|c| if "/.+-@%&~".contains(c) { '_' } else { c })
                .collect();
            name = format!("__anon_{close_line}_{file}");
            python = true;
            text = format!("def {name}(d):\n{text}");
            let mut anon = d.list_var("__BBANONFUNCS");
            anon.push(name.clone());
            d.set_list_var("__BBANONFUNCS", anon);
        }
        if d.get_var_unexpanded(&name)
            .ok()
            .flatten()
            .is_some_and(|v| !v.is_empty())
        {
            d.del_var_flag(&name, "python");
            d.del_var_flag(&name, "fakeroot");
        }
        if python {
            d.set_var_flag(&name, "python", FlagValue::Text("1".into()));
        }
        if function.is_fakeroot() {
            d.set_var_flag(&name, "fakeroot", FlagValue::Text("1".into()));
        }
        d.set_var_flag(&name, "func", FlagValue::Int(1));
        d.set_var_parse(&name, text);
        d.set_var_flag(
            &name,
            "filename",
            FlagValue::Text(frame.path.display().to_string()),
        );
        let lineno = close_line.saturating_sub(n_body);
        d.set_var_flag(&name, "lineno", FlagValue::Text(lineno.to_string()));
        Ok(())
    }

    /// A `def` function (BitBake's `PythonMethodNode`, spec §11.3).
    fn def_function(
        &self,
        d: &mut DataStore,
        frame: &Frame,
        def: &ast::DefFunction,
        end_line: usize,
    ) -> Result<(), EvalError> {
        let Some(name) = def.name().map(|n| n.text()) else {
            return Ok(());
        };
        let text = def.text();
        let n_lines = text.split('\n').count();
        // BitBake numbers the def by the line that ended it (the next
        // statement's line, or the last line at the end of the file).
        let ended_by = end_line + 1;
        let lineno = ended_by.saturating_sub(n_lines + 1);
        if let Some(python) = &self.python {
            python
                .define_function(&name, &text, &frame.path.display().to_string(), lineno)
                .map_err(|message| EvalError {
                    path: frame.path.clone(),
                    line: end_line,
                    message,
                })?;
        }
        d.set_var_flag(&name, "func", FlagValue::Int(1));
        d.set_var_flag(&name, "python", FlagValue::Int(1));
        d.set_var_parse(&name, text);
        d.set_var_flag(
            &name,
            "filename",
            FlagValue::Text(frame.path.display().to_string()),
        );
        d.set_var_flag(&name, "lineno", FlagValue::Text(lineno.to_string()));
        Ok(())
    }

    /// `EXPORT_FUNCTIONS` (spec §11.5).
    fn export_functions(
        &self,
        d: &mut DataStore,
        frame: &Frame,
        names: &[String],
    ) -> Result<(), String> {
        const SENTINEL: &str = "    # Export function set\n";
        let class = frame.class_name.clone().unwrap_or_default();
        for func in names {
            let called = format!("{class}_{func}");
            let existing = d.get_var_unexpanded(func).map_err(|e| e.to_string())?;
            if existing
                .as_deref()
                .is_some_and(|v| !v.is_empty() && !v.contains(SENTINEL))
            {
                continue;
            }
            if existing.as_deref().is_some_and(|v| !v.is_empty()) {
                d.del_var_flag(func, "python");
                d.del_var_flag(func, "func");
            }
            for flag in ["func", "python"] {
                if let Some(value) = d.raw_flag(&called, flag).filter(|v| v.is_truthy()).cloned() {
                    d.set_var_flag(func, flag, value);
                }
            }
            for flag in ["dirs", "cleandirs", "fakeroot"] {
                if let Some(value) = d.raw_flag(func, flag).filter(|v| v.is_truthy()).cloned() {
                    d.set_var_flag(&called, flag, value);
                }
            }
            d.set_var_flag(func, "filename", FlagValue::Text("autogenerated".into()));
            d.set_var_flag(func, "lineno", FlagValue::Int(1));
            if d.raw_flag(&called, "python")
                .is_some_and(FlagValue::is_truthy)
            {
                d.set_var_parse(
                    func,
                    format!("{SENTINEL}    bb.build.exec_func('{called}', d)\n"),
                );
            } else {
                if class.contains('-') {
                    return Err(format!(
                        "EXPORT_FUNCTIONS cannot export the shell function `{called}`: a shell \
                         function name cannot contain `-`, and the class `{class}` has one; \
                         rename the class or define `{func}` without EXPORT_FUNCTIONS"
                    ));
                }
                d.set_var_parse(func, format!("{SENTINEL}    {called}\n"));
            }
        }
        Ok(())
    }

    /// `addfragments` (spec §14.5).
    fn add_fragments(
        &self,
        d: &mut DataStore,
        frame: &Frame,
        words: &[String],
        line: usize,
    ) -> Result<(), EvalError> {
        let error = |message: String| EvalError {
            path: frame.path.clone(),
            line,
            message,
        };
        let get = |d: &DataStore, name: &str| d.get_var(name).map_err(|e| error(e.to_string()));
        let [prefix, list_var, meta_vars, builtin_var] = words else {
            return Ok(());
        };
        if get(d, "_BB_SKIP_FRAGMENTS")?.as_deref() == Some("1") {
            return Ok(());
        }
        let Some(fragments) = get(d, list_var)?.filter(|f| !f.trim().is_empty()) else {
            return Ok(());
        };
        let layers = get(d, "BBLAYERS")?.unwrap_or_default();
        let flagged: Vec<String> = get(d, meta_vars)?
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let builtin: Vec<(String, String)> = get(d, builtin_var)?
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|w| {
                w.split_once(':')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect();
        for fragment in fragments.split_whitespace() {
            let Some((layer_id, name)) = fragment.split_once('/') else {
                return Err(error(format!(
                    "fragment `{fragment}` is not of the form layer/name"
                )));
            };
            if let Some((_, variable)) = builtin.iter().find(|(p, _)| p == layer_id) {
                if d.raw_value(variable).is_some() {
                    return Err(error(format!(
                        "fragment `{fragment}` sets {variable}, which is already assigned; disable the fragment or drop the assignment"
                    )));
                }
                d.set_var_parse(variable, name.to_string());
                continue;
            }
            let relative = d
                .expand(&format!("{prefix}/{name}.conf"))
                .map_err(|e| error(e.to_string()))?;
            let found = layers
                .split_whitespace()
                .map(|layer| Path::new(layer).join(&relative))
                .find(|candidate| {
                    self.loader.exists(candidate)
                        && self.file_layer(d, candidate).as_deref() == Some(layer_id)
                });
            let Some(path) = found else {
                return Err(error(format!(
                    "Could not find fragment {fragment} in enabled layers"
                )));
            };
            self.include_one(d, frame, &path, line)?;
            for variable in &flagged {
                let value = get(d, variable)?.unwrap_or_default();
                d.set_var_flag(variable, fragment, FlagValue::Text(value));
                d.del_var(variable);
            }
        }
        Ok(())
    }

    /// The collection whose `BBFILE_PATTERN` matches `path` (spec §14.3).
    pub fn file_layer(&self, d: &DataStore, path: &Path) -> Option<String> {
        let collections = d.get_var("BBFILE_COLLECTIONS").ok()??;
        let mut patterns: Vec<(String, String)> = collections
            .split_whitespace()
            .filter_map(|c| {
                Some((
                    d.get_var(&format!("BBFILE_PATTERN_{c}")).ok()??,
                    c.to_string(),
                ))
            })
            .collect();
        patterns.sort_by(|a, b| b.0.cmp(&a.0));
        let shown = path.display().to_string();
        patterns.into_iter().find_map(|(pattern, collection)| {
            let regex = regex::Regex::new(&format!("^(?:{pattern})")).ok()?;
            (!pattern.is_empty() && regex.is_match(&shown)).then_some(collection)
        })
    }

    /// Recipe finalisation (spec §16.2) of `d`, which holds a parsed recipe
    /// and its appends: deferred inherits, key expansion, anonymous python,
    /// `DEPENDS` and `[depends]` normalisation, task set-up.
    pub fn finalise(&self, d: &mut DataStore, recipe: &Path) -> Result<Outcome, EvalError> {
        match self.finalise_steps(d, recipe) {
            Ok(()) => Ok(Outcome::Parsed),
            Err(PythonFailure::Skip(reason)) => Ok(Outcome::Skipped(reason)),
            Err(failure) => Err(failure.into_eval_error(recipe)),
        }
    }

    /// Fires a parse event when there is an interpreter to run handlers.
    fn fire(
        &self,
        d: &mut DataStore,
        event: &str,
        recipe: &Path,
        args: &[String],
    ) -> Result<(), PythonFailure> {
        match &self.python {
            Some(python) => python.fire_event(event, &recipe.display().to_string(), args, d),
            None => Ok(()),
        }
    }

    /// The steps of spec §16.2, in order; a skip or an error stops them.
    fn finalise_steps(&self, d: &mut DataStore, recipe: &Path) -> Result<(), PythonFailure> {
        let fail = |e: &dyn std::fmt::Display| PythonFailure::error(e.to_string());
        let inherits: Vec<String> = d
            .list_var("__BBDEFINHERITS")
            .iter()
            .map(|e| decode_deferred(e).0)
            .collect();
        self.fire(d, "RecipePreDeferredInherits", recipe, &inherits)?;
        loop {
            let mut queue = d.list_var("__BBDEFINHERITS");
            if queue.is_empty() {
                break;
            }
            let entry = queue.remove(0);
            d.set_list_var("__BBDEFINHERITS", queue);
            let (classes, file, line) = decode_deferred(&entry);
            self.inherit(d, &classes, Path::new(&file), line, true)
                .map_err(|e| PythonFailure::Error {
                    message: e.message,
                    file: Some(e.path.display().to_string()),
                    line: e.line,
                })?;
        }
        for handler in d.list_var("__BBHANDLERS") {
            if d.raw_flag(&handler, "filename").is_none() {
                return Err(PythonFailure::error(format!(
                    "Undefined event handler function '{handler}'"
                )));
            }
        }
        self.fire(d, "RecipePreFinalise", recipe, &[])?;
        expand_keys(d).map_err(|e| fail(&e))?;
        self.fire(d, "RecipePostKeyExpansion", recipe, &[])?;
        self.run_anonymous_functions(d)?;
        let tasks = d.list_var("__BBTASKS");
        self.fire(d, "RecipeTaskPreProcess", recipe, &tasks)?;
        normalise_depends(d, &tasks).map_err(PythonFailure::error)?;
        match &self.python {
            Some(python) => python.add_tasks(&tasks, d)?,
            None => {
                for task in &tasks {
                    let expanded = d.expand(task).map_err(|e| fail(&e))?;
                    d.set_var_flag(&expanded, "task", FlagValue::Int(1));
                }
            }
        }
        set_bbincluded(d);
        self.fire(d, "RecipeParsed", recipe, &[])?;
        Ok(())
    }

    /// Runs the datastore's anonymous python functions, in the order they
    /// were defined (spec §11.4).
    pub fn run_anonymous_functions(&self, d: &mut DataStore) -> Result<(), PythonFailure> {
        let anonymous: Vec<super::AnonymousFunction> = d
            .list_var("__BBANONFUNCS")
            .into_iter()
            .map(|name| super::AnonymousFunction {
                code: d.raw_value(&name).unwrap_or_default().to_string(),
                file: d
                    .raw_flag(&name, "filename")
                    .map(FlagValue::to_python_str)
                    .unwrap_or_default(),
                // The `def` line sits on the header's line.
                line: d
                    .raw_flag(&name, "lineno")
                    .map(FlagValue::to_python_str)
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(1),
                name,
            })
            .collect();
        if anonymous.is_empty() {
            return Ok(());
        }
        let Some(python) = &self.python else {
            return Err(PythonFailure::error(
                "anonymous python functions need the embedded interpreter",
            ));
        };
        python.run_anonymous(&anonymous, d)
    }

    /// Fires `ConfigParsed` on the configuration datastore (the cooker's
    /// step after parsing the configuration, spec §14.1).
    pub fn config_parsed(&self, d: &mut DataStore, bitbake_conf: &Path) -> Result<(), EvalError> {
        self.fire(d, "ConfigParsed", bitbake_conf, &[])
            .map_err(|failure| failure.into_eval_error(bitbake_conf))
    }
}

impl PythonFailure {
    /// The failure as an evaluation error, placed at the innermost metadata
    /// line of the traceback, or in `file` when there is none.
    pub fn into_eval_error(self, file: &Path) -> EvalError {
        match self {
            PythonFailure::Skip(reason) => EvalError {
                path: file.to_path_buf(),
                line: 0,
                message: format!("SkipRecipe raised where no recipe can be skipped: {reason}"),
            },
            PythonFailure::Error {
                message,
                file: at,
                line,
            } => EvalError {
                path: at.map(PathBuf::from).unwrap_or_else(|| file.to_path_buf()),
                line,
                message,
            },
        }
    }
}

/// Records a file a datastore depends on: every file read and every path
/// looked at while searching (BitBake's `__depends`), absolute, once each.
/// A cache of the result is valid while none of these changes or appears.
pub fn mark_dependency(d: &mut DataStore, path: &Path) {
    let shown = absolute(path).display().to_string();
    let mut depends = d.list_var("__depends");
    if !depends.contains(&shown) {
        depends.push(shown);
        d.set_list_var("__depends", depends);
    }
}

/// `os.path.abspath`: relative to the current directory, `.` and `..`
/// resolved lexically.
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// `BBINCLUDED`: the configuration's dependencies, then the recipe's.
pub fn set_bbincluded(d: &mut DataStore) {
    let mut files = d.list_var("__base_depends");
    files.extend(d.list_var("__depends"));
    d.set_var_python("BBINCLUDED", files.join(" "));
}

fn poisoned(path: &Path) -> EvalError {
    EvalError {
        path: path.to_path_buf(),
        line: 0,
        message: "internal error: parse cache lock poisoned".into(),
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn encode_deferred(classes: &str, file: &Path, line: usize) -> String {
    format!("{classes}\u{0}{}\u{0}{line}", file.display())
}

fn decode_deferred(entry: &str) -> (String, String, usize) {
    let mut parts = entry.split('\u{0}');
    let classes = parts.next().unwrap_or("").to_string();
    let file = parts.next().unwrap_or("").to_string();
    let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
    (classes, file, line)
}

fn task_name(name: &str) -> String {
    if name.starts_with("do_") {
        name.to_string()
    } else {
        format!("do_{name}")
    }
}

/// `bb.build.addtask` (spec §12.1).
pub fn add_task(d: &mut DataStore, task: &str, before: &[String], after: &[String]) {
    let task = task_name(task);
    d.set_var_flag(&task, "task", FlagValue::Int(1));
    let mut tasks = d.list_var("__BBTASKS");
    if !tasks.contains(&task) {
        tasks.push(task.clone());
        d.set_list_var("__BBTASKS", tasks);
    }
    let mut deps = d.list_flag(&task, "deps");
    for entry in after {
        let entry = task_name(entry);
        if !deps.contains(&entry) {
            deps.push(entry);
        }
    }
    d.set_var_flag(&task, "deps", FlagValue::List(deps));
    for entry in before {
        let entry = task_name(entry);
        let mut deps = d.list_flag(&entry, "deps");
        if !deps.contains(&task) {
            deps.insert(0, task.clone());
            d.set_var_flag(&entry, "deps", FlagValue::List(deps));
        }
    }
}

/// `bb.build.deltask` (spec §12.2).
pub fn del_task(d: &mut DataStore, task: &str) {
    let task = task_name(task);
    let mut tasks = d.list_var("__BBTASKS");
    if let Some(idx) = tasks.iter().position(|t| *t == task) {
        tasks.remove(idx);
        d.del_var_flag(&task, "task");
        d.set_list_var("__BBTASKS", tasks);
    }
    d.del_var_flag(&task, "deps");
    for other in d.list_var("__BBTASKS") {
        let mut deps = d.list_flag(&other, "deps");
        if let Some(idx) = deps.iter().position(|t| *t == task) {
            deps.remove(idx);
            d.set_var_flag(&other, "deps", FlagValue::List(deps));
        }
    }
}

/// Key expansion (spec §16.3): names holding `${` are expanded and the
/// variables renamed, in sorted order of the original names.
pub fn expand_keys(d: &mut DataStore) -> Result<(), super::ExpansionError> {
    // BitBake walks every key here, which settles OVERRIDES first (and
    // fails if it never settles, spec §5.1).
    d.overrides_checked()?;
    let mut renames = Vec::new();
    for name in d.names_with_references() {
        let expanded = d.expand(&name)?;
        if expanded != name {
            renames.push((name, expanded));
        }
    }
    for (old, new) in renames {
        d.rename_var(&old, &new);
    }
    Ok(())
}

/// `DEPENDS` and task `[depends]` normalisation (spec §16.5).
fn normalise_depends(d: &mut DataStore, tasks: &[String]) -> Result<(), String> {
    let virtual_providers: Vec<String> = d
        .get_var("BB_RECIPE_VIRTUAL_PROVIDERS")
        .map_err(|e| e.to_string())?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let remap = |d: &DataStore, name: &str| -> Result<String, String> {
        if !virtual_providers.iter().any(|v| v == name) {
            return Ok(name.to_string());
        }
        match d
            .get_var(&format!("PREFERRED_PROVIDER_{name}"))
            .map_err(|e| e.to_string())?
        {
            Some(p) if !p.is_empty() => Ok(p),
            _ => Err(format!(
                "Error, recipe virtual provider PREFERRED_PROVIDER_{name} not set"
            )),
        }
    };
    let depends = d
        .get_var("DEPENDS")
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let mut new_depends = Vec::new();
    for dep in depends.split_whitespace() {
        new_depends.push(remap(d, dep)?);
    }
    d.set_var_python("DEPENDS", new_depends.join(" "));
    for task in tasks {
        let flag = d
            .get_var_flag(task, "depends")
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let mut remapped = Vec::new();
        for entry in flag.split_whitespace() {
            let parts: Vec<&str> = entry.split(':').collect();
            let [recipe, task_part] = parts.as_slice() else {
                return Err(format!(
                    "task {task}: dependency `{entry}` must have the form recipe:task (ValueError in BitBake)"
                ));
            };
            remapped.push(format!("{}:{task_part}", remap(d, recipe)?));
        }
        d.set_var_flag(task, "depends", FlagValue::Text(remapped.join(" ")));
    }
    Ok(())
}
