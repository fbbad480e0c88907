//! Writing a task graph the way `bitbake -g` does (`task-depends.dot`,
//! `pn-buildlist`), so the two can be diffed, and as JSON for tools.
//!
//! Invariant: output is sorted by node name, as BitBake's is, so it is
//! byte-for-byte stable.

use std::collections::BTreeMap;

use serde::Serialize;

use super::taskhash::TaskHashInputs;
use super::{RecipeSet, TaskGraph};

/// `pn.do_task` for each task.
pub fn node_names(set: &RecipeSet, graph: &TaskGraph) -> Vec<String> {
    graph
        .tasks
        .iter()
        .map(|node| {
            let info = &set.recipe(node.recipe).info;
            format!("{}.{}", info.pn, info.tasks[node.task as usize].name)
        })
        .collect()
}

/// The contents of `task-depends.dot`.
/// `names` are [`node_names`].
pub fn task_depends_dot(set: &RecipeSet, graph: &TaskGraph, names: &[String]) -> String {
    let mut nodes: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, name) in names.iter().enumerate() {
        nodes.insert(name, id);
    }
    let mut out = String::from("digraph depends {\n");
    for (name, &id) in &nodes {
        let node = &graph.tasks[id];
        let recipe = set.recipe(node.recipe);
        let info = &recipe.info;
        out.push_str(&format!(
            "\"{name}\" [label=\"{} {}\\n{}\\n{}\"]\n",
            info.pn,
            info.tasks[node.task as usize].name,
            info.version_label(),
            recipe.file
        ));
        let mut deps: Vec<&str> = graph
            .deps(id as u32)
            .iter()
            .map(|&d| names[d as usize].as_str())
            .collect();
        deps.sort_unstable();
        for dep in deps {
            out.push_str(&format!("\"{name}\" -> \"{dep}\"\n"));
        }
    }
    out.push_str("}\n");
    out
}

/// The contents of `pn-buildlist`: every recipe name in the graph, sorted.
pub fn pn_buildlist(set: &RecipeSet, graph: &TaskGraph) -> String {
    let mut pns: Vec<&str> = graph
        .tasks
        .iter()
        .map(|node| set.recipe(node.recipe).info.pn.as_str())
        .collect();
    pns.sort_unstable();
    pns.dedup();
    let mut out = pns.join("\n");
    out.push('\n');
    out
}

#[derive(Serialize)]
pub struct JsonNode {
    pub name: String,
    pub pn: String,
    pub task: String,
    pub version: String,
    pub file: String,
    pub deps: Vec<String>,
    pub basehash: String,
    pub taskhash: String,
}

#[derive(Serialize)]
pub struct JsonGraph {
    pub nodes: Vec<JsonNode>,
    pub edges: Vec<(String, String)>,
}

/// Nodes and edges, sorted by name.
pub fn json(
    set: &RecipeSet,
    graph: &TaskGraph,
    names: &[String],
    hashes: &[TaskHashInputs],
) -> JsonGraph {
    let mut nodes: Vec<JsonNode> = graph
        .tasks
        .iter()
        .enumerate()
        .map(|(id, node)| {
            let recipe = set.recipe(node.recipe);
            let mut deps: Vec<String> = graph
                .deps(id as u32)
                .iter()
                .map(|&d| names[d as usize].clone())
                .collect();
            deps.sort();
            JsonNode {
                name: names[id].clone(),
                pn: recipe.info.pn.clone(),
                task: recipe.info.tasks[node.task as usize].name.clone(),
                version: recipe.info.version_label(),
                file: recipe.file.clone(),
                deps,
                basehash: hashes
                    .get(id)
                    .map(|h| h.basehash.clone())
                    .unwrap_or_default(),
                taskhash: hashes
                    .get(id)
                    .map(|h| h.taskhash.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let edges = nodes
        .iter()
        .flat_map(|n| n.deps.iter().map(|d| (n.name.clone(), d.clone())))
        .collect();
    JsonGraph { nodes, edges }
}
