//! The flat task graph of a build (BitBake's runqueue preparation): every
//! task of every needed recipe gets a dense id, its dependencies come from
//! `addtask` order, `[deptask]`, `[rdeptask]`, `[depends]`, `[rdepends]`
//! and the recursive `[recrdeptask]`/`[recideptask]`, and only tasks
//! reachable from the requested ones are kept.
//!
//! Invariants: ids are assigned in (recipe file, task order) order, so the
//! same metadata always gives the same ids; edges are stored as a CSR
//! adjacency (`offsets`, `targets`), each task's dependencies sorted.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::taskdata::{GraphError, TaskData};

/// A task's index in [`TaskGraph::tasks`].
pub type TaskId = u32;

/// One task of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNode {
    /// The recipe's index in the [`super::RecipeSet`].
    pub recipe: u32,
    /// The task's index in that recipe's `RecipeInfo::tasks`.
    pub task: u32,
}

/// The tasks of a build and their dependencies.
#[derive(Debug, Clone, Default)]
pub struct TaskGraph {
    pub tasks: Vec<TaskNode>,
    /// Dependencies of task `i`: `targets[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    targets: Vec<TaskId>,
    /// The requested tasks.
    pub roots: Vec<TaskId>,
}

impl TaskGraph {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The tasks `task` depends on, sorted by id.
    pub fn deps(&self, task: TaskId) -> &[TaskId] {
        let start = self.offsets[task as usize] as usize;
        let end = self.offsets[task as usize + 1] as usize;
        &self.targets[start..end]
    }

    pub fn n_edges(&self) -> usize {
        self.targets.len()
    }

    /// Task ids in an order where every task comes after its
    /// dependencies.
    pub fn topological_order(&self) -> Vec<TaskId> {
        let n = self.tasks.len();
        let mut remaining: Vec<u32> = (0..n)
            .map(|t| self.deps(t as TaskId).len() as u32)
            .collect();
        let mut dependents: Vec<Vec<TaskId>> = vec![Vec::new(); n];
        for t in 0..n {
            for &d in self.deps(t as TaskId) {
                dependents[d as usize].push(t as TaskId);
            }
        }
        let mut ready: Vec<TaskId> = (0..n as TaskId)
            .filter(|&t| remaining[t as usize] == 0)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(t) = ready.pop() {
            order.push(t);
            for &dependent in &dependents[t as usize] {
                remaining[dependent as usize] -= 1;
                if remaining[dependent as usize] == 0 {
                    ready.push(dependent);
                }
            }
        }
        order
    }
}

/// A fixed-size set of small integers.
#[derive(Clone)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(n: usize) -> BitSet {
        BitSet(vec![0; n.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn union(&mut self, other: &BitSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }
}

/// A task requested on the command line: a name something provides and a
/// task name (`do_` prefixed).
#[derive(Debug, Clone)]
pub struct Request {
    pub target: String,
    pub task: String,
}

/// Builds the graph of `requests` from resolved task data (BitBake's
/// `RunQueueData.prepare`).
pub fn build(data: &TaskData, requests: &[Request]) -> Result<TaskGraph, GraphError> {
    let set = data.set;
    // Dense ids over the recipes that were added and did not fail.
    let mut recipes: Vec<u32> = data
        .added
        .iter()
        .copied()
        .filter(|&r| !data.is_failed(r))
        .collect();
    recipes.sort();
    let mut base: HashMap<u32, u32> = HashMap::new();
    let mut all: Vec<TaskNode> = Vec::new();
    for &recipe in &recipes {
        base.insert(recipe, all.len() as u32);
        for task in 0..set.recipe(recipe).info.tasks.len() {
            all.push(TaskNode {
                recipe,
                task: task as u32,
            });
        }
    }
    // Task name -> id, per recipe: lookups by name are the hot path of
    // the recursive dependencies.
    let by_name: HashMap<u32, rustc_hash::FxHashMap<&str, TaskId>> = recipes
        .iter()
        .map(|&recipe| {
            let first = base[&recipe];
            let names = set
                .recipe(recipe)
                .info
                .tasks
                .iter()
                .enumerate()
                .map(|(i, t)| (t.name.as_str(), first + i as u32))
                .collect();
            (recipe, names)
        })
        .collect();
    let task_id =
        |recipe: u32, name: &str| -> Option<TaskId> { by_name.get(&recipe)?.get(name).copied() };
    let n = all.len();
    let mut depends: Vec<BTreeSet<TaskId>> = vec![BTreeSet::new(); n];
    let mut recursive: BTreeMap<TaskId, Vec<String>> = BTreeMap::new();
    let mut recursive_inspect: HashMap<TaskId, Vec<Option<TaskId>>> = HashMap::new();
    let mut self_referencing: BTreeSet<TaskId> = BTreeSet::new();

    let add_build = |names: &[String], tasks: &[&str], out: &mut BTreeSet<TaskId>| {
        for name in names {
            if let Some(provider) = data.build_provider(name) {
                for task in tasks {
                    if let Some(t) = task_id(provider, task) {
                        out.insert(t);
                    }
                }
            }
        }
    };
    let add_runtime = |names: &[String], tasks: &[&str], out: &mut BTreeSet<TaskId>| {
        for name in names {
            if let Some(provider) = data.run_provider(name) {
                for task in tasks {
                    if let Some(t) = task_id(provider, task) {
                        out.insert(t);
                    }
                }
            }
        }
    };

    for (id, node) in all.iter().enumerate() {
        let id = id as TaskId;
        let recipe = set.recipe(node.recipe);
        let info = &recipe.info;
        let task = &info.tasks[node.task as usize];
        let out = &mut depends[id as usize];
        for parent in &task.after {
            if let Some(t) = task_id(node.recipe, parent) {
                out.insert(t);
            }
        }
        let deptask = task.flag_words("deptask");
        if !deptask.is_empty() {
            add_build(data.depends_of(node.recipe), &deptask, out);
        }
        let rdeptask = task.flag_words("rdeptask");
        if !rdeptask.is_empty() {
            add_runtime(data.rdepends_of(node.recipe), &rdeptask, out);
        }
        for (runtime, entries) in [
            (false, data.idepends_of(node.recipe)),
            (true, data.irdepends_of(node.recipe)),
        ] {
            for (owner, name, dep_task) in entries {
                if owner != &task.name {
                    continue;
                }
                if dep_task.is_empty() || dep_task.contains(':') {
                    let flag = if runtime { "rdepends" } else { "depends" };
                    return Err(GraphError::Metadata(format!(
                        "{}: {}[{flag}]: dependency `{name}:{dep_task}` must have the form `recipe:task` (exactly one ':')",
                        recipe.file, task.name
                    )));
                }
                let provider = if runtime {
                    data.run_provider(name)
                } else if data.is_failed_dep(name) {
                    None
                } else {
                    data.build_provider(name)
                };
                if let Some(provider) = provider {
                    match task_id(provider, dep_task) {
                        Some(t) => {
                            out.insert(t);
                        }
                        None => {
                            return Err(GraphError::Metadata(format!(
                                "task {} in {} depends upon non-existent task {dep_task} in {}",
                                task.name,
                                recipe.file,
                                set.recipe(provider).file
                            )));
                        }
                    }
                }
            }
        }
        let recrdeptask = task.flag_words("recrdeptask");
        if !recrdeptask.is_empty() {
            recursive.insert(id, recrdeptask.iter().map(|s| s.to_string()).collect());
            add_build(data.depends_of(node.recipe), &recrdeptask, out);
            add_runtime(data.rdepends_of(node.recipe), &recrdeptask, out);
            if recrdeptask.contains(&task.name.as_str()) {
                self_referencing.insert(id);
            }
            let inspect = task.flag_words("recideptask");
            if !inspect.is_empty() {
                recursive_inspect.insert(
                    id,
                    inspect.iter().map(|t| task_id(node.recipe, t)).collect(),
                );
            }
        }
        out.remove(&id);
    }

    // For each task, the recipes of every task it reaches
    // (`cumulativedeps`), computed leaves first.
    let index_of: HashMap<u32, usize> = recipes.iter().enumerate().map(|(i, &r)| (r, i)).collect();
    let mut cumulative: Vec<BitSet> = vec![BitSet::new(recipes.len()); n];
    {
        let mut remaining: Vec<usize> = depends.iter().map(BTreeSet::len).collect();
        let mut dependents: Vec<Vec<TaskId>> = vec![Vec::new(); n];
        for (t, deps) in depends.iter().enumerate() {
            for &d in deps {
                dependents[d as usize].push(t as TaskId);
            }
        }
        let mut ready: Vec<TaskId> = (0..n as TaskId)
            .filter(|&t| remaining[t as usize] == 0)
            .collect();
        while let Some(t) = ready.pop() {
            let own = index_of[&all[t as usize].recipe];
            let reached = cumulative[t as usize].clone();
            for &dependent in &dependents[t as usize] {
                let set = &mut cumulative[dependent as usize];
                set.insert(own);
                set.union(&reached);
                remaining[dependent as usize] -= 1;
                if remaining[dependent as usize] == 0 {
                    ready.push(dependent);
                }
            }
        }
    }

    // Recursive dependencies, to a fixed point.
    loop {
        let mut added = 0usize;
        for (&id, names) in &recursive {
            let mut total: BTreeSet<TaskId> = depends[id as usize].clone();
            if let Some(inspect) = recursive_inspect.get(&id) {
                for t in inspect.iter().flatten() {
                    total.insert(*t);
                    total.extend(depends[*t as usize].iter().copied());
                }
            }
            let mut reached = BitSet::new(recipes.len());
            for &dep in &total {
                reached.union(&cumulative[dep as usize]);
            }
            let mut new: Vec<TaskId> = Vec::new();
            for r in reached.iter() {
                for name in names {
                    if let Some(t) = task_id(recipes[r], name)
                        && t != id
                        && !depends[id as usize].contains(&t)
                    {
                        new.push(t);
                    }
                }
            }
            let mut inherited: BTreeSet<TaskId> = BTreeSet::new();
            for dep in depends[id as usize].iter() {
                if recursive.contains_key(dep) {
                    for t in &depends[*dep as usize] {
                        if !depends[id as usize].contains(t) {
                            inherited.insert(*t);
                        }
                    }
                }
            }
            for t in inherited {
                let node = &all[t as usize];
                let name = &set.recipe(node.recipe).info.tasks[node.task as usize].name;
                if names.iter().any(|n| n == name) {
                    new.push(t);
                }
            }
            for t in new {
                if depends[id as usize].insert(t) {
                    added += 1;
                }
            }
        }
        if added == 0 {
            break;
        }
    }
    for &id in &self_referencing {
        let deps = &mut depends[id as usize];
        deps.retain(|t| !self_referencing.contains(t));
    }

    // The requested tasks and everything they reach.
    let mut roots = Vec::new();
    for request in requests {
        let Some(provider) = data.build_provider(&request.target) else {
            continue;
        };
        if data.is_failed(provider) {
            continue;
        }
        let (task_name, parents_only) = match request.task.strip_suffix('-') {
            Some(task) => (task, true),
            None => (request.task.as_str(), false),
        };
        let Some(id) = task_id(provider, task_name) else {
            let recipe = set.recipe(provider);
            return Err(GraphError::Metadata(format!(
                "task {task_name} does not exist for target {} ({})",
                request.target, recipe.file
            )));
        };
        if parents_only {
            roots.extend(depends[id as usize].iter().copied());
        } else {
            roots.push(id);
        }
    }
    let mut active = vec![false; n];
    let mut stack = roots.clone();
    while let Some(t) = stack.pop() {
        if std::mem::replace(&mut active[t as usize], true) {
            continue;
        }
        stack.extend(depends[t as usize].iter().copied());
    }

    // Renumber the active tasks densely, keeping their order.
    let mut new_id: Vec<Option<TaskId>> = vec![None; n];
    let mut tasks = Vec::new();
    for (old, node) in all.into_iter().enumerate() {
        if active[old] {
            new_id[old] = Some(tasks.len() as TaskId);
            tasks.push(node);
        }
    }
    let mut offsets = Vec::with_capacity(tasks.len() + 1);
    let mut targets = Vec::new();
    offsets.push(0);
    for (old, deps) in depends.iter().enumerate() {
        if !active[old] {
            continue;
        }
        let mut mapped: Vec<TaskId> = deps.iter().filter_map(|&d| new_id[d as usize]).collect();
        mapped.sort_unstable();
        targets.extend(mapped);
        offsets.push(targets.len() as u32);
    }
    let mut roots: Vec<TaskId> = roots.iter().filter_map(|&r| new_id[r as usize]).collect();
    roots.sort_unstable();
    roots.dedup();
    let graph = TaskGraph {
        tasks,
        offsets,
        targets,
        roots,
    };
    if graph.topological_order().len() != graph.len() {
        return Err(GraphError::Metadata(
            "the task graph has a circular dependency".to_string(),
        ));
    }
    Ok(graph)
}
