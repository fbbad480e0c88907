//! Downloads through Remote Asset (`build.bazel.remote.asset.v1`): the
//! fetcher's [`DownloadCache`] backed by the server's Fetch and Push
//! services, so that a machine without access to the sources' hosts
//! builds from what another machine fetched.
//!
//! A download is named by its URL and one qualifier, `checksum.sri` =
//! `sha256-<base64 of the SHA-256>` (the Remote Asset API's standard
//! qualifier for a subresource-integrity checksum), the checksum from
//! `SRC_URI[sha256sum]`. FetchBlob's answer is used only if its digest
//! has that SHA-256; the blob then comes through the CAS like any other
//! (hashed as it is stored) and the fetcher checks the file again.
//!
//! Invariants: a server without Remote Asset (`UNIMPLEMENTED`, as
//! BuildGrid) or failing at it turns only this part off, with a note;
//! a download is pushed right after it was fetched and checked, only
//! when uploads are on.

use std::path::Path;
use std::sync::atomic::Ordering;

use base64::Engine;
use bazel_remote_apis::build::bazel::remote::asset::v1 as asset;
use tonic::Code;

use super::{RemoteCache, transfer};
use crate::cas::Digest;
use crate::datastore::python::DownloadCache;

/// The qualifiers naming a download by its SHA-256 (64 hex digits).
fn qualifiers(sha256: &[u8; 32]) -> Vec<asset::Qualifier> {
    vec![asset::Qualifier {
        name: "checksum.sri".to_string(),
        value: format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(sha256)
        ),
    }]
}

/// The hash of a hex SHA-256 (`None` if it is not one).
fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    format!("{}/0", hex.to_ascii_lowercase())
        .parse::<Digest>()
        .ok()
        .map(|d| d.hash)
}

impl RemoteCache {
    fn assets_usable(&self) -> bool {
        !self.shared().assets_off.load(Ordering::Relaxed) && self.limits().is_some()
    }

    /// Turns Remote Asset off for this build after `status`.
    fn assets_failed(&self, what: &str, status: &tonic::Status) {
        let shared = self.shared();
        let message = if status.code() == Code::Unimplemented {
            "the server does not offer Remote Asset; downloads are not shared".to_string()
        } else {
            format!(
                "{what} failed ({:?}: {}); downloads are not shared",
                status.code(),
                status.message()
            )
        };
        if !shared.assets_off.swap(true, Ordering::Relaxed) {
            eprintln!("note: remote cache {}: {message}", shared.config.url);
        }
    }

    fn fetch_asset(&self, url: &str, sha256: &str, dest: &Path) -> Result<bool, String> {
        let Some(hash) = parse_sha256(sha256) else {
            return Ok(false);
        };
        if !self.assets_usable() {
            return Ok(false);
        }
        let Some(limits) = self.limits() else {
            return Ok(false);
        };
        let shared = self.shared();
        let answer = self.block_on(shared.client.fetch_blob(
            &shared.counters,
            url,
            qualifiers(&hash),
        ));
        let digest = match answer {
            Ok(Some(digest)) => digest,
            Ok(None) => return Ok(false),
            Err(status) => {
                self.assets_failed("FetchBlob", &status);
                return Ok(false);
            }
        };
        if digest.hash != hash {
            return Err(format!(
                "the server's blob for {url} is {digest}, not the SHA-256 {sha256}"
            ));
        }
        self.block_on(transfer::download_blobs(
            &shared.transfer(&limits),
            &[digest],
        ))
        .map_err(|e| e.to_string())?;
        // A fresh file with the usual mode, not a copy of the read-only
        // blob.
        let mut source = shared.local.open_blob(&digest).map_err(|e| e.to_string())?;
        let mut file =
            std::fs::File::create(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        std::io::copy(&mut source, &mut file).map_err(|e| format!("{}: {e}", dest.display()))?;
        shared.assets_fetched.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }
}

impl DownloadCache for RemoteCache {
    fn fetch(&self, url: &str, sha256: &str, dest: &Path) -> bool {
        match self.fetch_asset(url, sha256, dest) {
            Ok(fetched) => fetched,
            Err(reason) => {
                eprintln!(
                    "warning: remote cache {}: not using its copy of {url}: {reason}",
                    self.url()
                );
                let _ = std::fs::remove_file(dest);
                false
            }
        }
    }

    fn push(&self, url: &str, sha256: &str, path: &Path) {
        let shared = self.shared();
        if !shared.config.upload || shared.uploads_off.load(Ordering::Relaxed) {
            return;
        }
        let Some(hash) = parse_sha256(sha256) else {
            return;
        };
        if !self.assets_usable() {
            return;
        }
        let Some(limits) = self.limits() else {
            return;
        };
        // Into the local CAS first (do_fetch's outputs go there anyway),
        // so that the upload reads a checked blob.
        let digest = match shared.local.put_file(path) {
            Ok(digest) if digest.hash == hash => digest,
            _ => return,
        };
        // On the caller's thread: a push is rare (one per fetched
        // download).
        let pushed = self.block_on(async {
            transfer::upload_blobs(&shared.transfer(&limits), &[digest], &Default::default())
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            shared
                .client
                .push_blob(&shared.counters, url, qualifiers(&hash), &digest)
                .await
        });
        match pushed {
            Ok(()) => {
                shared.assets_pushed.fetch_add(1, Ordering::Relaxed);
            }
            Err(status) => self.assets_failed("PushBlob", &status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_qualifier_is_sri() {
        // sha256 of the empty string, in SRI form.
        let hash = parse_sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .unwrap();
        assert_eq!(
            qualifiers(&hash)[0].value,
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(qualifiers(&hash)[0].name, "checksum.sri");
        assert!(parse_sha256("not hex").is_none());
    }
}
