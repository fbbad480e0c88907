//! SRC_URI entries as BitBake reads them: `decodeurl`, `encodeurl` and the
//! mirror variant `decodemirrorurl`, with BitBake's results for every
//! input (the facts of its `URI` class over Python's `urllib.parse`).
//!
//! A URL is `scheme://[user[:password]@]host[:port]/path[?query];k=v;...`.
//! The `;` parameters are split off before anything else. `file://` URLs
//! have no host: `file://a/b` is the relative path `a/b`. The path is
//! percent-decoded; `encodeurl` quotes it again.
//!
//! **Invariant:** pure functions of their text; no I/O.

use super::FetchError;

/// A URL's `;key=value` parameters in their order. A key given twice
/// keeps its first place and its last value (a Python dict's behaviour);
/// a parameter without `=` has no value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, Option<String>)>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub fn set(&mut self, key: &str, value: Option<String>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `k=v;k2=v2`, as BitBake writes them after the location.
    fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(key);
            if let Some(value) = value {
                out.push('=');
                out.push_str(value);
            }
        }
        out
    }
}

impl FromIterator<(String, Option<String>)> for Params {
    fn from_iter<I: IntoIterator<Item = (String, Option<String>)>>(iter: I) -> Params {
        let mut params = Params::default();
        for (k, v) in iter {
            params.set(&k, v);
        }
        params
    }
}

/// The six parts BitBake's `decodeurl` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Url {
    /// Lower case for `decodeurl`, as written for `decodemirrorurl`.
    pub scheme: String,
    /// Host and `:port` if there is a port (BitBake's `hostport`).
    pub host: String,
    /// Percent-decoded; `/` when the URL has none (except `file:`).
    pub path: String,
    pub user: String,
    pub password: String,
    pub params: Params,
}

impl Url {
    /// BitBake's `decodeurl`.
    pub fn parse(text: &str) -> Result<Url, FetchError> {
        let malformed = |why: &str| FetchError::Malformed {
            url: text.to_string(),
            message: why.to_string(),
        };
        let (location, param_text) = match text.split_once(';') {
            Some((l, p)) => (l, Some(p)),
            None => (text, None),
        };
        let mut split = UrlSplit::new(location).map_err(&malformed)?;
        if split.scheme == "file" {
            // `file://a/b` is the relative path a/b, not host a: BitBake
            // drops the first `//` after a `:` unless a third `/` follows.
            let rewritten = drop_relative_file_slashes(location);
            split = UrlSplit::new(&rewritten).map_err(&malformed)?;
        }
        let relative = (split.scheme == "file" || split.scheme == "git")
            && starts_with_scheme_not_slashes(location, &split);
        let mut url = Url {
            scheme: split.scheme.clone(),
            ..Url::default()
        };
        if !relative {
            let (hostname, port) = split.host_and_port();
            let port = match port {
                None => None,
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    match p.parse::<u32>() {
                        Ok(n) if n <= 65535 => Some(n),
                        _ => return Err(malformed("port out of range 0-65535")),
                    }
                }
                Some(p) => return Err(malformed(&format!("port `{p}` is not a number"))),
            };
            url.host = match port {
                Some(port) if port != 0 => format!("{hostname}:{port}"),
                _ => hostname,
            };
            if let Some((user, password)) = split.userinfo() {
                url.user = user;
                url.password = password;
            }
        }
        url.path = unquote(&split.path);
        if url.path.is_empty() {
            url.path = "/".to_string();
        }
        if let Some(params) = param_text {
            url.params = params
                .split(';')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (p.to_string(), None),
                })
                .collect();
        }
        Ok(url)
    }

    /// BitBake's `decodemirrorurl`, which reads mirror patterns (whose
    /// parts are regular expressions) and the URLs they are matched
    /// against: no lower-casing, no port handling, `=` required in
    /// parameters.
    pub fn parse_mirror(text: &str) -> Result<Url, FetchError> {
        let malformed = |why: &str| FetchError::Malformed {
            url: text.to_string(),
            message: why.to_string(),
        };
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(malformed("no `://`"));
        };
        if scheme.contains(':') {
            return Err(malformed("no `://` after the scheme"));
        }
        // `user@` runs up to the last `@` before any `/` or `;`.
        let head_end = rest.find(['/', ';']).unwrap_or(rest.len());
        let (mut user, rest) = match rest[..head_end].rfind('@') {
            Some(at) if at > 0 => (rest[..at].to_string(), &rest[at + 1..]),
            _ => (String::new(), rest),
        };
        let (location, param_text) = match rest.split_once(';') {
            Some((l, p)) => (l, Some(p)),
            None => (rest, None),
        };
        if location.is_empty() {
            return Err(malformed("no location"));
        }
        let is_file = scheme.eq_ignore_ascii_case("file");
        let (host, mut path) = match location.find('/') {
            Some(slash) if !is_file => {
                (location[..slash].to_string(), location[slash..].to_string())
            }
            _ if is_file => (String::new(), location.to_string()),
            _ => (location.to_string(), "/".to_string()),
        };
        if is_file && !user.is_empty() {
            path = format!("{user}@{path}");
            user.clear();
        }
        let (user, password) = match user.split_once(':') {
            Some((u, p)) if !u.is_empty() => (u.to_string(), p.to_string()),
            _ => (user, String::new()),
        };
        let mut params = Params::default();
        for item in param_text
            .unwrap_or("")
            .split(';')
            .filter(|p| !p.is_empty())
        {
            let Some((k, v)) = item.split_once('=') else {
                return Err(malformed(&format!(
                    "parameter `{item}` does not specify a value (missing `=`)"
                )));
            };
            params.set(k, Some(v.to_string()));
        }
        Ok(Url {
            scheme: scheme.to_string(),
            host,
            path: unquote(&path),
            user,
            password,
            params,
        })
    }

    /// BitBake's `encodeurl`: the URL text of these parts.
    pub fn encode(&self) -> Result<String, FetchError> {
        if self.scheme.is_empty() {
            return Err(FetchError::Parameter {
                url: format!("{self:?}"),
                message: "a URL needs a scheme".to_string(),
            });
        }
        let is_file = self.scheme == "file";
        let mut userinfo = String::new();
        if !self.user.is_empty() && !is_file {
            userinfo.push_str(&self.user);
            if !self.password.is_empty() {
                let name = self.user.split(':').next().unwrap_or_default();
                userinfo = format!("{name}:{}", self.password);
            }
        }
        let mut path = self.path.clone();
        while path.contains("//") {
            path = path.replace("//", "/");
        }
        let relative = !path.is_empty() && !path.starts_with('/') && !is_file;
        let mut out = format!("{}:", self.scheme);
        if !relative {
            out.push_str("//");
        }
        if !userinfo.is_empty() {
            out.push_str(&userinfo);
            out.push('@');
        }
        if !is_file {
            out.push_str(&self.host);
        }
        out.push_str(&quote(&path));
        if !self.params.is_empty() {
            out.push(';');
            out.push_str(&self.params.encode());
        }
        Ok(out)
    }

    /// The last component of the path (`foo.tar.gz` of `.../foo.tar.gz`).
    pub fn basename(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

/// Python's `urlsplit` of the part of a URL before its parameters: scheme
/// (lower case), network location, path.
struct UrlSplit {
    scheme: String,
    netloc: String,
    path: String,
}

impl UrlSplit {
    /// Err when the network location has one square bracket without the
    /// other (Python's "Invalid IPv6 URL").
    fn new(text: &str) -> Result<UrlSplit, &'static str> {
        let text: String = text
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect();
        let text = text.trim_start_matches(|c: char| c <= ' ');
        let mut scheme = String::new();
        let mut rest = text;
        if let Some(colon) = text.find(':')
            && colon > 0
            && text.as_bytes()[0].is_ascii_alphabetic()
            && text[..colon]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            scheme = text[..colon].to_ascii_lowercase();
            rest = &text[colon + 1..];
        }
        let mut netloc = String::new();
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            netloc = after[..end].to_string();
            rest = &after[end..];
            if netloc.contains('[') != netloc.contains(']') {
                return Err("invalid IPv6 URL");
            }
        }
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let path = rest.split_once('?').map_or(rest, |(r, _)| r);
        Ok(UrlSplit {
            scheme,
            netloc,
            path: path.to_string(),
        })
    }

    /// (hostname in lower case, port text) as Python's `hostname`/`port`.
    fn host_and_port(&self) -> (String, Option<String>) {
        let hostinfo = self
            .netloc
            .rsplit_once('@')
            .map_or(self.netloc.as_str(), |(_, h)| h);
        let (hostname, port) = match hostinfo.split_once('[') {
            Some((_, bracketed)) => {
                let (host, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
                (host, after.split_once(':').map(|(_, p)| p))
            }
            None => match hostinfo.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostinfo, None),
            },
        };
        let hostname = match hostname.split_once('%') {
            Some((h, zone)) => format!("{}%{zone}", h.to_lowercase()),
            None => hostname.to_lowercase(),
        };
        (hostname, port.filter(|p| !p.is_empty()).map(str::to_string))
    }

    /// (user, password) when the network location has `user@`.
    fn userinfo(&self) -> Option<(String, String)> {
        let (info, _) = self.netloc.rsplit_once('@')?;
        Some(match info.split_once(':') {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => (info.to_string(), String::new()),
        })
    }
}

/// `file://a/b` → `file:a/b`: the first `//` that follows a `:` and is
/// not followed by a third `/` is removed.
fn drop_relative_file_slashes(text: &str) -> String {
    let bytes = text.as_bytes();
    for i in 1..bytes.len().saturating_sub(1) {
        if bytes[i - 1] == b':'
            && bytes[i] == b'/'
            && bytes[i + 1] == b'/'
            && bytes.get(i + 2) != Some(&b'/')
        {
            return format!("{}{}", &text[..i], &text[i + 2..]);
        }
    }
    text.to_string()
}

/// Whether `text` is `word:` not followed by `//` (a relative URL such as
/// `file:a/b` once rewritten). The scheme is already known to be `file`
/// or `git`, so the word is the scheme as written.
fn starts_with_scheme_not_slashes(text: &str, split: &UrlSplit) -> bool {
    let rewritten;
    let text = if split.scheme == "file" {
        rewritten = drop_relative_file_slashes(text);
        rewritten.as_str()
    } else {
        text
    };
    let word_end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    word_end > 0 && text[word_end..].starts_with(':') && !text[word_end + 1..].starts_with("//")
}

/// Python's `urllib.parse.unquote`: `%XX` sequences decoded, the bytes
/// read as UTF-8 with invalid sequences replaced.
pub fn unquote(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Python's `urllib.parse.quote(path)`: everything but letters, digits,
/// `_.-~` and `/` percent-encoded as UTF-8.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// decodeurl's six parts.
    type Decoded = (
        String,
        String,
        String,
        String,
        String,
        Vec<(String, Option<String>)>,
    );

    fn decode(text: &str) -> Decoded {
        let u = Url::parse(text).unwrap();
        (u.scheme, u.host, u.path, u.user, u.password, u.params.0)
    }

    fn p(items: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect()
    }

    fn s(x: &str) -> String {
        x.to_string()
    }

    // Expected values are what BitBake 2.19's decodeurl returns.
    #[test]
    fn decodes_as_bitbake() {
        assert_eq!(
            decode("http://www.example.com/foo/bar-1.0.tar.gz;name=x;downloadfilename=y"),
            (
                s("http"),
                s("www.example.com"),
                s("/foo/bar-1.0.tar.gz"),
                s(""),
                s(""),
                p(&[("name", "x"), ("downloadfilename", "y")])
            )
        );
        assert_eq!(
            decode("file://0001-fix.patch;striplevel=2"),
            (
                s("file"),
                s(""),
                s("0001-fix.patch"),
                s(""),
                s(""),
                p(&[("striplevel", "2")])
            )
        );
        assert_eq!(decode("file://dir/a.c").2, "dir/a.c");
        assert_eq!(decode("file:///abs/a.c").2, "/abs/a.c");
        assert_eq!(decode("file://name@.service").2, "name@.service");
        assert_eq!(
            decode("git://git.Example.com:8080/a/b.git;protocol=https;branch=main"),
            (
                s("git"),
                s("git.example.com:8080"),
                s("/a/b.git"),
                s(""),
                s(""),
                p(&[("protocol", "https"), ("branch", "main")])
            )
        );
        assert_eq!(
            decode("https://user:pw@host/x%20y?q=1#f"),
            (s("https"), s("host"), s("/x y"), s("user"), s("pw"), vec![])
        );
        assert_eq!(decode("http://host").2, "/");
        assert_eq!(decode("HTTP://host/a").0, "http");
        assert_eq!(decode("git:///srv/repo;protocol=file").1, "");
        assert_eq!(decode("x://h/p;flag").5, vec![(s("flag"), None)]);
        assert_eq!(
            decode("x://h/p;a=1;b=2;a=3").5,
            p(&[("a", "3"), ("b", "2")])
        );
        assert!(Url::parse("http://host:99999/x").is_err());
        assert!(Url::parse("http://host:x/x").is_err());
        assert!(Url::parse("file://')])").is_err(), "a `]` without `[`");
        assert_eq!(decode("http://[::1]:8080/x").1, "::1:8080");
    }

    #[test]
    fn encodes_as_bitbake() {
        for text in [
            "http://www.example.com/foo/bar-1.0.tar.gz;name=x",
            "file://0001-fix.patch;striplevel=2",
            "file:///abs/a.c",
            "git://git.example.com/a/b.git;protocol=https;branch=main",
            "https://user:pw@host/x%20y",
        ] {
            assert_eq!(Url::parse(text).unwrap().encode().unwrap(), text);
        }
        let url = Url {
            scheme: s("http"),
            host: s("h"),
            path: s("a//b"),
            ..Url::default()
        };
        // A relative path of a non-file URL loses its `//` (BitBake's quirk).
        assert_eq!(url.encode().unwrap(), "http:ha/b");
    }

    #[test]
    fn decodes_mirror_patterns() {
        let m = Url::parse_mirror("https?://.*/.*").unwrap();
        assert_eq!(
            (m.scheme.as_str(), m.host.as_str(), m.path.as_str()),
            ("https?", ".*", "/.*")
        );
        let m = Url::parse_mirror("file://.*").unwrap();
        assert_eq!((m.host.as_str(), m.path.as_str()), ("", ".*"));
        let m = Url::parse_mirror("git://u:p@host;protocol=https").unwrap();
        assert_eq!(
            (
                m.user.as_str(),
                m.password.as_str(),
                m.host.as_str(),
                m.path.as_str()
            ),
            ("u", "p", "host", "/")
        );
        assert!(Url::parse_mirror("http://h/p;flag").is_err());
        assert!(Url::parse_mirror("no-scheme").is_err());
    }

    #[test]
    fn quotes_and_unquotes_as_python() {
        assert_eq!(quote("/a b/ü~"), "/a%20b/%C3%BC~");
        assert_eq!(unquote("/a%20b/%C3%BC%zz%4"), "/a b/ü%zz%4");
    }
}
