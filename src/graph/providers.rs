//! Choosing among recipes that provide one name (spec §12, BitBake's
//! provider rules): layer priority, `DEFAULT_PREFERENCE`,
//! `PREFERRED_VERSION`/`REQUIRED_VERSION`, version order, then
//! `PREFERRED_PROVIDER` (build time) or `PREFERRED_RPROVIDER` (run time).
//!
//! Invariant: the result depends only on the candidates' file names and
//! records, never on the order they were parsed in (candidates are sorted
//! by file name first, as BitBake does).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::RecipeSet;

/// One part of a version, in BitBake's comparison order.
#[derive(Debug, PartialEq, Eq)]
enum VersionPart<'a> {
    Tilde,
    Number(u128),
    Alpha(&'a str),
    Other(char),
}

impl VersionPart<'_> {
    fn rank(&self) -> i8 {
        match self {
            VersionPart::Tilde => -1,
            VersionPart::Number(_) => 0,
            VersionPart::Alpha(_) => 1,
            VersionPart::Other(_) => 2,
        }
    }
}

fn version_parts(mut s: &str) -> Vec<VersionPart<'_>> {
    let mut parts = Vec::new();
    while let Some(c) = s.chars().next() {
        if c.is_ascii_digit() {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            // Absurdly long digit runs saturate rather than fail.
            parts.push(VersionPart::Number(s[..end].parse().unwrap_or(u128::MAX)));
            s = &s[end..];
        } else if c.is_ascii_alphabetic() {
            let end = s
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(s.len());
            parts.push(VersionPart::Alpha(&s[..end]));
            s = &s[end..];
        } else {
            parts.push(if c == '~' {
                VersionPart::Tilde
            } else {
                VersionPart::Other(c)
            });
            s = &s[c.len_utf8()..];
        }
    }
    parts
}

/// Compares two version strings part by part (BitBake's `vercmp_part`):
/// `~` sorts before everything, a missing part counts as the number 0 but
/// sorts before a present one of the same rank.
pub fn vercmp_part(a: &str, b: &str) -> Ordering {
    let (va, vb) = (version_parts(a), version_parts(b));
    let mut i = 0;
    loop {
        let (pa, pb) = (va.get(i), vb.get(i));
        i += 1;
        let (ra, rb) = (pa.map_or(0, |p| p.rank()), pb.map_or(0, |p| p.rank()));
        if pa.is_none() && pb.is_none() {
            return Ordering::Equal;
        }
        match ra.cmp(&rb) {
            Ordering::Equal => {}
            other => return other,
        }
        let (Some(pa), Some(pb)) = (pa, pb) else {
            return if pa.is_none() {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        };
        let order = match (pa, pb) {
            (VersionPart::Number(x), VersionPart::Number(y)) => x.cmp(y),
            (VersionPart::Alpha(x), VersionPart::Alpha(y)) => x.cmp(y),
            (VersionPart::Other(x), VersionPart::Other(y)) => x.cmp(y),
            _ => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// Compares `(PE, PV, PR)` triples (BitBake's `vercmp`).
pub fn vercmp(a: (&str, &str, &str), b: (&str, &str, &str)) -> Ordering {
    let epoch = |e: &str| e.trim().parse::<i64>().unwrap_or(0);
    epoch(a.0)
        .cmp(&epoch(b.0))
        .then_with(|| vercmp_part(a.1, b.1))
        .then_with(|| vercmp_part(a.2, b.2))
}

/// The configuration variables provider selection reads.
pub trait ProviderConfig {
    fn get(&self, name: &str) -> Option<&str>;
}

impl ProviderConfig for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// `PREFERRED_VERSION:pn-PN`, then `PREFERRED_VERSION_PN`, then
/// `PREFERRED_VERSION` (likewise for `REQUIRED`); empty counts as unset.
fn version_variable<'c>(
    config: &'c dyn ProviderConfig,
    keyword: &str,
    pn: &str,
) -> Option<&'c str> {
    [
        format!("{keyword}_VERSION:pn-{pn}"),
        format!("{keyword}_VERSION_{pn}"),
        format!("{keyword}_VERSION"),
    ]
    .iter()
    .find_map(|name| config.get(name).filter(|v| !v.is_empty()))
}

/// Groups of one PN's files, highest layer priority first, each group
/// ordered by ascending `DEFAULT_PREFERENCE` (BitBake's `sortPriorities`).
fn sort_priorities(set: &RecipeSet, files: &[u32]) -> Vec<Vec<u32>> {
    let mut by_priority: BTreeMap<i64, BTreeMap<i64, Vec<u32>>> = BTreeMap::new();
    for &f in files {
        let recipe = &set.recipes[f as usize];
        by_priority
            .entry(recipe.priority)
            .or_default()
            .entry(recipe.info.default_preference)
            .or_default()
            .push(f);
    }
    by_priority
        .into_values()
        .rev()
        .map(|prefs| prefs.into_values().flatten().collect())
        .collect()
}

/// A preferred or required version that matched, and whether it was
/// required.
struct Preferred {
    file: Option<u32>,
    required: bool,
}

fn find_preferred(
    set: &RecipeSet,
    config: &dyn ProviderConfig,
    pn: &str,
    groups: &[Vec<u32>],
    warnings: &mut Vec<String>,
) -> Preferred {
    let required_v = version_variable(config, "REQUIRED", pn);
    let mut preferred_v = version_variable(config, "PREFERRED", pn);
    let mut required = false;
    if let Some(required_v) = required_v {
        if preferred_v.is_some() {
            warnings.push(format!(
                "REQUIRED_VERSION and PREFERRED_VERSION for package {pn} are both set using REQUIRED_VERSION {required_v}"
            ));
        }
        preferred_v = Some(required_v);
        required = true;
    }
    let Some(wanted) = preferred_v else {
        return Preferred {
            file: None,
            required,
        };
    };
    // `EPOCH:VERSION_REVISION`, the epoch and the revision optional.
    let (epoch, rest) = match wanted.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.chars().all(|c| c.is_ascii_digit()) => {
            (Some(e), rest)
        }
        _ => (None, wanted),
    };
    let (version, revision) = (rest, None::<&str>);
    let matches = |f: u32| {
        let info = &set.recipes[f as usize].info;
        let pr_ok = revision.is_none_or(|r| r == info.pr);
        let pe_ok = epoch.is_none_or(|e| e == info.pe);
        let pv_ok = version == info.pv
            || version
                .strip_suffix('%')
                .is_some_and(|prefix| info.pv.starts_with(prefix));
        pr_ok && pe_ok && pv_ok
    };
    let file = groups.iter().flatten().copied().find(|&f| matches(f));
    if file.is_none() {
        let mut available: Vec<String> = groups
            .iter()
            .flatten()
            .map(|&f| {
                let info = &set.recipes[f as usize].info;
                if info.pe.is_empty() {
                    info.pv.clone()
                } else {
                    format!("{}:{}", info.pe, info.pv)
                }
            })
            .collect();
        available.sort();
        available.dedup();
        let kind = if required { "required" } else { "preferred" };
        warnings.push(format!(
            "{kind} version {wanted} of {pn} not available (versions available: {})",
            available.join(" ")
        ));
    }
    Preferred { file, required }
}

/// The highest version in `files`, a higher `DEFAULT_PREFERENCE` winning
/// over any version (BitBake's `findLatestProvider`).
fn find_latest(set: &RecipeSet, files: &[u32]) -> Option<u32> {
    let mut latest: Option<u32> = None;
    for &f in files {
        let info = &set.recipes[f as usize].info;
        let better = match latest {
            None => true,
            Some(l) => {
                let best = &set.recipes[l as usize].info;
                (best.default_preference == info.default_preference
                    && vercmp(
                        (&best.pe, &best.pv, &best.pr),
                        (&info.pe, &info.pv, &info.pr),
                    ) == Ordering::Less)
                    || info.default_preference > best.default_preference
            }
        };
        if better {
            latest = Some(f);
        }
    }
    latest
}

/// The eligible providers of `item`, best first (BitBake's
/// `_filterProviders`): one file per PN, the preferred or latest version
/// of the highest-priority layer; a PN equal to `item` goes first.
fn filter(
    set: &RecipeSet,
    config: &dyn ProviderConfig,
    providers: &[u32],
    item: &str,
    warnings: &mut Vec<String>,
) -> Vec<u32> {
    let mut sorted = providers.to_vec();
    sorted.sort_by(|a, b| {
        set.recipes[*a as usize]
            .file
            .cmp(&set.recipes[*b as usize].file)
    });
    sorted.dedup();
    let mut by_pn: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for &p in &sorted {
        by_pn
            .entry(set.recipes[p as usize].info.pn.as_str())
            .or_default()
            .push(p);
    }
    let mut eligible = Vec::new();
    let mut chosen: BTreeMap<&str, u32> = BTreeMap::new();
    let mut groups: BTreeMap<&str, Vec<Vec<u32>>> = BTreeMap::new();
    for (pn, files) in &by_pn {
        let sorted_groups = sort_priorities(set, files);
        let preferred = find_preferred(set, config, pn, &sorted_groups, warnings);
        if preferred.required && preferred.file.is_none() {
            return eligible;
        }
        if let Some(file) = preferred.file {
            chosen.insert(pn, file);
            eligible.push(file);
        }
        groups.insert(pn, sorted_groups);
    }
    for (pn, sorted_groups) in &groups {
        if chosen.contains_key(pn) {
            continue;
        }
        if let Some(file) = sorted_groups.first().and_then(|g| find_latest(set, g)) {
            chosen.insert(pn, file);
            eligible.push(file);
        }
    }
    if let Some(&file) = chosen.get(item)
        && let Some(pos) = eligible.iter().position(|&f| f == file)
    {
        eligible.remove(pos);
        eligible.insert(0, file);
    }
    eligible
}

/// Build-time providers of `item`, best first, and whether
/// `PREFERRED_PROVIDER_item` picked the first.
pub fn filter_providers(
    set: &RecipeSet,
    config: &dyn ProviderConfig,
    providers: &[u32],
    item: &str,
    warnings: &mut Vec<String>,
) -> (Vec<u32>, bool) {
    let mut eligible = filter(set, config, providers, item, warnings);
    let unique = prefer(
        set,
        config,
        &format!("PREFERRED_PROVIDER_{item}"),
        &mut eligible,
    );
    (eligible, unique)
}

/// Moves the provider whose PN the variable `name` names to the front;
/// whether there was one.
fn prefer(
    set: &RecipeSet,
    config: &dyn ProviderConfig,
    name: &str,
    eligible: &mut Vec<u32>,
) -> bool {
    let Some(preferred) = config.get(name).filter(|p| !p.is_empty()) else {
        return false;
    };
    let Some(pos) = eligible
        .iter()
        .position(|&f| set.recipes[f as usize].info.pn == preferred)
    else {
        return false;
    };
    let file = eligible.remove(pos);
    eligible.insert(0, file);
    true
}

/// Run-time providers of `item`, best first, and how many were preferred
/// (more than one is an error: conflicting `PREFERRED_PROVIDER`s).
pub fn filter_providers_runtime(
    set: &RecipeSet,
    config: &dyn ProviderConfig,
    providers: &[u32],
    item: &str,
    warnings: &mut Vec<String>,
) -> (Vec<u32>, usize) {
    let mut eligible = filter(set, config, providers, item, warnings);
    if prefer(
        set,
        config,
        &format!("PREFERRED_RPROVIDER_{item}"),
        &mut eligible,
    ) {
        return (eligible, 1);
    }
    let by_pn: BTreeMap<&str, u32> = eligible
        .iter()
        .map(|&f| (set.recipes[f as usize].info.pn.as_str(), f))
        .collect();
    let mut preferred: Vec<u32> = Vec::new();
    for f in eligible.clone() {
        let pn = &set.recipes[f as usize].info.pn;
        for provide in set.pn_provides(pn) {
            let Some(wanted) = config.get(&format!("PREFERRED_PROVIDER_{provide}")) else {
                continue;
            };
            if let Some(&pref) = by_pn.get(wanted)
                && !preferred.contains(&pref)
            {
                if let Some(pos) = eligible.iter().position(|&e| e == pref) {
                    eligible.remove(pos);
                }
                eligible.insert(0, pref);
                preferred.push(pref);
                break;
            }
        }
    }
    (eligible, preferred.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_bitbake_compares_them() {
        use Ordering::*;
        assert_eq!(vercmp_part("1.2", "1.10"), Less);
        assert_eq!(vercmp_part("1.0", "1.0"), Equal);
        assert_eq!(vercmp_part("1.0~rc1", "1.0"), Less);
        assert_eq!(vercmp_part("1.0", "1.0.1"), Less);
        assert_eq!(vercmp_part("1.0a", "1.0"), Greater);
        assert_eq!(vercmp_part("2.4.0", "2.4"), Greater);
        assert_eq!(vercmp(("1", "1.0", "r0"), ("", "9.9", "r0")), Greater);
        assert_eq!(vercmp(("", "1.0", "r1"), ("", "1.0", "r0")), Greater);
    }
}
