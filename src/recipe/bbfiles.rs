//! Collecting recipes: `BBFILES` globbed in layer-priority order, `BBMASK`
//! applied, recipes and appends separated (spec §15.1).

use std::path::{Path, PathBuf};

use crate::datastore::{DataStore, ExpansionError};

/// What `BBFILES` names, after `BBMASK`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// `.bb` files in collection order.
    pub recipes: Vec<PathBuf>,
    /// `.bbappend` files in collection order (the order they apply in).
    pub appends: Vec<PathBuf>,
    /// Files `BBMASK` hid.
    pub n_masked: usize,
}

impl Collected {
    /// The appends that apply to `recipe`, in the order they apply.
    pub fn appends_for(&self, recipe: &Path) -> Vec<PathBuf> {
        let Some(name) = recipe.file_name().map(|n| n.to_string_lossy()) else {
            return Vec::new();
        };
        self.appends
            .iter()
            .filter(|a| {
                a.file_name()
                    .is_some_and(|n| super::bbappend::applies(&name, &n.to_string_lossy()))
            })
            .cloned()
            .collect()
    }
}

/// Layers as `(collection, pattern, priority)`, patterns in the order they
/// are tried: descending string order (spec §14.3).
pub fn layer_patterns(
    config: &DataStore,
) -> Result<Vec<(String, regex::Regex, i64)>, ExpansionError> {
    let collections = config.get_var("BBFILE_COLLECTIONS")?.unwrap_or_default();
    let mut layers = Vec::new();
    for collection in collections.split_whitespace() {
        let pattern = config
            .get_var(&format!("BBFILE_PATTERN_{collection}"))?
            .unwrap_or_default();
        let priority = config
            .get_var(&format!("BBFILE_PRIORITY_{collection}"))?
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        // An empty pattern matches nothing; `re.match` anchors at the start.
        if pattern.is_empty() {
            continue;
        }
        if let Ok(regex) = regex::Regex::new(&format!("^(?:{pattern})")) {
            layers.push((pattern, collection.to_string(), regex, priority));
        }
    }
    layers.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(layers.into_iter().map(|(_, c, r, p)| (c, r, p)).collect())
}

/// Collects the files `BBFILES` names (spec §15.1).
pub fn collect(config: &DataStore) -> Result<Collected, ExpansionError> {
    let layers = layer_patterns(config)?;
    let priority = |entry: &str| {
        layers
            .iter()
            .find(|(_, r, _)| r.is_match(entry))
            .map_or(0, |(_, _, p)| *p)
    };
    let mut entries: Vec<String> = config
        .get_var("BBFILES")?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    // A stable sort, lowest priority first.
    entries.sort_by_key(|e| priority(e));
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen: std::collections::HashSet<std::ffi::OsString> = std::collections::HashSet::new();
    for entry in &entries {
        let path = Path::new(entry);
        let mut found = if path.is_dir() {
            walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    !["SCCS", "CVS", ".svn"].contains(&e.file_name().to_string_lossy().as_ref())
                })
                .filter_map(Result::ok)
                .filter(|e| {
                    e.path()
                        .extension()
                        .is_some_and(|x| x == "bb" || x == "bbappend")
                })
                .map(|e| e.into_path())
                .collect()
        } else {
            let mut matches = glob(entry);
            if matches.is_empty() && path.exists() {
                matches.push(path.to_path_buf());
            }
            matches
        };
        found.sort();
        for file in found {
            if seen.insert(file.as_os_str().to_os_string()) {
                files.push(file);
            }
        }
    }
    let masks: Vec<String> = config
        .get_var("BBMASK")?
        .unwrap_or_default()
        .split_whitespace()
        .map(|m| m.strip_prefix('|').unwrap_or(m).to_string())
        .filter(|m| regex::Regex::new(m).is_ok())
        .collect();
    let mask = (!masks.is_empty())
        .then(|| regex::Regex::new(&masks.join("|")).ok())
        .flatten();
    let mut collected = Collected::default();
    for file in files {
        if mask
            .as_ref()
            .is_some_and(|m| m.is_match(&file.to_string_lossy()))
        {
            collected.n_masked += 1;
            continue;
        }
        match file.extension().and_then(|e| e.to_str()) {
            Some("bb") => collected.recipes.push(file),
            Some("bbappend") => collected.appends.push(file),
            _ => {}
        }
    }
    Ok(collected)
}

/// Python's `glob.glob` for absolute patterns: `*`, `?` and `[...]` within
/// one path component; names starting with `.` only match patterns that do.
pub fn glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let mut paths = vec![if path.is_absolute() {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for component in path.components() {
        let part = component.as_os_str().to_string_lossy().to_string();
        if part == "/" {
            continue;
        }
        let mut next = Vec::new();
        for base in &paths {
            if !part.contains(['*', '?', '[']) {
                let candidate = base.join(&part);
                if candidate.exists() {
                    next.push(candidate);
                }
                continue;
            }
            let Ok(regex) = regex::Regex::new(&format!("^{}$", glob_to_regex(&part))) else {
                continue;
            };
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if regex.is_match(&name) {
                    next.push(base.join(name));
                }
            }
        }
        paths = next;
    }
    paths
}

fn glob_to_regex(part: &str) -> String {
    let mut out = String::new();
    let mut chars = part.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' && !class.is_empty() {
                        closed = true;
                        break;
                    }
                    class.push(c);
                }
                if closed {
                    let class = class
                        .strip_prefix('!')
                        .map_or(class.clone(), |rest| format!("^{rest}"));
                    out.push('[');
                    out.push_str(&class.replace('\\', "\\\\"));
                    out.push(']');
                } else {
                    out.push_str(&regex::escape(&format!("[{class}")));
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_python() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a_1.0.bb",
            "b_2.0.bb",
            ".hidden.bb",
            "c.bbappend",
            "x/y_1.bb",
        ] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let root = dir.path().display().to_string();
        let mut found: Vec<String> = glob(&format!("{root}/*.bb"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        found.sort();
        assert_eq!(found, ["a_1.0.bb", "b_2.0.bb"]);
        assert_eq!(glob(&format!("{root}/*/*_[0-9].bb")).len(), 1);
        assert_eq!(glob(&format!("{root}/[ab]_?.0.bb")).len(), 2);
    }
}
