//! `PREMIRRORS` and `MIRRORS`: the other places a source may be fetched
//! from, as BitBake derives them.
//!
//! A mirror variable holds pairs `FIND REPLACE` (whitespace separated; the
//! two characters `\n` count as whitespace). Each part of FIND (scheme,
//! host, path, user, password) is a Python regular expression matched at
//! the start of the same part of the source URL; the scheme must match
//! whole. On a match, REPLACE's part, with `TYPE`, `HOST`, `PATH`,
//! `BASENAME` and `MIRRORNAME` replaced by the original URL's values, takes
//! the matched text's place (`\1`-style groups allowed). Parameters in
//! FIND must equal the URL's; parameters in REPLACE are set. For sources
//! that are single files, the result's path ends in the file's download
//! name. A rewritten URL is rewritten again by the rules after it, and is
//! tried right after the URL it came from.
//!
//! **Invariant:** pure functions of their inputs; no I/O.

use fancy_regex::{Expander, Regex};

use super::FetchError;
use super::url::Url;

/// One `FIND REPLACE` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorRule {
    pub find: String,
    pub replace: String,
}

/// The rules of a mirror variable's value, and a warning when it has an
/// odd number of words (the last one is then ignored, as BitBake does).
pub fn parse_rules(text: &str) -> (Vec<MirrorRule>, Option<String>) {
    let text = text.replace("\\n", " ");
    let words: Vec<&str> = text.split_whitespace().collect();
    let rules = words
        .chunks_exact(2)
        .map(|pair| MirrorRule {
            find: pair[0].to_string(),
            replace: pair[1].to_string(),
        })
        .collect();
    let warning = (!words.len().is_multiple_of(2)).then(|| {
        format!("invalid mirror data `{text}`: it should be pairs of a pattern and a replacement")
    });
    (rules, warning)
}

/// The words REPLACE may use, from the original URL.
#[derive(Debug, Clone)]
pub struct Replacements(Vec<(&'static str, String)>);

impl Replacements {
    pub fn of(original: &Url) -> Replacements {
        let mirrorname = format!(
            "{}{}",
            original.host.replace(':', "."),
            original.path.replace(['/', '*'], ".")
        );
        Replacements(vec![
            ("TYPE", original.scheme.clone()),
            ("HOST", original.host.clone()),
            ("PATH", original.path.clone()),
            ("BASENAME", original.basename().to_string()),
            ("MIRRORNAME", mirrorname),
        ])
    }

    fn apply(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (word, value) in &self.0 {
            text = text.replace(word, value);
        }
        text
    }
}

/// What a URL being rewritten is: its text, and the name its download has
/// when it is a single file that can be checksummed (BitBake's
/// `basename(localpath)`; `None` for directories and git repositories).
#[derive(Debug, Clone)]
pub struct MirrorSource<'a> {
    pub url: &'a str,
    pub download_name: Option<String>,
}

/// BitBake's `uri_replace`: `source` rewritten by `rule`, or `None` when
/// the rule does not apply (or rewrites the URL to itself).
/// `mirror_tarball` names the archive a repository is mirrored as, used
/// when the rule changes the URL's scheme.
pub fn rewrite(
    source: &MirrorSource<'_>,
    rule: &MirrorRule,
    replacements: &Replacements,
    mirror_tarball: Option<&str>,
) -> Result<Option<String>, FetchError> {
    let uri = Url::parse_mirror(source.url)?;
    let find = Url::parse_mirror(&rule.find)?;
    let replace = Url::parse_mirror(&rule.replace)?;
    let mut result = Url::default();
    let mut uri_params = uri.params.clone();
    let mut find_params = find.params.clone();

    // Scheme (matched whole), host, path, then user and password.
    let mut scheme_pattern = find.scheme.clone();
    if !scheme_pattern.is_empty() && !scheme_pattern.ends_with('$') {
        scheme_pattern.push('$');
    }
    let Some(scheme) = substitute(
        &scheme_pattern,
        &uri.scheme,
        &replace.scheme,
        replacements,
        &rule.find,
    )?
    else {
        return Ok(None);
    };
    result.scheme = scheme;
    let Some(host) = substitute(
        &find.host,
        &uri.host,
        &replace.host,
        replacements,
        &rule.find,
    )?
    else {
        return Ok(None);
    };
    result.host = host;
    let Some(mut path) = substitute(
        &find.path,
        &uri.path,
        &replace.path,
        replacements,
        &rule.find,
    )?
    else {
        return Ok(None);
    };
    // The download keeps its name: the rewritten path ends in it.
    let mut basename = None;
    if uri.scheme != replace.scheme
        && let Some(tarball) = mirror_tarball
    {
        basename = Some(tarball.rsplit('/').next().unwrap_or(tarball).to_string());
        // A mirror tarball takes no parameters.
        uri_params = Default::default();
        find_params = Default::default();
    } else if let Some(name) = &source.download_name {
        basename = Some(name.clone());
    }
    if let Some(basename) = basename {
        let uri_basename = uri.basename();
        let slashed = format!("/{path}");
        if !uri_basename.is_empty()
            && basename != uri_basename
            && slashed.ends_with(&format!("/{uri_basename}"))
        {
            path = format!(
                "{}{basename}",
                &slashed[1..slashed.len() - uri_basename.len()]
            );
        } else if !slashed.ends_with(&format!("/{basename}")) {
            path = join_path(&slashed[1..], &basename);
        }
    }
    result.path = path;
    for (part, find_part, uri_part, replace_part) in [
        (0, &find.user, &uri.user, &replace.user),
        (1, &find.password, &uri.password, &replace.password),
    ] {
        let value = if !replace_part.is_empty() {
            replace_part.clone()
        } else {
            match substitute(find_part, uri_part, replace_part, replacements, &rule.find)? {
                Some(v) => v,
                None => return Ok(None),
            }
        };
        if part == 0 {
            result.user = value;
        } else {
            result.password = value;
        }
    }
    // Parameters: those FIND names must be the URL's; REPLACE's are set.
    for (key, value) in find_params.iter() {
        if !uri_params.contains(key) || uri_params.get(key) != value {
            return Ok(None);
        }
    }
    result.params = uri_params;
    for (key, value) in replace.params.iter() {
        result.params.set(key, value.map(|v| replacements.apply(v)));
    }
    let text = result.encode()?;
    Ok((text != source.url).then_some(text))
}

/// One part: `None` when `pattern` does not match at the start of
/// `value`; otherwise `value` with that match replaced by `replacement`
/// (after the replacement words), or "" when `replacement` is empty.
fn substitute(
    pattern: &str,
    value: &str,
    replacement: &str,
    replacements: &Replacements,
    rule: &str,
) -> Result<Option<String>, FetchError> {
    let regex = Regex::new(&format!("^(?:{pattern})")).map_err(|e| FetchError::Parameter {
        url: rule.to_string(),
        message: format!("the mirror pattern `{pattern}` is not a regular expression: {e}"),
    })?;
    let captures = regex.captures(value).map_err(|e| FetchError::Parameter {
        url: rule.to_string(),
        message: format!("the mirror pattern `{pattern}` failed: {e}"),
    })?;
    let Some(captures) = captures else {
        return Ok(None);
    };
    if replacement.is_empty() {
        return Ok(Some(String::new()));
    }
    let template = replacements.apply(replacement);
    let whole = captures.get(0).map_or(0, |m| m.end());
    let mut out = String::new();
    Expander::python().append_expansion(&mut out, &template, &captures);
    out.push_str(&value[whole..]);
    Ok(Some(out))
}

/// `os.path.join(a, b)` for a relative `b`.
fn join_path(a: &str, b: &str) -> String {
    if a.is_empty() || a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// Every URL `rules` turn `original` into, in the order BitBake tries
/// them: for each rule in turn its rewrite, followed at once by the
/// rewrites of that rewrite by the other rules (each rule used at most
/// once along a chain). `download_name` gives a candidate's download name
/// (see [`MirrorSource`]); `tarballs` are the names a repository is
/// mirrored as (empty for single files).
pub fn candidates(
    original: &str,
    rules: &[MirrorRule],
    tarballs: &[String],
    download_name: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, FetchError> {
    let replacements = Replacements::of(&Url::parse_mirror(original)?);
    let tarballs: Vec<Option<&str>> = if tarballs.is_empty() {
        vec![None]
    } else {
        tarballs.iter().map(|t| Some(t.as_str())).collect()
    };
    let mut found = Vec::new();
    let rules: Vec<&MirrorRule> = rules.iter().collect();
    add_candidates(
        original,
        original,
        &rules,
        &tarballs,
        &replacements,
        download_name,
        &mut found,
    )?;
    Ok(found)
}

fn add_candidates(
    original: &str,
    url: &str,
    rules: &[&MirrorRule],
    tarballs: &[Option<&str>],
    replacements: &Replacements,
    download_name: &dyn Fn(&str) -> Option<String>,
    found: &mut Vec<String>,
) -> Result<(), FetchError> {
    let source = MirrorSource {
        url,
        download_name: download_name(url),
    };
    for (index, rule) in rules.iter().enumerate() {
        for tarball in tarballs {
            let Some(candidate) = rewrite(&source, rule, replacements, *tarball)? else {
                continue;
            };
            if candidate == original || found.contains(&candidate) {
                continue;
            }
            found.push(candidate.clone());
            let others: Vec<&MirrorRule> = rules
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, r)| *r)
                .collect();
            add_candidates(
                original,
                &candidate,
                &others,
                tarballs,
                replacements,
                download_name,
                found,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(find: &str, replace: &str) -> MirrorRule {
        MirrorRule {
            find: find.to_string(),
            replace: replace.to_string(),
        }
    }

    fn rewrite_file(url: &str, find: &str, replace: &str) -> Option<String> {
        let source = MirrorSource {
            url,
            download_name: Some(Url::parse(url).unwrap().basename().to_string()),
        };
        let replacements = Replacements::of(&Url::parse_mirror(url).unwrap());
        rewrite(&source, &rule(find, replace), &replacements, None).unwrap()
    }

    // Expected values are what BitBake 2.19's uri_replace returns for
    // these inputs (checked by running it).
    #[test]
    fn rewrites_as_bitbake() {
        let url = "http://www.apache.org/dist/subversion/subversion-1.7.1.tar.bz2";
        assert_eq!(
            rewrite_file(
                url,
                "http://www.apache.org/dist",
                "http://www.apache.org/dist-mirror"
            ),
            Some(
                "http://www.apache.org/dist-mirror/subversion/subversion-1.7.1.tar.bz2".to_string()
            )
        );
        assert_eq!(
            rewrite_file(url, "http://.*/.*", "file:///somepath/downloads/"),
            Some("file:///somepath/downloads/subversion-1.7.1.tar.bz2".to_string())
        );
        assert_eq!(
            rewrite_file(
                url,
                "http://www.apache.org/dist/subversion/subversion-1.7.1.tar.bz2",
                "http://somewhere.org/somedir3"
            ),
            Some("http://somewhere.org/somedir3/subversion-1.7.1.tar.bz2".to_string())
        );
        assert_eq!(
            rewrite_file(url, "http://.*/.*", "http://somewhere2.org/somedir3/MIRRORNAME"),
            Some("http://somewhere2.org/somedir3/www.apache.org.dist.subversion.subversion-1.7.1.tar.bz2/subversion-1.7.1.tar.bz2".to_string())
        );
        assert_eq!(
            rewrite_file(
                url,
                "https?://.*/.*",
                "http://mirror.example/sources/BASENAME"
            ),
            Some("http://mirror.example/sources/subversion-1.7.1.tar.bz2".to_string())
        );
        assert_eq!(
            rewrite_file(
                url,
                "http://www.apache.org/(dist)/(.*)",
                r"http://m.org/\2/\1"
            ),
            Some(
                "http://m.org/subversion/subversion-1.7.1.tar.bz2/dist/subversion-1.7.1.tar.bz2"
                    .to_string()
            )
        );
        // The scheme must match whole: `http` does not match `https`.
        assert_eq!(
            rewrite_file("https://a/b.tgz", "http://.*/.*", "file:///m/"),
            None
        );
        // Another host: no match.
        assert_eq!(rewrite_file(url, "http://other.org/.*", "file:///m/"), None);
        // A download name other than the URL's basename replaces it.
        let source = MirrorSource {
            url: "https://h/archive/v1.tar.gz;downloadfilename=foo-1.tar.gz",
            download_name: Some("foo-1.tar.gz".to_string()),
        };
        let replacements = Replacements::of(&Url::parse_mirror(source.url).unwrap());
        assert_eq!(
            rewrite(
                &source,
                &rule("https://.*/.*", "http://m/PATH"),
                &replacements,
                None
            )
            .unwrap(),
            Some("http://m/archive/foo-1.tar.gz;downloadfilename=foo-1.tar.gz".to_string())
        );
    }

    #[test]
    fn git_urls_and_mirror_tarballs() {
        let url = "git://git.invalid.infradead.org/mtd-utils.git;tag=1234567890123456789012345678901234567890";
        let source = MirrorSource {
            url,
            download_name: None,
        };
        let replacements = Replacements::of(&Url::parse_mirror(url).unwrap());
        assert_eq!(
            rewrite(
                &source,
                &rule("git://.*/.*", "http://somewhere.org/somedir/"),
                &replacements,
                Some("git2_git.invalid.infradead.org.mtd-utils.git.tar.gz")
            )
            .unwrap(),
            Some(
                "http://somewhere.org/somedir/git2_git.invalid.infradead.org.mtd-utils.git.tar.gz"
                    .to_string()
            )
        );
        assert_eq!(
            rewrite(&source, &rule("git://.*/.*", "git://somewhere.org/somedir/BASENAME;protocol=http"), &replacements, None).unwrap(),
            Some("git://somewhere.org/somedir/mtd-utils.git;tag=1234567890123456789012345678901234567890;protocol=http".to_string())
        );
        assert_eq!(
            rewrite(&source, &rule("git://.*/.*", "git://somewhere.org/somedir/MIRRORNAME;protocol=http"), &replacements, None).unwrap(),
            Some("git://somewhere.org/somedir/git.invalid.infradead.org.mtd-utils.git;tag=1234567890123456789012345678901234567890;protocol=http".to_string())
        );
    }

    #[test]
    fn candidates_chain_in_bitbake_order() {
        let (rules, warning) = parse_rules(
            "http://.*/.* http://mirror1/\\n http://mirror1/.* file:///local/ \n\
             https://.*/.* http://mirror2/",
        );
        assert!(warning.is_none());
        assert_eq!(rules.len(), 3);
        let name = |u: &str| Url::parse(u).ok().map(|u| u.basename().to_string());
        let found = candidates("http://upstream/a/x.tgz", &rules, &[], &name).unwrap();
        assert_eq!(
            found,
            vec![
                "http://mirror1/x.tgz".to_string(),
                "file:///local/x.tgz".to_string(),
            ]
        );
        let (_, warning) = parse_rules("a b c");
        assert!(warning.is_some());
    }

    #[test]
    fn bad_patterns_are_errors_not_panics() {
        let source = MirrorSource {
            url: "http://h/x.tgz",
            download_name: None,
        };
        let replacements = Replacements::of(&Url::parse_mirror(source.url).unwrap());
        assert!(
            rewrite(
                &source,
                &rule("http://(/.*", "file:///m/"),
                &replacements,
                None
            )
            .is_err()
        );
    }
}
