//! `bitzel graph`: the task graph of targets, written as `bitbake -g`
//! writes it (`task-depends.dot`, `pn-buildlist` in the current
//! directory) or printed as JSON.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::args::{GraphArgs, GraphFormat};
use crate::datastore::python::EmbeddedPython;
use crate::datastore::{ConfigInput, Evaluator, FsLoader};
use crate::graph::runqueue::Request;
use crate::graph::{self, TaskData, output};
use crate::recipe::parse_all::parse_all;

/// `Ok(false)` when the metadata does not give a graph (errors printed).
pub fn run(args: &GraphArgs, out: &mut dyn Write) -> Result<bool> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let topdir = ConfigInput::find_topdir(&cwd);
    let python = EmbeddedPython::start().map_err(anyhow::Error::msg)?;
    let evaluator = Evaluator::new(Arc::new(FsLoader), Some(python));
    let cache_file = topdir.join("cache/bitzel/parse.json");
    let input = ConfigInput {
        topdir: topdir.clone(),
        env: std::env::vars().collect(),
    };
    let all = match parse_all(&evaluator, &input, 0, Some(&cache_file)) {
        Ok(all) => all,
        Err(error) => {
            super::print_eval_error(&error);
            return Ok(false);
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
        return Ok(false);
    }
    let set = graph::recipe_set(&all);
    let default_task = set
        .config
        .get("BB_DEFAULT_TASK")
        .cloned()
        .unwrap_or_else(|| "build".to_string());
    let task = args.task.clone().unwrap_or(default_task);
    let requests: Vec<Request> = args
        .targets
        .iter()
        .map(|target| {
            let (target, task) = match target.split_once(":do_") {
                Some((target, task)) => (target, task.to_string()),
                None => (target.as_str(), task.clone()),
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
        .collect();

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
        return Ok(false);
    }
    let task_graph = match graph::runqueue::build(&data, &requests) {
        Ok(g) => g,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(false);
        }
    };
    let hashes = graph::taskhash::task_hashes(
        &set,
        &task_graph,
        &graph::taskhash::FileChecksums::default(),
    );
    match args.format {
        GraphFormat::Dot => {
            write_file(
                "task-depends.dot",
                &output::task_depends_dot(&set, &task_graph),
            )?;
            write_file("pn-buildlist", &output::pn_buildlist(&set, &task_graph))?;
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
            serde_json::to_writer_pretty(&mut *out, &output::json(&set, &task_graph, &hashes))?;
            writeln!(out)?;
        }
    }
    Ok(data.errors.is_empty())
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
