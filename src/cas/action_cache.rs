//! The action cache: a task key (a [`Digest`] the executor derives from the
//! task signature) to the task's result, an REAPI `ActionResult` message
//! stored at `ac/sha256/<ab>/<hex of the key>`.
//!
//! Invariants: an entry is replaced atomically (written to `tmp/`,
//! fsynced, renamed); an entry is only stored when every blob it names
//! directly is in the CAS; an entry's mtime is its last use (set when it
//! is written and on every hit), which gc's LRU order reads.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::time::SystemTime;

use prost::Message;

use super::blob::Area;
use super::{Cache, CasError, Digest, Result, reapi};

impl Cache {
    /// Stores `result` as the result of the task `key`, replacing any
    /// previous one. Fails with [`CasError::Missing`] if a blob it names
    /// directly (output files, output trees and their root directories,
    /// stdout and stderr) is not in the CAS.
    pub fn put_action_result(&self, key: &Digest, result: &reapi::ActionResult) -> Result<()> {
        for digest in direct_references(result) {
            let digest = Digest::from_proto(digest)?;
            if digest.size_bytes > 0 && !self.contains(&digest)? {
                return Err(CasError::Missing { digest });
            }
        }
        let (temp, mut file) = self.create_temp()?;
        file.write_all(&result.encode_to_vec())
            .map_err(|e| CasError::io(&temp.path, e))?;
        file.sync_all().map_err(|e| CasError::io(&temp.path, e))?;
        drop(file);
        self.rename_into_place(temp, &self.object_path(Area::ActionResults, &key.hash))
    }

    /// The result stored for the task `key`, if any, marking it used now.
    /// An entry that does not decode is removed and reported as
    /// [`CasError::Corrupt`].
    pub fn get_action_result(&self, key: &Digest) -> Result<Option<reapi::ActionResult>> {
        let path = self.action_result_path(key);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CasError::io(&path, e)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| CasError::io(&path, e))?;
        match reapi::ActionResult::decode(bytes.as_slice()) {
            Ok(result) => {
                // Last use, for gc. Best effort: a read-only cache still
                // serves hits.
                let _ = file.set_modified(SystemTime::now());
                Ok(Some(result))
            }
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(CasError::Corrupt {
                    what: "action result",
                    digest: *key,
                    reason: e.to_string(),
                })
            }
        }
    }

    /// Removes the result of `key` (after restoring it failed with cache
    /// damage); true if there was one.
    pub fn remove_action_result(&self, key: &Digest) -> Result<bool> {
        let path = self.action_result_path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(CasError::io(&path, e)),
        }
    }
}

/// The digests an action result names itself (not those inside its
/// trees).
pub(crate) fn direct_references(result: &reapi::ActionResult) -> Vec<&reapi::Digest> {
    let mut digests = Vec::new();
    digests.extend(result.output_files.iter().filter_map(|f| f.digest.as_ref()));
    for dir in &result.output_directories {
        digests.extend(dir.tree_digest.as_ref());
        digests.extend(dir.root_directory_digest.as_ref());
    }
    digests.extend(result.stdout_digest.as_ref());
    digests.extend(result.stderr_digest.as_ref());
    digests
}
