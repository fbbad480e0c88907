//! Overrides: the active list and variant selection (spec §5).
//!
//! The active list is `OVERRIDES` read and split at `:`, iterated until it
//! is stable (at most five rounds, §5.1). Variant selection reproduces
//! BitBake's procedure exactly (§5.3), because for combined suffixes the
//! winner depends on its quirks: an ordered map whose re-inserted keys move
//! to the end while overwritten keys keep their place, like a Python dict.

/// The active overrides, in `OVERRIDES` order (right-most has priority).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub list: Vec<String>,
}

impl Overrides {
    pub fn from_value(value: Option<&str>) -> Overrides {
        Overrides {
            list: value.unwrap_or("").split(':').map(str::to_string).collect(),
        }
    }

    pub fn contains(&self, word: &str) -> bool {
        self.list.iter().any(|o| o == word)
    }

    /// Whether a queued operation's condition holds: every `:`-separated
    /// word active (an empty condition always holds).
    pub fn condition_holds(&self, condition: &str) -> bool {
        condition.is_empty() || condition.split(':').all(|w| self.contains(w))
    }

    /// Whether a variant suffix is active: a single active override, or a
    /// combination all of whose words are active.
    fn suffix_active(&self, suffix: &str) -> bool {
        self.contains(suffix)
            || (suffix.contains(':') && suffix.split(':').all(|w| self.contains(w)))
    }
}

/// A small ordered map with Python dict semantics for insertion and removal.
struct OrderedMap {
    entries: Vec<(String, String)>,
}

impl OrderedMap {
    fn get(&self, key: &str) -> Option<&String> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn remove(&mut self, key: &str) -> Option<String> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(idx).1)
    }

    /// `d[key] = value`: replaces in place, or appends.
    fn insert(&mut self, key: String, value: String) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.entries.push((key, value)),
        }
    }
}

/// Picks the variant of a variable to read, given its registered variants
/// `(variant variable, suffix)` in registration order; `None` if no variant
/// is active.
pub fn select_variant(variants: &[(String, String)], overrides: &Overrides) -> Option<String> {
    let mut active = OrderedMap {
        entries: Vec::new(),
    };
    for (variable, suffix) in variants {
        if overrides.suffix_active(suffix) {
            active.insert(suffix.clone(), variable.clone());
        }
    }
    let mut chosen = None;
    let mut changed = true;
    while changed {
        changed = false;
        for o in &overrides.list {
            let with_colon = format!(":{o}");
            let snapshot: Vec<String> = active.entries.iter().map(|(k, _)| k.clone()).collect();
            for key in snapshot {
                if key.ends_with(&with_colon) {
                    let Some(variable) = active.get(&key).cloned() else {
                        continue;
                    };
                    active.remove(&key);
                    active.insert(key.replace(&with_colon, ""), variable);
                    changed = true;
                } else if key == *o
                    && let Some(variable) = active.remove(&key)
                {
                    chosen = Some(variable);
                }
            }
        }
    }
    chosen
}

/// Whether an override suffix may register a variant (spec §5.2): its first
/// character is a lower-case letter or a digit.
pub fn is_override_suffix(suffix: &str) -> bool {
    suffix
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The `(base, suffix)` pairs under which a name registers as a variant
/// (spec §5.2): `A:b:c` → `(A:b, c)`, `(A, b:c)`, stopping at the first
/// suffix that does not start with a lower-case letter or digit.
pub fn variant_bases(name: &str) -> Vec<(&str, &str)> {
    let mut pairs = Vec::new();
    let Some(last) = name.rfind(':') else {
        return pairs;
    };
    let mut base_end = last;
    loop {
        let suffix = &name[base_end + 1..];
        let base = &name[..base_end];
        // The first part checked is the last word; later rounds check the
        // combined suffix, whose first character is the first word's.
        let word = suffix.split(':').next().unwrap_or("");
        if !is_override_suffix(word) || base.is_empty() {
            break;
        }
        pairs.push((base, suffix));
        match base.rfind(':') {
            Some(i) => base_end = i,
            None => break,
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(s: &str) -> Overrides {
        Overrides::from_value(Some(s))
    }

    fn variants(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(v, s)| (v.to_string(), s.to_string()))
            .collect()
    }

    #[test]
    fn rightmost_single_override_wins() {
        let v = variants(&[("V:y", "y"), ("V:z", "z"), ("V:x", "x")]);
        assert_eq!(
            select_variant(&v, &overrides("x:y:z")).as_deref(),
            Some("V:z")
        );
    }

    #[test]
    fn combined_suffixes_follow_bitbakes_procedure() {
        // spec §5.3.
        let v = variants(&[("X:a", "a"), ("X:b", "b"), ("X:a:b", "a:b")]);
        assert_eq!(
            select_variant(&v, &overrides("a:b")).as_deref(),
            Some("X:a:b")
        );
        let v = variants(&[("X:c", "c"), ("X:a:b", "a:b")]);
        assert_eq!(
            select_variant(&v, &overrides("a:b:c")).as_deref(),
            Some("X:a:b")
        );
        let v = variants(&[("X:c", "c"), ("X:b:a", "b:a")]);
        assert_eq!(
            select_variant(&v, &overrides("a:b:c")).as_deref(),
            Some("X:c")
        );
        let v = variants(&[("X:b:c", "b:c"), ("X:a:c", "a:c")]);
        assert_eq!(
            select_variant(&v, &overrides("a:b:c")).as_deref(),
            Some("X:b:c")
        );
        let v = variants(&[("X:a:c", "a:c")]);
        assert_eq!(select_variant(&v, &overrides("a:b")), None);
    }

    #[test]
    fn variant_registration() {
        assert_eq!(variant_bases("A:b:c"), [("A:b", "c"), ("A", "b:c")]);
        assert!(variant_bases("X:Foo").is_empty());
        assert_eq!(variant_bases("A:Foo:bar"), [("A:Foo", "bar")]);
        assert_eq!(variant_bases("X:fOO"), [("X", "fOO")]);
        assert!(variant_bases("A").is_empty());
        assert!(variant_bases(":a").is_empty());
    }
}
