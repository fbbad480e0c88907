//! The task graph (spec §12): which recipes provide what, which recipes a
//! build needs (`taskdata`), and the flat graph of their tasks
//! (`runqueue`), as `bitbake -g` computes them.
//!
//! Invariants: recipes and tasks are dense `u32` ids into vectors and
//! edges live in compact adjacency arrays (no pointers, no `Rc`); every
//! ordering is by file name or id, so the graph never depends on parse
//! order or hash-map iteration.

pub mod output;
pub mod providers;
pub mod runqueue;
pub mod sigdata;
pub mod taskdata;
pub mod taskhash;

use std::collections::{BTreeMap, HashMap};

use crate::recipe::info::RecipeInfo;

pub use runqueue::{TaskGraph, TaskId};
pub use taskdata::{GraphError, TaskData};

/// One buildable target: a recipe file or one of its variants.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// `FILE` or `virtual:VARIANT:FILE`, as BitBake names it.
    pub file: String,
    /// `BBFILE_PRIORITY` of the layer the file belongs to.
    pub priority: i64,
    pub info: RecipeInfo,
}

/// A target that was skipped, kept for error messages.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
    pub info: RecipeInfo,
}

/// Every target of the configured layers, with provider indexes.
#[derive(Debug, Default)]
pub struct RecipeSet {
    pub recipes: Vec<Recipe>,
    pub skipped: Vec<Skipped>,
    /// Configuration variables provider selection and the graph read
    /// (`PREFERRED_*`, `REQUIRED_VERSION*`, `ASSUME_PROVIDED`, ...).
    pub config: BTreeMap<String, String>,
    /// Build-time name -> recipes providing it, in insertion order.
    providers: HashMap<String, Vec<u32>>,
    /// Run-time name -> recipes providing it through `RPROVIDES`.
    rproviders: HashMap<String, Vec<u32>>,
    /// Package name -> recipes producing it.
    packages: HashMap<String, Vec<u32>>,
    /// `PACKAGES_DYNAMIC` pattern -> recipes, sorted by pattern; each
    /// compiled on first use (`None` if it does not compile).
    packages_dynamic: Vec<(
        String,
        std::sync::OnceLock<Option<fancy_regex::Regex>>,
        Vec<u32>,
    )>,
    /// PN -> everything its recipes provide.
    pn_provides: HashMap<String, Vec<String>>,
}

impl RecipeSet {
    pub fn new(
        mut recipes: Vec<Recipe>,
        skipped: Vec<Skipped>,
        config: BTreeMap<String, String>,
    ) -> RecipeSet {
        recipes.sort_by(|a, b| a.file.cmp(&b.file));
        let mut set = RecipeSet {
            recipes,
            skipped,
            config,
            ..RecipeSet::default()
        };
        let mut dynamic: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (id, recipe) in set.recipes.iter().enumerate() {
            let id = id as u32;
            let info = &recipe.info;
            for provide in &info.provides {
                set.providers.entry(provide.clone()).or_default().push(id);
                let provides = set.pn_provides.entry(info.pn.clone()).or_default();
                if !provides.contains(provide) {
                    provides.push(provide.clone());
                }
            }
            for rprovide in &info.rprovides {
                let list = set.rproviders.entry(rprovide.clone()).or_default();
                if !list.contains(&id) {
                    list.push(id);
                }
            }
            for package in &info.packages {
                set.packages.entry(package.clone()).or_default().push(id);
            }
            for pattern in &info.packages_dynamic {
                dynamic.entry(pattern.clone()).or_default().push(id);
            }
        }
        set.packages_dynamic = dynamic
            .into_iter()
            .map(|(pattern, list)| (pattern, std::sync::OnceLock::new(), list))
            .collect();
        set
    }

    pub fn recipe(&self, id: u32) -> &Recipe {
        &self.recipes[id as usize]
    }

    /// Recipes providing `name` at build time.
    pub fn providers(&self, name: &str) -> Option<&[u32]> {
        self.providers.get(name).map(Vec::as_slice)
    }

    pub fn pn_provides(&self, pn: &str) -> &[String] {
        self.pn_provides.get(pn).map_or(&[], Vec::as_slice)
    }

    /// Recipes providing `name` at run time: by `RPROVIDES` or a package
    /// of that name, else by a matching `PACKAGES_DYNAMIC` pattern.
    pub fn runtime_providers(&self, name: &str) -> Vec<u32> {
        let mut found: Vec<u32> = Vec::new();
        if let Some(list) = self.rproviders.get(name) {
            found.extend(list);
        }
        if let Some(list) = self.packages.get(name) {
            found.extend(list);
        }
        if !found.is_empty() {
            return found;
        }
        for (pattern, regex, list) in &self.packages_dynamic {
            // Most patterns start with a literal (`^glibc-locale-.*`): a
            // name without it cannot match, and the pattern need not be
            // compiled (oe-core has about a thousand of them).
            if !name.starts_with(literal_prefix(pattern)) {
                continue;
            }
            // Python's `re.match`: anchored at the start only; `+` is
            // literal in these patterns. oe-core uses look-ahead, which
            // only a backtracking engine supports.
            let regex = regex.get_or_init(|| python_regex(&pattern.replace('+', r"\+")));
            if regex
                .as_ref()
                .is_some_and(|r| r.is_match(name).unwrap_or(false))
            {
                found.extend(list);
            }
        }
        found
    }

    /// All build-time names, for close-match suggestions.
    pub fn provided_names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }
}

/// The literal text a regular expression's matches must start with: up
/// to its first special character, after a leading `^`.
fn literal_prefix(pattern: &str) -> &str {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let end = body
        .find(|c: char| ".^$*+?()[]{}|\\".contains(c))
        .unwrap_or(body.len());
    // A quantifier applies to the character before it, which is then
    // optional: it is not part of the prefix.
    let quantified = body[end..].starts_with(['*', '?', '{']);
    let end = if quantified {
        body[..end].char_indices().last().map_or(0, |(i, _)| i)
    } else {
        end
    };
    &body[..end]
}

/// A regular expression used as Python's `re.match` uses it: anchored at
/// the start, with look-around. `None` when it does not compile (it then
/// matches nothing).
pub fn python_regex(pattern: &str) -> Option<fancy_regex::Regex> {
    fancy_regex::Regex::new(&format!("^(?:{pattern})")).ok()
}

/// The recipe set of a finished parse. Targets whose recipe failed to
/// parse are left out (the parse reported them).
pub fn recipe_set(all: crate::recipe::parse_all::ParseAll) -> RecipeSet {
    let mut vars = crate::datastore::DataStore::new();
    for (name, value) in &all.collection {
        vars.set_var_python(name, value.clone());
    }
    let layers = crate::recipe::bbfiles::layer_patterns(&vars).unwrap_or_default();
    let priority = |file: &str| {
        let real = file
            .strip_prefix("virtual:")
            .and_then(|rest| rest.split_once(':'))
            .map_or(file, |(_, path)| path);
        layers
            .iter()
            .find(|(_, regex, _)| regex.is_match(real))
            .map_or(0, |(_, _, p)| *p)
    };
    let mut recipes = Vec::new();
    let mut skipped = Vec::new();
    for result in all.recipes {
        let Ok(targets) = result.targets else {
            continue;
        };
        for target in targets {
            match target.skipped {
                Some(reason) => skipped.push(Skipped {
                    file: target.target,
                    reason,
                    info: target.info,
                }),
                None => recipes.push(Recipe {
                    priority: priority(&target.target),
                    file: target.target,
                    info: target.info,
                }),
            }
        }
    }
    RecipeSet::new(recipes, skipped, all.graph_config)
}

#[cfg(test)]
mod tests {
    use super::literal_prefix;

    #[test]
    fn literal_prefixes_of_patterns() {
        assert_eq!(literal_prefix("^glibc-locale-.*"), "glibc-locale-");
        assert_eq!(literal_prefix("^util-linux(?!.*-native)-.*"), "util-linux");
        assert_eq!(literal_prefix("abc*"), "ab");
        assert_eq!(literal_prefix("^(a|b)"), "");
        assert_eq!(literal_prefix("^kernel-module-\\+x"), "kernel-module-");
    }
}
