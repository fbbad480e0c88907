//! `bitzel explain TARGET:do_TASK`: why a task will run again (what
//! `bitbake-diffsigs` tells, built in). The task's current signature is
//! compared with the one recorded when it last ran (or was recorded with
//! `bitzel graph --write-signatures`); changed variables are named with
//! their old and new values, changed files and dependencies are named, and
//! a changed dependency is explained in turn.

use std::collections::HashSet;
use std::io::Write;

use anyhow::{Result, bail};
use serde::Serialize;

use super::args::ExplainArgs;
use super::graph::{Loaded, RecipeValues, load};
use crate::graph::sigdata::{Change, SigStore, compare, render};

#[derive(Serialize)]
struct JsonExplain {
    task: String,
    taskhash: String,
    /// `never_built`, `unchanged` or `changed`.
    status: &'static str,
    changes: Vec<Change>,
}

/// How deep to follow changed dependencies.
const MAX_DEPTH: usize = 16;

struct Explainer<'l> {
    loaded: &'l Loaded,
    names: Vec<String>,
    store: SigStore,
    values: RecipeValues<'l>,
    seen: HashSet<usize>,
}

impl Explainer<'_> {
    fn id_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The changes of task `id` against its record (`None`: no record).
    fn explain(&mut self, id: usize, depth: usize) -> Option<Vec<Change>> {
        let record = self.store.load(&self.names[id])?;
        let inputs = &self.loaded.hashes[id];
        if record.inputs.taskhash == inputs.taskhash && inputs.taint.is_none() {
            return Some(Vec::new());
        }
        let node = &self.loaded.graph.tasks[id];
        let recipe = self.loaded.set.recipe(node.recipe);
        let task = &recipe.info.tasks[node.task as usize];
        let current_values = if record.inputs.basehash != inputs.basehash {
            match self.values.signatures(&recipe.file) {
                Ok(signatures) => Some(signatures.task_values(&task.name)),
                Err(message) => {
                    eprintln!("warning: cannot evaluate {}: {message}", recipe.file);
                    None
                }
            }
        } else {
            None
        };
        let mut changes = compare(&record, inputs, current_values.as_ref());
        for change in &mut changes {
            if let Change::Dependency { task, why } = change {
                let Some(dep) = self.id_of(task) else {
                    continue;
                };
                if depth >= MAX_DEPTH || !self.seen.insert(dep) {
                    continue;
                }
                *why = self
                    .explain(dep, depth + 1)
                    .unwrap_or_else(|| vec![Change::NeverBuilt { task: task.clone() }]);
            }
        }
        Some(changes)
    }
}

pub fn run(args: &ExplainArgs, out: &mut dyn Write) -> Result<bool> {
    let Some((target, task)) = args.task.split_once(":do_") else {
        bail!("give the task as TARGET:do_TASK (e.g. zlib:do_compile)");
    };
    let task = format!("do_{task}");
    let Some(loaded) = load(&[target.to_string()], Some(&task))? else {
        return Ok(false);
    };
    let names = loaded.names.clone();
    let Some(&root) = loaded.graph.roots.first() else {
        bail!("{target} has no task {task}");
    };
    let root = root as usize;
    let name = names[root].clone();
    let taskhash = loaded.hashes[root].taskhash.clone();
    let mut explainer = Explainer {
        loaded: &loaded,
        names,
        store: SigStore::new(&loaded.topdir),
        values: RecipeValues::new(&loaded),
        seen: HashSet::new(),
    };
    let result = explainer.explain(root, 0);
    let (status, changes) = match result {
        None => ("never_built", Vec::new()),
        Some(changes) if changes.is_empty() => ("unchanged", changes),
        Some(changes) => ("changed", changes),
    };
    if args.json {
        serde_json::to_writer_pretty(
            &mut *out,
            &JsonExplain {
                task: name,
                taskhash,
                status,
                changes,
            },
        )?;
        writeln!(out)?;
        return Ok(true);
    }
    match status {
        "never_built" => writeln!(
            out,
            "{name} will run: it has no recorded signature here (never built)"
        )?,
        "unchanged" => writeln!(
            out,
            "{name} will not run: its signature is unchanged ({})",
            &taskhash[..16]
        )?,
        _ => {
            writeln!(out, "{name} will run again, because:")?;
            let mut lines = Vec::new();
            render(&changes, 0, &mut lines);
            for line in lines {
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(true)
}
