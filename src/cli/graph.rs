//! `bitzel graph`: the task graph of targets, written as `bitbake -g`
//! writes it (`task-depends.dot`, `pn-buildlist` in the current
//! directory) or printed as JSON; with `--write-signatures`, each task's
//! signature is recorded as `bitbake -S none` does, for `bitzel explain`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::args::{GraphArgs, GraphFormat};
use crate::datastore::python::EmbeddedPython;
use crate::datastore::{ConfigInput, Evaluator, FsLoader};
use crate::graph::runqueue::Request;
use crate::graph::sigdata::{SigRecord, SigStore};
use crate::graph::taskhash::{FileChecksums, TaskHashInputs};
use crate::graph::{self, RecipeSet, TaskData, TaskGraph, output};
use crate::recipe::parse_all::parse_all;
use crate::recipe::target::TargetEvaluator;
use crate::signature::basehash::{RecipeSignatures, recipe_signatures};

/// A computed graph and everything that went into it.
pub(super) struct Loaded {
    pub topdir: PathBuf,
    pub evaluator: Evaluator,
    pub input: ConfigInput,
    pub set: RecipeSet,
    pub graph: TaskGraph,
    /// `pn.do_task` of each task.
    pub names: Vec<String>,
    pub hashes: Vec<TaskHashInputs>,
}

/// Requests from `TARGET` or `TARGET:do_TASK` words and a default task.
fn requests(targets: &[String], task: &str) -> Vec<Request> {
    targets
        .iter()
        .map(|target| {
            let (target, task) = match target.split_once(":do_") {
                Some((target, task)) => (target, task.to_string()),
                None => (target.as_str(), task.to_string()),
            };
            let task = if task.starts_with("do_") {
                task
            } else {
                format!("do_{task}")
            };
            Request {
                target: target.to_string(),
                task,
            }
        })
        .collect()
}

/// Parses (through the cache), resolves providers and builds the graph of
/// `targets`. `Ok(None)`: the metadata failed, errors printed.
pub(super) fn load(targets: &[String], task: Option<&str>) -> Result<Option<Loaded>> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let topdir = ConfigInput::find_topdir(&cwd);
    let python = EmbeddedPython::lazy();
    let evaluator = Evaluator::new(Arc::new(FsLoader), Some(python));
    let cache_file = topdir.join("cache/bitzel/parse.cache");
    let input = ConfigInput {
        topdir: topdir.clone(),
        env: std::env::vars().collect(),
    };
    let all = match parse_all(
        &evaluator,
        &input,
        0,
        std::env::current_exe().ok().as_deref(),
        Some(&cache_file),
    ) {
        Ok(all) => all,
        Err(error) => {
            super::print_eval_error(&error);
            return Ok(None);
        }
    };
    let mut parse_failed = false;
    for recipe in &all.recipes {
        if let Err(error) = &recipe.targets {
            super::print_eval_error(error);
            parse_failed = true;
        }
    }
    if parse_failed {
        return Ok(None);
    }
    let set = graph::recipe_set(all);
    let default_task = set
        .config
        .get("BB_DEFAULT_TASK")
        .cloned()
        .unwrap_or_else(|| "build".to_string());
    let requests = requests(targets, task.unwrap_or(&default_task));

    let task_graph = {
        let mut data = TaskData::new(&set, false);
        let mut result = Ok(());
        for request in &requests {
            result = data.add_target(&request.target);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = data.add_unresolved();
        }
        for warning in &data.warnings {
            eprintln!("warning: {warning}");
        }
        if let Err(error) = result {
            for message in &data.errors {
                eprintln!("error: {message}");
            }
            eprintln!("error: {error}");
            return Ok(None);
        }
        match graph::runqueue::build(&data, &requests) {
            Ok(g) => g,
            Err(error) => {
                eprintln!("error: {error}");
                return Ok(None);
            }
        }
    };
    let names = output::node_names(&set, &task_graph);
    let hashes = graph::taskhash::task_hashes(&set, &task_graph, &names, &FileChecksums::default());
    Ok(Some(Loaded {
        topdir,
        evaluator,
        input,
        set,
        graph: task_graph,
        names,
        hashes,
    }))
}

/// Full signature data of recipes, evaluated on demand (a graph from the
/// cache has base hashes only), one evaluation per recipe file.
pub(super) struct RecipeValues<'l> {
    targets: TargetEvaluator<'l>,
    done: HashMap<String, Result<RecipeSignatures, String>>,
}

impl<'l> RecipeValues<'l> {
    pub fn new(loaded: &'l Loaded) -> RecipeValues<'l> {
        RecipeValues {
            targets: TargetEvaluator::new(&loaded.evaluator, &loaded.input),
            done: HashMap::new(),
        }
    }

    /// The signature data of the target named `file` (`FILE` or
    /// `virtual:VARIANT:FILE`).
    pub fn signatures(&mut self, file: &str) -> &Result<RecipeSignatures, String> {
        if !self.done.contains_key(file) {
            let result = self
                .targets
                .evaluate(file)
                .and_then(|mut d| recipe_signatures(&mut d).map_err(|e| e.to_string()));
            self.done.insert(file.to_string(), result);
        }
        &self.done[file]
    }
}

/// Records every task's signature, with the values behind its base hash.
fn write_signatures(loaded: &Loaded, out: &mut dyn Write) -> Result<()> {
    let store = SigStore::new(&loaded.topdir);
    let names = &loaded.names;
    let mut values = RecipeValues::new(loaded);
    let mut written = 0;
    for (id, node) in loaded.graph.tasks.iter().enumerate() {
        let recipe = loaded.set.recipe(node.recipe);
        let task = &recipe.info.tasks[node.task as usize];
        let task_values = match values.signatures(&recipe.file) {
            Ok(signatures) => signatures.task_values(&task.name),
            Err(message) => anyhow::bail!("{message}"),
        };
        store
            .save(&SigRecord {
                task: names[id].clone(),
                inputs: loaded.hashes[id].clone(),
                values: task_values,
            })
            .with_context(|| format!("cannot record the signature of {}", names[id]))?;
        written += 1;
    }
    writeln!(
        out,
        "recorded {written} task signatures in {}",
        Path::new("cache/bitzel/sigdata").display()
    )?;
    Ok(())
}

/// `Ok(false)` when the metadata does not give a graph (errors printed).
pub fn run(args: &GraphArgs, out: &mut dyn Write) -> Result<bool> {
    let Some(loaded) = load(&args.targets, args.task.as_deref())? else {
        return Ok(false);
    };
    let (set, task_graph) = (&loaded.set, &loaded.graph);
    match args.format {
        GraphFormat::Dot => {
            write_file(
                "task-depends.dot",
                &output::task_depends_dot(set, task_graph, &loaded.names),
            )?;
            write_file("pn-buildlist", &output::pn_buildlist(set, task_graph))?;
            writeln!(
                out,
                "{} tasks, {} edges: task-depends.dot, pn-buildlist",
                task_graph.len(),
                task_graph.n_edges()
            )?;
            if args.svg {
                render_svg(out)?;
            }
        }
        GraphFormat::Json => {
            serde_json::to_writer_pretty(
                &mut *out,
                &output::json(set, task_graph, &loaded.names, &loaded.hashes),
            )?;
            writeln!(out)?;
        }
    }
    if args.write_signatures {
        write_signatures(&loaded, out)?;
    }
    Ok(true)
}

/// Writes through a temporary file, so a reader never sees half a graph.
fn write_file(name: &str, text: &str) -> Result<()> {
    let temp = format!(".{name}.tmp.{}", std::process::id());
    std::fs::write(&temp, text).with_context(|| format!("cannot write `{temp}`"))?;
    std::fs::rename(&temp, name).with_context(|| format!("cannot write `{name}`"))?;
    Ok(())
}

/// `task-depends.svg` with Graphviz, when `dot` is installed.
fn render_svg(out: &mut dyn Write) -> Result<()> {
    let status = std::process::Command::new("dot")
        .args(["-Tsvg", "-o", "task-depends.svg", "task-depends.dot"])
        .status();
    match status {
        Ok(s) if s.success() => writeln!(out, "rendered task-depends.svg")?,
        Ok(s) => eprintln!("warning: Graphviz `dot` failed ({s}); no SVG written"),
        Err(_) => eprintln!("warning: Graphviz `dot` is not installed; no SVG written"),
    }
    Ok(())
}
