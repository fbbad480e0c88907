//! The checksums a download is held to: `SRC_URI[sha256sum]` and its
//! siblings, looked up as BitBake does, computed while the bytes stream
//! in, compared before the file gets its final name.
//!
//! For each algorithm the expected value comes from the URL's own
//! parameter (`NAME.sha256sum=` or `sha256sum=`), else from the
//! `SRC_URI` flag `NAME.sha256sum` (with `name=NAME`) or `sha256sum`.
//! Every algorithm with an expected value must match.
//!
//! **Invariant:** a mismatch is always an error that names the URL, the
//! flag, the expected and the actual value.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use md5::Digest;

use super::FetchError;
use super::url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    /// In BitBake's order of checking.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Md5,
        Algorithm::Sha256,
        Algorithm::Sha1,
        Algorithm::Sha384,
        Algorithm::Sha512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }
}

/// One checksum a download must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub algorithm: Algorithm,
    /// The flag or parameter it came from (`sha256sum`, `x.sha256sum`).
    pub flag: String,
    pub value: String,
}

/// The expected checksums of `url`, from its parameters and the `SRC_URI`
/// flags whose names end in `sum` (`flags`). Empty values count as absent.
pub fn expected_for(url: &Url, flags: &HashMap<String, String>) -> Vec<Expected> {
    let mut expected = Vec::new();
    for algorithm in Algorithm::ALL {
        let plain = format!("{}sum", algorithm.name());
        let named = match url.params.get("name") {
            Some(name) => format!("{name}.{plain}"),
            None => plain.clone(),
        };
        let (flag, value) = if let Some(v) = url.params.get(&named) {
            (named, Some(v.to_string()))
        } else if let Some(v) = url.params.get(&plain) {
            (plain, Some(v.to_string()))
        } else {
            let v = flags.get(&named).cloned();
            (named, v)
        };
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            expected.push(Expected {
                algorithm,
                flag,
                value,
            });
        }
    }
    expected
}

/// Hashers for every algorithm wanted, fed as the bytes go by.
pub struct Hashers {
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
    sha384: Option<sha2::Sha384>,
    sha512: Option<sha2::Sha512>,
}

impl Hashers {
    /// Hashers for `wanted` (SHA-256 always: it is what a warning about a
    /// missing checksum shows).
    pub fn new(wanted: &[Expected]) -> Hashers {
        let has = |a| wanted.iter().any(|e| e.algorithm == a);
        Hashers {
            md5: has(Algorithm::Md5).then(md5::Md5::new),
            sha1: has(Algorithm::Sha1).then(sha1::Sha1::new),
            sha256: Some(sha2::Sha256::new()),
            sha384: has(Algorithm::Sha384).then(sha2::Sha384::new),
            sha512: has(Algorithm::Sha512).then(sha2::Sha512::new),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        if let Some(h) = &mut self.md5 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha384 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(bytes);
        }
    }

    pub fn finish(self) -> Sums {
        fn hex(bytes: &[u8]) -> String {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
        let mut sums = Vec::new();
        if let Some(h) = self.md5 {
            sums.push((Algorithm::Md5, hex(&h.finalize())));
        }
        if let Some(h) = self.sha1 {
            sums.push((Algorithm::Sha1, hex(&h.finalize())));
        }
        if let Some(h) = self.sha256 {
            sums.push((Algorithm::Sha256, hex(&h.finalize())));
        }
        if let Some(h) = self.sha384 {
            sums.push((Algorithm::Sha384, hex(&h.finalize())));
        }
        if let Some(h) = self.sha512 {
            sums.push((Algorithm::Sha512, hex(&h.finalize())));
        }
        Sums(sums)
    }
}

/// The checksums of some bytes, lower-case hex.
#[derive(Debug, Clone)]
pub struct Sums(Vec<(Algorithm, String)>);

impl Sums {
    pub fn get(&self, algorithm: Algorithm) -> Option<&str> {
        self.0
            .iter()
            .find(|(a, _)| *a == algorithm)
            .map(|(_, s)| s.as_str())
    }

    /// The sums of a file on disk.
    pub fn of_file(path: &Path, wanted: &[Expected]) -> std::io::Result<Sums> {
        let mut file = std::fs::File::open(path)?;
        let mut hashers = Hashers::new(wanted);
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hashers.update(&buffer[..n]);
        }
        Ok(hashers.finish())
    }

    /// Err naming every expected checksum that does not match. `url` is
    /// the source, `from` where the bytes came from (a mirror, or the URL).
    pub fn verify(&self, wanted: &[Expected], url: &str, from: &str) -> Result<(), FetchError> {
        let mut lines = Vec::new();
        for expected in wanted {
            let actual = self.get(expected.algorithm).unwrap_or_default();
            if !actual.eq_ignore_ascii_case(&expected.value) {
                lines.push((expected, actual.to_string()));
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        let mut message = String::new();
        for (expected, actual) in &lines {
            message.push_str(&format!(
                "checksum mismatch for {url}: SRC_URI[{}] is {} but the file downloaded from {from} has {} {}\n",
                expected.flag,
                expected.value,
                expected.algorithm.name(),
                actual
            ));
        }
        message.push_str(
            "If the file is meant to have changed (a new version without new checksums), \
             set in the recipe:",
        );
        for (expected, actual) in &lines {
            message.push_str(&format!("\n    SRC_URI[{}] = \"{actual}\"", expected.flag));
        }
        Err(FetchError::Checksum {
            url: url.to_string(),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_values_come_from_params_then_flags() {
        let mut flags = HashMap::new();
        flags.insert("sha256sum".to_string(), "aa".to_string());
        flags.insert("x.sha256sum".to_string(), "bb".to_string());
        flags.insert("x.md5sum".to_string(), "".to_string());
        let plain = Url::parse("http://h/f.tgz").unwrap();
        let e = expected_for(&plain, &flags);
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].flag.as_str(), e[0].value.as_str()),
            ("sha256sum", "aa")
        );
        let named = Url::parse("http://h/f.tgz;name=x").unwrap();
        let e = expected_for(&named, &flags);
        assert_eq!(e.len(), 1, "an empty flag is no checksum");
        assert_eq!(
            (e[0].flag.as_str(), e[0].value.as_str()),
            ("x.sha256sum", "bb")
        );
        let param = Url::parse("http://h/f.tgz;name=x;sha256sum=cc").unwrap();
        let e = expected_for(&param, &flags);
        assert_eq!(
            (e[0].flag.as_str(), e[0].value.as_str()),
            ("sha256sum", "cc")
        );
    }

    #[test]
    fn a_mismatch_names_url_flag_and_both_sums() {
        let wanted = vec![Expected {
            algorithm: Algorithm::Sha256,
            flag: "sha256sum".to_string(),
            value: "00".repeat(32),
        }];
        let mut h = Hashers::new(&wanted);
        h.update(b"abc");
        let sums = h.finish();
        let actual = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sums.get(Algorithm::Sha256), Some(actual));
        let err = sums
            .verify(&wanted, "http://h/f", "http://m/f")
            .unwrap_err()
            .to_string();
        assert!(err.contains("http://h/f"), "{err}");
        assert!(err.contains(&"00".repeat(32)), "{err}");
        assert!(err.contains(actual), "{err}");
        assert!(err.contains("SRC_URI[sha256sum] = \""), "{err}");
        let right = vec![Expected {
            value: actual.to_uppercase(),
            ..wanted[0].clone()
        }];
        assert!(sums.verify(&right, "u", "u").is_ok());
    }

    #[test]
    fn md5_alone_is_checked() {
        let wanted = vec![Expected {
            algorithm: Algorithm::Md5,
            flag: "md5sum".to_string(),
            value: "900150983cd24fb0d6963f7d28e17f72".to_string(),
        }];
        let mut h = Hashers::new(&wanted);
        h.update(b"abc");
        assert!(h.finish().verify(&wanted, "u", "u").is_ok());
    }
}
