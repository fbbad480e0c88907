//! Which recipes a build needs: the targets asked for, then, transitively,
//! a provider for every `DEPENDS` and `[depends]` name and every
//! `RDEPENDS`/`RRECOMMENDS` name (BitBake's `TaskData`). A name nothing
//! provides makes the recipes that need it unbuildable, up the chain; when
//! that reaches a requested target the build cannot start, and the error
//! names the chain (`greet-app -> DEPENDS libgreet: nothing provides
//! libgreet`).
//!
//! Invariant: every provider list is in the order BitBake's would be, so
//! "the first provider" is BitBake's choice.

use std::collections::{HashMap, HashSet};

use super::RecipeSet;
use super::providers::{filter_providers, filter_providers_runtime};

/// Why the graph cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A requested target, or something it needs, has no provider.
    #[error("{0}")]
    NoProvider(String),
    /// Malformed task flags and similar metadata errors.
    #[error("{0}")]
    Metadata(String),
}

/// The names of a dependency chain from a requested target down to the
/// name nothing provides, with the reason at the bottom.
#[derive(Debug, Clone, Default)]
struct Chain {
    /// `(relation, name)`: e.g. `("DEPENDS", "libgreet")`.
    steps: Vec<(String, String)>,
    cause: String,
}

impl Chain {
    fn render(&self, top: &str) -> String {
        let mut text = top.to_string();
        for (relation, name) in &self.steps {
            text.push_str(&format!(" -> {relation} {name}"));
        }
        format!("{text}: {}", self.cause)
    }
}

/// A name → recipes map that remembers insertion order, as a Python dict.
#[derive(Debug, Default)]
struct Targets {
    order: Vec<String>,
    providers: HashMap<String, Vec<u32>>,
}

impl Targets {
    fn seen(&mut self, name: &str) {
        if !self.providers.contains_key(name) {
            self.order.push(name.to_string());
            self.providers.insert(name.to_string(), Vec::new());
        }
    }

    fn add(&mut self, recipe: u32, name: &str) {
        self.seen(name);
        if let Some(list) = self.providers.get_mut(name)
            && !list.contains(&recipe)
        {
            list.push(recipe);
        }
    }

    fn has(&self, name: &str) -> bool {
        self.providers.get(name).is_some_and(|l| !l.is_empty())
    }

    pub fn first(&self, name: &str) -> Option<u32> {
        self.providers.get(name).and_then(|l| l.first().copied())
    }
}

/// The recipes a build needs and the targets they provide.
pub struct TaskData<'s> {
    pub set: &'s RecipeSet,
    build_targets: Targets,
    run_targets: Targets,
    external: Vec<String>,
    /// Recipes whose tasks were added, in the order they were added.
    pub added: Vec<u32>,
    added_set: HashSet<u32>,
    /// Per added recipe: `DEPENDS` and run-time names.
    depids: HashMap<u32, Vec<String>>,
    rdepids: HashMap<u32, Vec<String>>,
    /// Per added recipe: `(task, name, task of name)` from `[depends]` and
    /// `[rdepends]`.
    idepends: HashMap<u32, Vec<(String, String, String)>>,
    irdepends: HashMap<u32, Vec<(String, String, String)>>,
    failed_deps: HashSet<String>,
    failed_rdeps: HashSet<String>,
    failed_fns: HashSet<u32>,
    ignored: Vec<String>,
    ignored_regex: HashMap<String, Option<fancy_regex::Regex>>,
    /// Keep going past missing providers (`bitbake -k`).
    allow_incomplete: bool,
    /// Messages BitBake prints as errors (missing providers) and notes.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    reported_multiple: HashSet<String>,
}

impl<'s> TaskData<'s> {
    pub fn new(set: &'s RecipeSet, allow_incomplete: bool) -> TaskData<'s> {
        let ignored: Vec<String> = set
            .config
            .get("ASSUME_PROVIDED")
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let ignored_regex = ignored
            .iter()
            .filter(|p: &&String| p.starts_with('^') || p.ends_with('$'))
            .map(|p| (p.clone(), super::python_regex(p)))
            .collect();
        TaskData {
            ignored_regex,
            set,
            build_targets: Targets::default(),
            run_targets: Targets::default(),
            external: Vec::new(),
            added: Vec::new(),
            added_set: HashSet::new(),
            depids: HashMap::new(),
            rdepids: HashMap::new(),
            idepends: HashMap::new(),
            irdepends: HashMap::new(),
            failed_deps: HashSet::new(),
            failed_rdeps: HashSet::new(),
            failed_fns: HashSet::new(),
            ignored,
            allow_incomplete,
            errors: Vec::new(),
            warnings: Vec::new(),
            reported_multiple: HashSet::new(),
        }
    }

    /// `ASSUME_PROVIDED`: names, or regular expressions when they start
    /// with `^` or end with `$`.
    fn is_ignored(&self, name: &str) -> bool {
        self.ignored.iter().any(|pattern| {
            if pattern.starts_with('^') || pattern.ends_with('$') {
                self.ignored_regex.get(pattern).is_some_and(|r| {
                    r.as_ref()
                        .is_some_and(|r| r.is_match(name).unwrap_or(false))
                })
            } else {
                pattern == name
            }
        })
    }

    /// The recipe chosen to provide `name` at build time.
    pub fn build_provider(&self, name: &str) -> Option<u32> {
        self.build_targets.first(name)
    }

    pub fn run_provider(&self, name: &str) -> Option<u32> {
        self.run_targets.first(name)
    }

    pub fn depends_of(&self, recipe: u32) -> &[String] {
        self.depids.get(&recipe).map_or(&[], Vec::as_slice)
    }

    pub fn rdepends_of(&self, recipe: u32) -> &[String] {
        self.rdepids.get(&recipe).map_or(&[], Vec::as_slice)
    }

    /// `[depends]` entries of the recipe's tasks: `(task, name, its task)`.
    pub fn idepends_of(&self, recipe: u32) -> &[(String, String, String)] {
        self.idepends.get(&recipe).map_or(&[], Vec::as_slice)
    }

    pub fn irdepends_of(&self, recipe: u32) -> &[(String, String, String)] {
        self.irdepends.get(&recipe).map_or(&[], Vec::as_slice)
    }

    pub fn is_failed(&self, recipe: u32) -> bool {
        self.failed_fns.contains(&recipe)
    }

    pub fn is_failed_dep(&self, name: &str) -> bool {
        self.failed_deps.contains(name)
    }

    /// Adds a requested target (a recipe name or anything it provides).
    pub fn add_target(&mut self, item: &str) -> Result<(), GraphError> {
        match self.add_provider_internal(item) {
            Ok(()) => {}
            Err(cause) => {
                if !self.allow_incomplete {
                    return Err(GraphError::NoProvider(cause));
                }
                self.remove_build_target(item, Chain::default())?;
            }
        }
        if !self.external.iter().any(|e| e == item) {
            self.external.push(item.to_string());
        }
        Ok(())
    }

    /// The added recipes whose `DEPENDS` (or, at run time, `RDEPENDS`
    /// and `RRECOMMENDS`) name `item`, sorted.
    fn dependees(&self, item: &str, runtime: bool) -> Vec<u32> {
        let names = if runtime { &self.rdepids } else { &self.depids };
        let mut found: Vec<u32> = self
            .added
            .iter()
            .copied()
            .filter(|r| names.get(r).is_some_and(|d| d.iter().any(|x| x == item)))
            .collect();
        found.sort();
        found
    }

    /// BitBake's reasons for a missing name: skipped recipes that would
    /// have provided it.
    fn skip_reasons(&self, item: &str, runtime: bool) -> Vec<String> {
        let mut reasons = Vec::new();
        for skipped in &self.set.skipped {
            let info = &skipped.info;
            if info.pn == item {
                reasons.push(format!("{} was skipped: {}", info.pn, skipped.reason));
            } else if runtime && info.rprovides.iter().any(|p| p == item) {
                reasons.push(format!(
                    "{} RPROVIDES {item} but was skipped: {}",
                    info.pn, skipped.reason
                ));
            } else if !runtime && info.provides.iter().any(|p| p == item) {
                reasons.push(format!(
                    "{} PROVIDES {item} but was skipped: {}",
                    info.pn, skipped.reason
                ));
            }
        }
        reasons.sort();
        reasons.dedup();
        reasons
    }

    fn no_provider_message(&self, item: &str, runtime: bool, reasons: &[String]) -> String {
        let (what, verb) = if runtime {
            ("RPROVIDES", "RDEPENDS")
        } else {
            ("PROVIDES", "DEPENDS")
        };
        let dependees = self.dependees(item, runtime);
        let mut message = format!("Nothing {what} '{item}'");
        if !dependees.is_empty() {
            let files: Vec<&str> = dependees
                .iter()
                .map(|&r| self.set.recipe(r).file.as_str())
                .collect();
            message.push_str(&format!(
                " (but {} {verb} on or otherwise requires it)",
                files.join(", ")
            ));
        }
        for reason in reasons {
            message.push_str(&format!("\n{reason}"));
        }
        message
    }

    fn add_provider_internal(&mut self, item: &str) -> Result<(), String> {
        if self.is_ignored(item) {
            return Ok(());
        }
        let Some(all) = self.set.providers(item) else {
            let reasons = self.skip_reasons(item, false);
            let message = self.no_provider_message(item, false, &reasons);
            self.errors.push(message);
            let cause = match reasons.first() {
                Some(reason) => format!("nothing provides {item} ({reason})"),
                None => format!("nothing provides {item}"),
            };
            return Err(cause);
        };
        if self.build_targets.has(item) {
            return Ok(());
        }
        let all = all.to_vec();
        let (eligible, unique) =
            filter_providers(self.set, &self.set.config, &all, item, &mut self.warnings);
        let eligible: Vec<u32> = eligible
            .into_iter()
            .filter(|f| !self.failed_fns.contains(f))
            .collect();
        if eligible.is_empty() {
            let message = format!("No eligible PROVIDERs exist for '{item}'");
            self.errors.push(message.clone());
            return Err(message);
        }
        if eligible.len() > 1 && !unique && self.reported_multiple.insert(item.to_string()) {
            let pns: Vec<&str> = eligible
                .iter()
                .map(|&f| self.set.recipe(f).info.pn.as_str())
                .collect();
            self.warnings.push(format!(
                "multiple providers are available for {item} ({}); consider defining a PREFERRED_PROVIDER entry to match {item}",
                pns.join(", ")
            ));
        }
        for recipe in eligible {
            if self.failed_fns.contains(&recipe) {
                continue;
            }
            self.build_targets.add(recipe, item);
            self.add_tasks(recipe);
        }
        Ok(())
    }

    fn add_rprovider(&mut self, item: &str) -> Result<(), String> {
        if self.is_ignored(item) || self.run_targets.has(item) {
            return Ok(());
        }
        let all = self.set.runtime_providers(item);
        if all.is_empty() {
            let reasons = self.skip_reasons(item, true);
            let message = self.no_provider_message(item, true, &reasons);
            self.errors.push(message);
            let cause = match reasons.first() {
                Some(reason) => format!("nothing provides {item} at run time ({reason})"),
                None => format!("nothing provides {item} at run time"),
            };
            return Err(cause);
        }
        let (eligible, preferred) =
            filter_providers_runtime(self.set, &self.set.config, &all, item, &mut self.warnings);
        let eligible: Vec<u32> = eligible
            .into_iter()
            .filter(|f| !self.failed_fns.contains(f))
            .collect();
        if eligible.is_empty() {
            let message = format!("No eligible RPROVIDERs exist for '{item}'");
            self.errors.push(message.clone());
            return Err(message);
        }
        if preferred > 1 {
            let pns: Vec<&str> = eligible
                .iter()
                .map(|&f| self.set.recipe(f).info.pn.as_str())
                .collect();
            let message = format!(
                "Trying to resolve runtime dependency {item} resulted in conflicting PREFERRED_PROVIDER entries being found (providers: {}); you could set PREFERRED_RPROVIDER_{item}",
                pns.join(", ")
            );
            self.errors.push(message.clone());
            return Err(message);
        }
        for recipe in eligible {
            self.run_targets.add(recipe, item);
            self.add_tasks(recipe);
        }
        Ok(())
    }

    /// Records a recipe's tasks and the names it needs.
    fn add_tasks(&mut self, recipe: u32) {
        if self.failed_fns.contains(&recipe) || !self.added_set.insert(recipe) {
            return;
        }
        self.added.push(recipe);
        let info = &self.set.recipe(recipe).info;
        let mut idepends = Vec::new();
        let mut irdepends = Vec::new();
        for task in &info.tasks {
            for (flag, list) in [("depends", &mut idepends), ("rdepends", &mut irdepends)] {
                for word in task.flag_words(flag) {
                    // Checked when the task graph is built; a malformed
                    // entry is kept whole so the error can name it.
                    let (name, dep_task) = word.split_once(':').unwrap_or((word, ""));
                    list.push((task.name.clone(), name.to_string(), dep_task.to_string()));
                }
            }
        }
        for (_, name, _) in &idepends {
            self.build_targets.seen(name);
        }
        for (_, name, _) in &irdepends {
            self.run_targets.seen(name);
        }
        self.idepends.insert(recipe, idepends);
        self.irdepends.insert(recipe, irdepends);
        let mut depends: Vec<String> = Vec::new();
        for dep in &info.depends {
            if !depends.contains(dep) {
                depends.push(dep.clone());
            }
        }
        let mut rdepends: Vec<String> = Vec::new();
        for dep in info.rdepends.iter().chain(&info.rrecommends) {
            if !rdepends.contains(dep) {
                rdepends.push(dep.clone());
            }
        }
        let failed_build = depends.iter().any(|d| self.failed_deps.contains(d));
        let failed_run = rdepends.iter().any(|d| self.failed_rdeps.contains(d));
        for dep in &depends {
            self.build_targets.seen(dep);
        }
        for dep in &rdepends {
            self.run_targets.seen(dep);
        }
        self.depids.insert(recipe, depends);
        self.rdepids.insert(recipe, rdepends);
        if failed_build || failed_run {
            // A dependency already known to be unbuildable; the error, if
            // it matters, was reported when it failed.
            let _ = self.fail_recipe(recipe, Chain::default());
        }
    }

    /// Resolves every name seen so far, repeatedly, until nothing new is
    /// added (BitBake's `add_unresolved`).
    pub fn add_unresolved(&mut self) -> Result<(), GraphError> {
        loop {
            let mut added = 0;
            let unresolved: Vec<String> = self
                .build_targets
                .order
                .iter()
                .filter(|t| {
                    !self.is_ignored(t)
                        && !self.failed_deps.contains(*t)
                        && !self.build_targets.has(t)
                })
                .cloned()
                .collect();
            for target in unresolved {
                match self.add_provider_internal(&target) {
                    Ok(()) => added += 1,
                    Err(cause) => {
                        if self.external.contains(&target) && !self.allow_incomplete {
                            return Err(GraphError::NoProvider(cause));
                        }
                        if !self.allow_incomplete {
                            self.remove_build_target(
                                &target,
                                Chain {
                                    steps: Vec::new(),
                                    cause,
                                },
                            )?;
                        }
                    }
                }
            }
            let unresolved: Vec<String> = self
                .run_targets
                .order
                .iter()
                .filter(|t| {
                    !self.is_ignored(t)
                        && !self.failed_rdeps.contains(*t)
                        && !self.run_targets.has(t)
                })
                .cloned()
                .collect();
            for target in unresolved {
                match self.add_rprovider(&target) {
                    Ok(()) => added += 1,
                    Err(cause) => {
                        self.remove_run_target(
                            &target,
                            Chain {
                                steps: Vec::new(),
                                cause,
                            },
                        )?;
                    }
                }
            }
            if added == 0 {
                return Ok(());
            }
        }
    }

    /// How `recipe` refers to `name`, for dependency chains.
    fn relation(&self, recipe: u32, name: &str, runtime: bool) -> String {
        let info = &self.set.recipe(recipe).info;
        if runtime {
            if info.rdepends.iter().any(|d| d == name) {
                return "RDEPENDS".into();
            }
            if info.rrecommends.iter().any(|d| d == name) {
                return "RRECOMMENDS".into();
            }
            if let Some((task, _, _)) = self.irdepends_of(recipe).iter().find(|e| e.1 == name) {
                return format!("{task}[rdepends]");
            }
            return "RDEPENDS".into();
        }
        if info.depends.iter().any(|d| d == name) {
            return "DEPENDS".into();
        }
        if let Some((task, _, _)) = self.idepends_of(recipe).iter().find(|e| e.1 == name) {
            return format!("{task}[depends]");
        }
        "DEPENDS".into()
    }

    fn chain_for(&self, recipe: u32, name: &str, runtime: bool, chain: &Chain) -> Chain {
        let mut steps = vec![(self.relation(recipe, name, runtime), name.to_string())];
        steps.extend(chain.steps.iter().cloned());
        Chain {
            steps,
            cause: chain.cause.clone(),
        }
    }

    /// Marks a recipe unbuildable and removes it from every target it was
    /// to provide; a target left without providers fails in turn.
    fn fail_recipe(&mut self, recipe: u32, chain: Chain) -> Result<(), GraphError> {
        if !self.failed_fns.insert(recipe) {
            return Ok(());
        }
        let mut emptied_build = Vec::new();
        for name in &self.build_targets.order {
            if let Some(list) = self.build_targets.providers.get_mut(name)
                && let Some(pos) = list.iter().position(|&r| r == recipe)
            {
                list.remove(pos);
                if list.is_empty() {
                    emptied_build.push(name.clone());
                }
            }
        }
        let mut emptied_run = Vec::new();
        for name in &self.run_targets.order {
            if let Some(list) = self.run_targets.providers.get_mut(name)
                && let Some(pos) = list.iter().position(|&r| r == recipe)
            {
                list.remove(pos);
                if list.is_empty() {
                    emptied_run.push(name.clone());
                }
            }
        }
        for name in emptied_build {
            self.remove_build_target(&name, chain.clone())?;
        }
        for name in emptied_run {
            self.remove_run_target(&name, chain.clone())?;
        }
        Ok(())
    }

    /// Fails every recipe that needs `target` (through `DEPENDS` or a
    /// `[depends]` entry, or at run time through `RDEPENDS`/`RRECOMMENDS`
    /// or `[rdepends]`).
    fn fail_dependees(
        &mut self,
        target: &str,
        runtime: bool,
        chain: &Chain,
    ) -> Result<(), GraphError> {
        let (mut dependees, entries) = if runtime {
            (self.dependees(target, true), &self.irdepends)
        } else {
            (self.dependees(target, false), &self.idepends)
        };
        for (&recipe, entries) in entries {
            if entries.iter().any(|e| e.1 == target) && !dependees.contains(&recipe) {
                dependees.push(recipe);
            }
        }
        dependees.sort();
        for recipe in dependees {
            let chain = self.chain_for(recipe, target, runtime, chain);
            self.fail_recipe(recipe, chain)?;
        }
        Ok(())
    }

    fn remove_build_target(&mut self, target: &str, chain: Chain) -> Result<(), GraphError> {
        self.failed_deps.insert(target.to_string());
        self.fail_dependees(target, false, &chain)?;
        if self.external.iter().any(|e| e == target) && !self.allow_incomplete {
            let shown = if chain.steps.is_empty() && chain.cause.is_empty() {
                format!("nothing provides {target}")
            } else {
                chain.render(target)
            };
            return Err(GraphError::NoProvider(format!(
                "required build target '{target}' has no buildable providers\n  missing or unbuildable dependency chain: {shown}"
            )));
        }
        Ok(())
    }

    fn remove_run_target(&mut self, target: &str, chain: Chain) -> Result<(), GraphError> {
        self.failed_rdeps.insert(target.to_string());
        self.fail_dependees(target, true, &chain)
    }
}
