//! What the task graph needs to know about one finalised recipe: its
//! name and version, what it provides at build and run time, what it
//! depends on, and its tasks with their dependency flags. This is
//! BitBake's per-recipe cache record (`CoreRecipeInfo`), kept in the parse
//! cache so a warm `bitzel graph` never evaluates metadata.
//!
//! Invariant: everything here is expanded text taken from the datastore
//! after finalisation; nothing refers back to the datastore.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::datastore::{DataStore, ExpansionError, FlagValue};

/// One recipe (or `BBCLASSEXTEND` variant) as the task graph sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeInfo {
    pub pn: String,
    pub pe: String,
    pub pv: String,
    pub pr: String,
    /// `DEFAULT_PREFERENCE` (0 when unset).
    pub default_preference: i64,
    /// `PN` followed by the words of `PROVIDES`, without duplicates.
    pub provides: Vec<String>,
    /// Everything it provides at run time: `RPROVIDES` and each package's
    /// `RPROVIDES:pkg`.
    pub rprovides: Vec<String>,
    /// `PACKAGES`, or `PN` when empty.
    pub packages: Vec<String>,
    /// `PACKAGES_DYNAMIC` patterns (regular expressions).
    pub packages_dynamic: Vec<String>,
    /// Build-time dependencies (`DEPENDS`, versions dropped).
    pub depends: Vec<String>,
    /// Run-time dependencies and recommendations of all packages
    /// (`RDEPENDS`/`RRECOMMENDS` plus the per-package values).
    pub rdepends: Vec<String>,
    pub rrecommends: Vec<String>,
    /// Tasks in the order they were added (empty for a skipped recipe).
    pub tasks: Vec<TaskInfo>,
}

/// One task and the flags that shape the graph.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// With the `do_` prefix.
    pub name: String,
    /// Tasks of the same recipe it runs after (`[deps]`, expanded; may
    /// name tasks that do not exist, which the graph ignores).
    pub after: Vec<String>,
    /// The dependency flags that are set, expanded: `depends`, `rdepends`,
    /// `deptask`, `rdeptask`, `recrdeptask`, `recideptask`, `mcdepends`,
    /// `noexec`, `nostamp`, `fakeroot`, `umask`.
    pub flags: BTreeMap<String, String>,
    /// The base hash of the task's signature (spec §18.4).
    pub basehash: String,
    /// `[file-checksums]`, expanded: files whose contents enter the task
    /// hash.
    pub file_checksums: String,
}

impl TaskInfo {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    /// The words of a flag.
    pub fn flag_words(&self, name: &str) -> Vec<&str> {
        self.flag(name)
            .map(|v| v.split_whitespace().collect())
            .unwrap_or_default()
    }
}

/// The task flags the graph and the executor read (BitBake's `_task_deps`).
pub const GRAPH_FLAGS: &[&str] = &[
    "mcdepends",
    "depends",
    "rdepends",
    "deptask",
    "rdeptask",
    "recrdeptask",
    "recideptask",
    "nostamp",
    "fakeroot",
    "noexec",
    "umask",
];

/// Splits a dependency list such as `RDEPENDS`, dropping version
/// constraints: a word starting with `(` opens one, a word ending with `)`
/// closes it (BitBake's `explode_deps`).
pub fn explode_deps(text: &str) -> Vec<String> {
    let mut deps = Vec::new();
    let mut in_version = false;
    for word in text.split_whitespace() {
        if word.starts_with('(') {
            in_version = true;
        }
        if !in_version {
            deps.push(word.to_string());
        }
        if in_version && word.ends_with(')') {
            in_version = false;
        }
    }
    deps
}

fn var(d: &DataStore, name: &str) -> Result<String, ExpansionError> {
    Ok(d.get_var(name)?.unwrap_or_default())
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl RecipeInfo {
    /// Reads the record from a finalised recipe. `skipped` recipes keep
    /// only what error messages about them need (names and provides).
    pub fn from_datastore(d: &DataStore, skipped: bool) -> Result<RecipeInfo, ExpansionError> {
        let pn = var(d, "PN")?;
        let mut provides = vec![pn.clone()];
        for provide in explode_deps(&var(d, "PROVIDES")?) {
            push_unique(&mut provides, provide);
        }
        let mut packages: Vec<String> = var(d, "PACKAGES")?
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if packages.is_empty() {
            packages.push(pn.clone());
        }
        let mut rprovides = Vec::new();
        for provide in explode_deps(&var(d, "RPROVIDES")?) {
            push_unique(&mut rprovides, provide);
        }
        for package in &packages {
            for provide in explode_deps(&var(d, &format!("RPROVIDES:{package}"))?) {
                push_unique(&mut rprovides, provide);
            }
        }
        let packages_dynamic = var(d, "PACKAGES_DYNAMIC")?
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut info = RecipeInfo {
            pn,
            provides,
            rprovides,
            packages,
            packages_dynamic,
            ..RecipeInfo::default()
        };
        if skipped {
            return Ok(info);
        }
        info.pe = var(d, "PE")?;
        info.pv = var(d, "PV")?;
        info.pr = var(d, "PR")?;
        info.default_preference = var(d, "DEFAULT_PREFERENCE")?.trim().parse().unwrap_or(0);
        info.depends = explode_deps(&var(d, "DEPENDS")?);
        let rdepends = explode_deps(&var(d, "RDEPENDS")?);
        let rrecommends = explode_deps(&var(d, "RRECOMMENDS")?);
        for package in &info.packages {
            for (all, global, name) in [
                (&mut info.rdepends, &rdepends, "RDEPENDS"),
                (&mut info.rrecommends, &rrecommends, "RRECOMMENDS"),
            ] {
                for dep in global.iter().cloned() {
                    push_unique(all, dep);
                }
                for dep in explode_deps(&var(d, &format!("{name}:{package}"))?) {
                    push_unique(all, dep);
                }
            }
        }
        for raw in d.list_var("__BBTASKS") {
            let name = d.expand(&raw)?;
            if info.tasks.iter().any(|t| t.name == name) {
                continue;
            }
            let mut task = TaskInfo {
                name: name.clone(),
                ..TaskInfo::default()
            };
            if let Some(FlagValue::List(deps)) = d.raw_flag(&name, "deps") {
                for dep in deps.clone() {
                    task.after.push(d.expand(&dep)?);
                }
            }
            if let Some(checksums) = d.get_var_flag(&name, "file-checksums")? {
                task.file_checksums = checksums;
            }
            for flag in GRAPH_FLAGS {
                if let Some(value) = d.raw_flag(&name, flag) {
                    let text = value.to_python_str();
                    task.flags.insert(flag.to_string(), d.expand(&text)?);
                }
            }
            info.tasks.push(task);
        }
        Ok(info)
    }

    /// `PE:PV-PR` as `bitbake -g` labels it (`:1.3-r0` without an epoch).
    pub fn version_label(&self) -> String {
        format!("{}:{}-{}", self.pe, self.pv, self.pr)
    }

    pub fn task(&self, name: &str) -> Option<&TaskInfo> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dropped_from_dependency_lists() {
        assert_eq!(explode_deps("a (>= 1.0) b (= 2) c"), ["a", "b", "c"]);
        assert_eq!(explode_deps("a (>= 1.0 ) b"), ["a", "b"]);
        assert_eq!(explode_deps(""), Vec::<String>::new());
    }
}
