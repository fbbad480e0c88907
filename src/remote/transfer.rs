//! Moving task results between the local cache and the server: uploading
//! a result (its blobs, then the ActionCache entry) and downloading
//! results (their `Tree`s, then the file blobs they name, then a local
//! ActionCache entry each), in as few RPCs as the server's batch limit
//! allows.
//!
//! Invariants: a result is written to the remote ActionCache only after
//! every blob it names is in the remote CAS, and to the local one only
//! after every blob it names (trees, directories, files) is in the local
//! CAS; every downloaded blob is hashed before it is stored (by
//! [`Cache::put_verified_many`] or a [`crate::cas::BlobWriter`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prost::Message;
use tokio::task::JoinSet;

use super::client::{Client, Counters, ReadError};
use super::key::task_action;
use super::{Failure, Limits};
use crate::cas::{Cache, CasError, Digest, reapi};

/// What a transfer works with.
pub struct Transfer<'a> {
    pub client: &'a Client,
    pub counters: &'a Arc<Counters>,
    pub limits: &'a Limits,
    pub local: &'a Cache,
    /// Blobs the server sent with the wrong content in this build: the
    /// next upload of a result naming one sends it again, whatever
    /// FindMissingBlobs says, so that a server that overwrites repairs
    /// its copy.
    pub served_wrong: &'a Mutex<HashSet<Digest>>,
}

impl Transfer<'_> {
    /// A downloaded blob that does not match its digest is the server's
    /// fault: noted, and reported as such.
    fn refuse_content(&self, error: CasError) -> Failure {
        match error {
            CasError::Corrupt { digest, reason, .. } => {
                super::lock(self.served_wrong).insert(digest);
                Failure::Rejected(format!(
                    "the server's blob {digest} does not match its digest ({reason})"
                ))
            }
            other => Failure::local(other),
        }
    }
}

/// What a blob costs in a batch besides its bytes (digest, framing).
const BLOB_OVERHEAD: u64 = 256;
/// Digests per FindMissingBlobs request (≈ 80 bytes each).
const FIND_MISSING_CHUNK: usize = 10_000;
/// Uploads up to this many bytes (with overhead) are sent whole, without
/// FindMissingBlobs first.
const SMALL_UPLOAD: u64 = 64 << 10;
/// Batch downloads in flight at once.
const PARALLEL_BATCHES: usize = 4;

/// Splits `digests` into batches that fit `limit` (bytes plus overhead)
/// and the blobs too large for any batch, which go through ByteStream.
fn plan_batches(digests: &[Digest], limit: u64) -> (Vec<Vec<Digest>>, Vec<Digest>) {
    let mut batches: Vec<Vec<Digest>> = Vec::new();
    let mut large = Vec::new();
    let mut current = Vec::new();
    let mut current_bytes = 0u64;
    for digest in digests {
        let cost = digest.size_bytes + BLOB_OVERHEAD;
        if cost > limit {
            large.push(*digest);
            continue;
        }
        if current_bytes + cost > limit {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push(*digest);
        current_bytes += cost;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, large)
}

/// `digests` without the empty blob (never transferred), each once, sorted.
fn distinct_nonempty(digests: &[Digest]) -> Vec<Digest> {
    digests
        .iter()
        .copied()
        .filter(|d| d.size_bytes > 0)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Downloads the blobs `digests` into `local`, batched, checked.
pub async fn download_blobs(transfer: &Transfer<'_>, digests: &[Digest]) -> Result<(), Failure> {
    let Transfer {
        client,
        counters,
        limits,
        local,
        ..
    } = *transfer;
    let wanted = distinct_nonempty(digests);
    let wanted = local.find_missing(&wanted).map_err(Failure::local)?;
    let (batches, large) = plan_batches(&wanted, limits.batch_bytes);
    let mut batches = batches.into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < PARALLEL_BATCHES
            && let Some(batch) = batches.next()
        {
            let client = client.clone();
            let counters = Arc::clone(counters);
            running.spawn(async move { client.batch_read(&counters, &batch).await });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let blobs = joined
            .map_err(|e| Failure::Unavailable(format!("download task: {e}")))?
            .map_err(Failure::from_status)?;
        local
            .put_verified_many(blobs.iter().map(|(d, data)| (*d, data.as_slice())))
            .map_err(|e| transfer.refuse_content(e))?;
    }
    for digest in large {
        let result = client
            .bytestream_read(counters, &digest, || local.blob_writer(&digest))
            .await;
        match result {
            Ok(()) => {}
            Err(ReadError::Remote(status)) => return Err(Failure::from_status(status)),
            Err(ReadError::Local(error)) => return Err(transfer.refuse_content(error)),
        }
    }
    Ok(())
}

/// Uploads the blobs `digests` the server lacks (all of them when they
/// are few and small): from `inline` when there, else from `local` (read
/// back and hashed, so a damaged local blob is never uploaded). Returns
/// how many were sent.
pub async fn upload_blobs(
    transfer: &Transfer<'_>,
    digests: &[Digest],
    inline: &HashMap<Digest, Vec<u8>>,
) -> Result<usize, Failure> {
    let Transfer {
        client,
        counters,
        limits,
        local,
        ..
    } = *transfer;
    let all = distinct_nonempty(digests);
    let served_wrong = super::lock(transfer.served_wrong).clone();
    let total: u64 = all.iter().map(|d| d.size_bytes + BLOB_OVERHEAD).sum();
    // Sending a few kilobytes again costs less than asking which of them
    // the server lacks (a round trip): small uploads skip the question.
    let ask = total > SMALL_UPLOAD.min(limits.batch_bytes);
    let mut missing: Vec<Digest> = all
        .iter()
        .copied()
        .filter(|d| !ask || served_wrong.contains(d))
        .collect();
    for chunk in all.chunks(FIND_MISSING_CHUNK).filter(|_| ask) {
        missing.extend(
            client
                .find_missing(counters, chunk)
                .await
                .map_err(Failure::from_status)?
                .into_iter()
                .filter(|d| !served_wrong.contains(d)),
        );
    }
    if let Some(max) = limits.max_blob
        && let Some(too_big) = missing.iter().find(|d| d.size_bytes > max)
    {
        return Err(Failure::Rejected(format!(
            "blob {too_big} is larger than the server accepts ({max} bytes)"
        )));
    }
    let (batches, large) = plan_batches(&missing, limits.batch_bytes);
    for batch in batches {
        let mut blobs = Vec::with_capacity(batch.len());
        for digest in batch {
            let data = match inline.get(&digest) {
                Some(data) => data.clone(),
                None => local.read_blob(&digest).map_err(Failure::local)?,
            };
            blobs.push((digest, data));
        }
        client
            .batch_update(counters, blobs)
            .await
            .map_err(Failure::from_status)?;
    }
    for digest in &large {
        local.verify_blob(digest).map_err(Failure::local)?;
        let path = local.blob_path(digest);
        client
            .bytestream_write(counters, digest, || std::fs::File::open(&path))
            .await
            .map_err(Failure::from_status)?;
    }
    if !served_wrong.is_empty() {
        let mut still_wrong = super::lock(transfer.served_wrong);
        for digest in &missing {
            still_wrong.remove(digest);
        }
    }
    Ok(missing.len())
}

/// What a `Tree` holds: its directories, each encoded with its digest
/// (the root first), and the digests of the files they name.
struct TreeContents {
    directories: Vec<(Digest, Vec<u8>)>,
    files: Vec<Digest>,
}

/// The contents of `tree`. Checks that the root is `expected_root` (when
/// given) and that every subdirectory a directory names is in the tree.
fn tree_contents(
    tree: &reapi::Tree,
    expected_root: Option<&reapi::Digest>,
) -> Result<TreeContents, String> {
    let root = tree.root.as_ref().ok_or("a tree without a root")?;
    let mut directories = Vec::with_capacity(tree.children.len() + 1);
    let mut named = Vec::new();
    let mut files = Vec::new();
    for dir in std::iter::once(root).chain(&tree.children) {
        let bytes = dir.encode_to_vec();
        directories.push((Digest::of_bytes(&bytes), bytes));
        for node in &dir.directories {
            let digest = node
                .digest
                .as_ref()
                .ok_or("a directory node without a digest")?;
            named.push(Digest::from_proto(digest).map_err(|e| e.to_string())?);
        }
        for node in &dir.files {
            let digest = node.digest.as_ref().ok_or("a file node without a digest")?;
            files.push(Digest::from_proto(digest).map_err(|e| e.to_string())?);
        }
    }
    if let Some(expected) = expected_root {
        let expected = Digest::from_proto(expected).map_err(|e| e.to_string())?;
        if directories[0].0 != expected {
            return Err(format!(
                "the tree's root is {} but the result names {expected}",
                directories[0].0
            ));
        }
    }
    let present: HashSet<Digest> = directories.iter().map(|(d, _)| *d).collect();
    if let Some(absent) = named.iter().find(|d| !present.contains(d)) {
        return Err(format!("directory {absent} is not in the tree"));
    }
    Ok(TreeContents { directories, files })
}

/// The blobs a result names directly besides its output directories.
fn loose_blobs(result: &reapi::ActionResult) -> Result<Vec<Digest>, String> {
    let mut digests = Vec::new();
    for proto in result
        .output_files
        .iter()
        .filter_map(|f| f.digest.as_ref())
        .chain(result.stdout_digest.as_ref())
        .chain(result.stderr_digest.as_ref())
    {
        digests.push(Digest::from_proto(proto).map_err(|e| e.to_string())?);
    }
    Ok(digests)
}

fn tree_digest(output: &reapi::OutputDirectory) -> Result<Digest, String> {
    let proto = output
        .tree_digest
        .as_ref()
        .ok_or_else(|| format!("output directory `{}` has no tree", output.path))?;
    Digest::from_proto(proto).map_err(|e| e.to_string())
}

/// Uploads the result of the task `key`: every blob it names that the
/// server lacks, the Action and Command naming the key, then the
/// ActionCache entry. Returns the number of blobs uploaded.
pub async fn upload_result(
    transfer: &Transfer<'_>,
    key: &Digest,
    result: &reapi::ActionResult,
) -> Result<usize, Failure> {
    let local = transfer.local;
    let action = task_action(key);
    let mut inline: HashMap<Digest, Vec<u8>> = HashMap::new();
    inline.insert(Digest::of_bytes(&action.command), action.command);
    inline.insert(action.digest, action.action);
    let mut from_cache = loose_blobs(result).map_err(Failure::Local)?;
    for output in &result.output_directories {
        let tree_digest = tree_digest(output).map_err(Failure::Local)?;
        let bytes = local.read_blob(&tree_digest).map_err(Failure::local)?;
        let tree = reapi::Tree::decode(bytes.as_slice())
            .map_err(|e| Failure::Local(format!("tree {tree_digest}: {e}")))?;
        let contents = tree_contents(&tree, output.root_directory_digest.as_ref())
            .map_err(|e| Failure::Local(format!("tree {tree_digest}: {e}")))?;
        inline.insert(tree_digest, bytes);
        inline.extend(contents.directories);
        from_cache.extend(contents.files);
    }
    let mut all: Vec<Digest> = inline.keys().copied().collect();
    all.extend(from_cache);
    let uploaded = upload_blobs(transfer, &all, &inline).await?;
    transfer
        .client
        .update_action_result(transfer.counters, &action.digest, result)
        .await
        .map_err(Failure::from_status)?;
    Ok(uploaded)
}

/// Downloads what the results of the tasks `results` (task key, result)
/// name and the local cache lacks, then records each result in the local
/// action cache.
pub async fn download_results(
    transfer: &Transfer<'_>,
    results: &[(Digest, reapi::ActionResult)],
) -> Result<(), Failure> {
    let local = transfer.local;
    let mut trees = Vec::new();
    let mut files = Vec::new();
    for (_, result) in results {
        for output in &result.output_directories {
            trees.push((
                tree_digest(output).map_err(Failure::Rejected)?,
                output.root_directory_digest.clone(),
            ));
        }
        files.extend(loose_blobs(result).map_err(Failure::Rejected)?);
    }
    let tree_digests: Vec<Digest> = trees.iter().map(|(d, _)| *d).collect();
    download_blobs(transfer, &tree_digests).await?;
    let mut directories = Vec::new();
    for (digest, root) in &trees {
        // Read back through the cache: hashed again, so what is parsed is
        // what the digest names.
        let bytes = local.read_blob(digest).map_err(Failure::local)?;
        let tree = reapi::Tree::decode(bytes.as_slice())
            .map_err(|e| Failure::Rejected(format!("tree {digest}: {e}")))?;
        let contents = tree_contents(&tree, root.as_ref())
            .map_err(|e| Failure::Rejected(format!("tree {digest}: {e}")))?;
        directories.extend(contents.directories);
        files.extend(contents.files);
    }
    // Directory blobs come from the trees (hashed as they are stored), so
    // that a later restore can start from a root directory digest.
    local
        .put_verified_many(directories.iter().map(|(d, b)| (*d, b.as_slice())))
        .map_err(Failure::local)?;
    download_blobs(transfer, &files).await?;
    for (key, result) in results {
        local
            .put_action_result(key, result)
            .map_err(Failure::local)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(size: u64) -> Digest {
        Digest {
            hash: [size as u8; 32],
            size_bytes: size,
        }
    }

    #[test]
    fn batches_respect_the_limit_and_large_blobs_stream() {
        let digests = [blob(100), blob(600), blob(300), blob(5000), blob(200)];
        let (batches, large) = plan_batches(&digests, 1024);
        assert_eq!(large, vec![blob(5000)]);
        for batch in &batches {
            let bytes: u64 = batch.iter().map(|d| d.size_bytes + BLOB_OVERHEAD).sum();
            assert!(bytes <= 1024, "{batch:?}");
        }
        let count: usize = batches.iter().map(Vec::len).sum();
        assert_eq!(count, 4);
    }

    #[test]
    fn a_tree_must_hold_every_directory_it_names() {
        let leaf = reapi::Directory::default();
        let leaf_digest = Digest::of_bytes(&leaf.encode_to_vec());
        let root = reapi::Directory {
            directories: vec![reapi::DirectoryNode {
                name: "sub".into(),
                digest: Some(Digest::of_bytes(b"other").to_proto()),
            }],
            ..Default::default()
        };
        let tree = reapi::Tree {
            root: Some(root.clone()),
            children: vec![leaf],
        };
        assert!(tree_contents(&tree, None).is_err());
        let good_root = reapi::Directory {
            directories: vec![reapi::DirectoryNode {
                name: "sub".into(),
                digest: Some(leaf_digest.to_proto()),
            }],
            ..Default::default()
        };
        let tree = reapi::Tree {
            root: Some(good_root.clone()),
            children: tree.children,
        };
        let root_digest = Digest::of_bytes(&good_root.encode_to_vec());
        let contents = tree_contents(&tree, Some(&root_digest.to_proto())).unwrap();
        assert_eq!(contents.directories.len(), 2);
        assert!(contents.files.is_empty());
        assert!(tree_contents(&tree, Some(&leaf_digest.to_proto())).is_err());
    }
}
