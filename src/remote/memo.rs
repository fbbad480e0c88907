//! Results found on a server and not downloaded, remembered locally so
//! that later builds need neither the server nor an RPC to know them: a
//! task whose result was only looked up (its outputs were not needed)
//! keeps its dependents' keys computable offline, and a no-op rebuild
//! sends nothing. Bazel keeps remote output metadata the same way when it
//! builds "without the bytes".
//!
//! Layout: `CACHE/remote/<server id>/<ab>/<task key hex>`, an encoded
//! `ActionResult`, where the server id is the first 16 hex digits of the
//! SHA-256 of the URL and instance name (another server, another record).
//!
//! Invariants: a record is only a hint, never restored from: using it
//! means downloading its blobs from the server, checked like any remote
//! result; a record is written atomically (temporary file, rename) and
//! removed once its result is downloaded (the local action cache has it
//! then) or refused. Records are small (a few hundred bytes) and not
//! trimmed by `bitzel cache gc` yet.

use std::path::PathBuf;

use prost::Message;

use crate::cas::{Digest, reapi};

/// The remembered results of one server.
pub struct Memo {
    dir: PathBuf,
}

impl Memo {
    /// The records of the server `url` with `instance`, under the local
    /// cache directory `cache_root`.
    pub fn new(cache_root: &std::path::Path, url: &str, instance: &str) -> Memo {
        let id = Digest::of_bytes(format!("{url}\0{instance}").as_bytes()).hex();
        Memo {
            dir: cache_root.join("remote").join(&id[..16]),
        }
    }

    fn path(&self, key: &Digest) -> PathBuf {
        let hex = key.hex();
        self.dir.join(&hex[..2]).join(hex)
    }

    /// The result remembered for `key`, if any (an undecodable record is
    /// removed).
    pub fn recall(&self, key: &Digest) -> Option<reapi::ActionResult> {
        let path = self.path(key);
        let bytes = std::fs::read(&path).ok()?;
        match reapi::ActionResult::decode(bytes.as_slice()) {
            Ok(result) => Some(result),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Remembers `result` for `key` (best effort: a failure only costs a
    /// lookup later).
    pub fn remember(&self, key: &Digest, result: &reapi::ActionResult) {
        let path = self.path(key);
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let temp = path.with_extension(format!("tmp.{}", std::process::id()));
        if std::fs::write(&temp, result.encode_to_vec()).is_err()
            || std::fs::rename(&temp, &path).is_err()
        {
            let _ = std::fs::remove_file(&temp);
        }
    }

    pub fn forget(&self, key: &Digest) {
        let _ = std::fs::remove_file(self.path(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_per_server_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let memo = Memo::new(dir.path(), "grpc://a:1", "");
        let other = Memo::new(dir.path(), "grpc://a:1", "ci");
        let key = Digest::of_bytes(b"task");
        let result = reapi::ActionResult {
            exit_code: 0,
            output_directories: vec![reapi::OutputDirectory {
                path: "tmp/x".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(memo.recall(&key), None);
        memo.remember(&key, &result);
        assert_eq!(memo.recall(&key), Some(result));
        assert_eq!(other.recall(&key), None);
        memo.forget(&key);
        assert_eq!(memo.recall(&key), None);
        // A damaged record is dropped, not used.
        std::fs::create_dir_all(memo.path(&key).parent().unwrap()).unwrap();
        std::fs::write(memo.path(&key), b"\xff\xff\xff").unwrap();
        assert_eq!(memo.recall(&key), None);
        assert!(!memo.path(&key).exists());
    }
}
