//! Recorded signatures (BitBake's `sigdata` files): what went into a
//! task's hash when it last ran, kept so `bitzel explain` can say why it
//! will run again. One JSON file per task under
//! `TOPDIR/cache/bitzel/sigdata/PN/do_TASK.json`, written atomically.
//!
//! Invariant: a record holds only what the hash was computed from (values,
//! dependency hashes, file checksums), never machine state, so two
//! machines with the same record explain the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::taskhash::TaskHashInputs;

/// One task's recorded signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigRecord {
    /// `pn.do_task`.
    pub task: String,
    pub inputs: TaskHashInputs,
    /// The value hashed for the task and each key of its base hash
    /// (`None`: the key was unset).
    pub values: BTreeMap<String, Option<String>>,
}

/// Where records live.
pub struct SigStore {
    root: PathBuf,
}

impl SigStore {
    pub fn new(topdir: &Path) -> SigStore {
        SigStore {
            root: topdir.join("cache/bitzel/sigdata"),
        }
    }

    fn path(&self, task: &str) -> Option<PathBuf> {
        let (pn, name) = task.rsplit_once('.')?;
        // Names come from metadata; keep them inside the store.
        if [pn, name]
            .iter()
            .any(|part| part.is_empty() || part.contains('/') || *part == "..")
        {
            return None;
        }
        Some(self.root.join(pn).join(format!("{name}.json")))
    }

    pub fn load(&self, task: &str) -> Option<SigRecord> {
        let bytes = std::fs::read(self.path(task)?).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes a record through a temporary file and a rename.
    pub fn save(&self, record: &SigRecord) -> std::io::Result<()> {
        let Some(path) = self.path(&record.task) else {
            return Err(std::io::Error::other(format!(
                "`{}` cannot name a signature record",
                record.task
            )));
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temp = path.with_extension(format!("tmp.{}", std::process::id()));
        let bytes = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        std::fs::write(&temp, bytes)?;
        std::fs::rename(&temp, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    }
}

/// Why a task's hash changed, one finding per line of an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A key's hashed value changed.
    Value {
        key: String,
        old: Option<String>,
        new: Option<String>,
    },
    /// The task now depends on a key it did not (or no longer).
    KeyAdded {
        key: String,
    },
    KeyRemoved {
        key: String,
    },
    /// The base hash changed but no recorded value explains it.
    BaseHash {
        old: String,
        new: String,
    },
    FileChanged {
        path: String,
        old: String,
        new: String,
    },
    FileAdded {
        path: String,
    },
    FileRemoved {
        path: String,
    },
    DependencyAdded {
        task: String,
    },
    DependencyRemoved {
        task: String,
    },
    /// A dependency's hash changed; `why` explains it in turn.
    Dependency {
        task: String,
        why: Vec<Change>,
    },
    /// `[nostamp]`: the task runs every time.
    NoStamp,
    /// Nothing recorded for the dependency: it has not run here.
    NeverBuilt {
        task: String,
    },
}

/// Compares a recorded signature with the current one. `values` are the
/// current hashed values (needed only when the base hash changed).
pub fn compare(
    old: &SigRecord,
    new: &TaskHashInputs,
    values: Option<&BTreeMap<String, Option<String>>>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    if new.taint.is_some() {
        changes.push(Change::NoStamp);
    }
    if old.inputs.basehash != new.basehash {
        let before = changes.len();
        if let Some(values) = values {
            for (key, value) in values {
                match old.values.get(key) {
                    None => changes.push(Change::KeyAdded { key: key.clone() }),
                    Some(old_value) if old_value != value => changes.push(Change::Value {
                        key: key.clone(),
                        old: old_value.clone(),
                        new: value.clone(),
                    }),
                    Some(_) => {}
                }
            }
            for key in old.values.keys() {
                if !values.contains_key(key) {
                    changes.push(Change::KeyRemoved { key: key.clone() });
                }
            }
        }
        if changes.len() == before {
            changes.push(Change::BaseHash {
                old: old.inputs.basehash.clone(),
                new: new.basehash.clone(),
            });
        }
    }
    let old_files: BTreeMap<&str, &str> = old
        .inputs
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.md5.as_str()))
        .collect();
    let new_files: BTreeMap<&str, &str> = new
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.md5.as_str()))
        .collect();
    for (path, md5) in &new_files {
        match old_files.get(path) {
            None => changes.push(Change::FileAdded {
                path: path.to_string(),
            }),
            Some(old_md5) if old_md5 != md5 => changes.push(Change::FileChanged {
                path: path.to_string(),
                old: old_md5.to_string(),
                new: md5.to_string(),
            }),
            Some(_) => {}
        }
    }
    for path in old_files.keys() {
        if !new_files.contains_key(path) {
            changes.push(Change::FileRemoved {
                path: path.to_string(),
            });
        }
    }
    let old_deps: BTreeMap<&str, &str> = old
        .inputs
        .deps
        .iter()
        .map(|(t, h)| (t.as_str(), h.as_str()))
        .collect();
    for (task, hash) in &new.deps {
        match old_deps.get(task.as_str()) {
            None => changes.push(Change::DependencyAdded { task: task.clone() }),
            Some(old_hash) if old_hash != hash => changes.push(Change::Dependency {
                task: task.clone(),
                why: Vec::new(),
            }),
            Some(_) => {}
        }
    }
    for task in old_deps.keys() {
        if !new.deps.iter().any(|(t, _)| t == task) {
            changes.push(Change::DependencyRemoved {
                task: task.to_string(),
            });
        }
    }
    changes
}

fn short(value: &Option<String>) -> String {
    match value {
        None => "(unset)".to_string(),
        Some(v) => {
            let one_line = v.replace('\n', "\\n");
            if one_line.chars().count() > 120 {
                let cut: String = one_line.chars().take(117).collect();
                format!("\"{cut}...\"")
            } else {
                format!("\"{one_line}\"")
            }
        }
    }
}

/// Plain-words lines for a list of changes, indented by `depth`.
pub fn render(changes: &[Change], depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth + 1);
    for change in changes {
        let line = match change {
            Change::Value { key, old, new } => {
                format!("{key} changed from {} to {}", short(old), short(new))
            }
            Change::KeyAdded { key } => format!("it now depends on {key}"),
            Change::KeyRemoved { key } => format!("it no longer depends on {key}"),
            Change::BaseHash { old, new } => format!(
                "its own signature changed ({} -> {}), with no recorded value to compare",
                &old[..old.len().min(12)],
                &new[..new.len().min(12)]
            ),
            Change::FileChanged { path, .. } => format!("the checksum of file {path} changed"),
            Change::FileAdded { path } => format!("it now uses file {path}"),
            Change::FileRemoved { path } => format!("it no longer uses file {path}"),
            Change::DependencyAdded { task } => format!("it now depends on task {task}"),
            Change::DependencyRemoved { task } => format!("it no longer depends on task {task}"),
            Change::Dependency { task, .. } => format!("the hash of dependency {task} changed"),
            Change::NoStamp => "it is [nostamp]: it runs every time".to_string(),
            Change::NeverBuilt { task } => format!("{task} has not been built here"),
        };
        out.push(format!("{pad}{line}"));
        if let Change::Dependency { why, .. } = change {
            render(why, depth + 1, out);
        }
    }
}
