//! The REAPI v2 client: one HTTP/2 channel (tonic) to the server and one
//! async function per RPC Bitzel uses, each with a deadline, a bounded
//! number of retries with backoff, the instance name, the auth header,
//! and a count in [`Counters`].
//!
//! Invariants: every attempt of every RPC is counted and bounded in time
//! (client side, so a server that stops answering costs at most
//! `attempts × deadline` plus the backoff); only errors that may pass
//! (unavailable, deadline, cancelled, resource exhausted, aborted,
//! internal, unknown) are retried; messages are capped at [`MAX_MESSAGE`].

use std::future::Future;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bazel_remote_apis::build::bazel::remote::asset::v1 as asset;
use bazel_remote_apis::google::bytestream::{
    ReadRequest, WriteRequest, byte_stream_client::ByteStreamClient,
};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use super::RemoteConfig;
use crate::cas::{BlobWriter, CasError, Digest, reapi};

/// The largest gRPC message sent or accepted: batches are kept below the
/// server's `max_batch_total_size_bytes` and this; ByteStream carries the
/// rest in chunks.
pub const MAX_MESSAGE: usize = 32 << 20;

/// ByteStream chunk size (what gRPC servers accept by default, with room
/// for the framing).
const CHUNK: usize = 1 << 20;

/// First retry delay; each next one is four times longer (with jitter).
const BACKOFF: Duration = Duration::from_millis(100);

/// The slowest transfer rate tolerated for blobs: a transfer's deadline
/// is the configured timeout plus its size at this rate.
const MIN_BYTES_PER_SECOND: u64 = 1 << 20;

/// The RPCs Bitzel sends, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    GetCapabilities,
    GetActionResult,
    UpdateActionResult,
    FindMissingBlobs,
    BatchReadBlobs,
    BatchUpdateBlobs,
    ByteStreamRead,
    ByteStreamWrite,
    FetchBlob,
    PushBlob,
}

impl Rpc {
    pub const ALL: [Rpc; 10] = [
        Rpc::GetCapabilities,
        Rpc::GetActionResult,
        Rpc::UpdateActionResult,
        Rpc::FindMissingBlobs,
        Rpc::BatchReadBlobs,
        Rpc::BatchUpdateBlobs,
        Rpc::ByteStreamRead,
        Rpc::ByteStreamWrite,
        Rpc::FetchBlob,
        Rpc::PushBlob,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rpc::GetCapabilities => "GetCapabilities",
            Rpc::GetActionResult => "GetActionResult",
            Rpc::UpdateActionResult => "UpdateActionResult",
            Rpc::FindMissingBlobs => "FindMissingBlobs",
            Rpc::BatchReadBlobs => "BatchReadBlobs",
            Rpc::BatchUpdateBlobs => "BatchUpdateBlobs",
            Rpc::ByteStreamRead => "ByteStream.Read",
            Rpc::ByteStreamWrite => "ByteStream.Write",
            Rpc::FetchBlob => "FetchBlob",
            Rpc::PushBlob => "PushBlob",
        }
    }
}

/// RPC attempts and bytes moved, counted from any thread.
#[derive(Default)]
pub struct Counters {
    rpcs: [AtomicU64; Rpc::ALL.len()],
    pub bytes_down: AtomicU64,
    pub bytes_up: AtomicU64,
}

impl Counters {
    fn count(&self, rpc: Rpc) {
        self.rpcs[rpc as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn rpcs(&self, rpc: Rpc) -> u64 {
        self.rpcs[rpc as usize].load(Ordering::Relaxed)
    }
}

/// A connection to one server and instance. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    instance: String,
    auth: Option<MetadataValue<Ascii>>,
    timeout: Duration,
    retries: u32,
}

/// `grpc://` and `grpcs://` (also `http://` and `https://`) to the URI
/// tonic connects to, and whether it is TLS.
fn http_uri(url: &str) -> Result<(String, bool), String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!("remote cache `{url}`: expected grpc://HOST:PORT or grpcs://HOST:PORT")
    })?;
    let tls = match scheme {
        "grpc" | "http" => false,
        "grpcs" | "https" => true,
        _ => {
            return Err(format!(
                "remote cache `{url}`: unsupported scheme `{scheme}` (grpc:// or grpcs://)"
            ));
        }
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(format!(
            "remote cache `{url}`: expected grpc://HOST:PORT or grpcs://HOST:PORT, without a path"
        ));
    }
    let http = if tls { "https" } else { "http" };
    Ok((format!("{http}://{authority}"), tls))
}

impl Client {
    /// A client for `config`; nothing is connected yet (the first RPC
    /// connects). Must be called inside the runtime (tonic spawns the
    /// channel's worker on it). Fails on an invalid URL, token or
    /// certificate.
    pub fn new(config: &RemoteConfig, ca_pem: Option<Vec<u8>>) -> Result<Client, String> {
        let (uri, tls) = http_uri(&config.url)?;
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|e| format!("remote cache `{}`: {e}", config.url))?
            .connect_timeout(config.timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(config.timeout);
        if tls {
            let mut tls_config = ClientTlsConfig::new().with_native_roots();
            if let Some(pem) = ca_pem {
                tls_config = tls_config.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint
                .tls_config(tls_config)
                .map_err(|e| format!("remote cache `{}`: TLS: {e}", config.url))?;
        } else if ca_pem.is_some() {
            return Err(format!(
                "remote cache `{}`: a CA certificate is given but the URL is not grpcs://",
                config.url
            ));
        }
        let auth = match &config.token {
            Some(token) => Some(
                format!("Bearer {}", token.trim())
                    .parse::<MetadataValue<Ascii>>()
                    .map_err(|_| {
                        "remote cache token: not printable ASCII, cannot be a header".to_string()
                    })?,
            ),
            None => None,
        };
        Ok(Client {
            channel: endpoint.connect_lazy(),
            instance: config.instance.clone(),
            auth,
            timeout: config.timeout,
            retries: config.retries,
        })
    }

    /// The deadline of a transfer of `bytes`.
    pub fn transfer_deadline(&self, bytes: u64) -> Duration {
        self.timeout + Duration::from_secs(bytes / MIN_BYTES_PER_SECOND)
    }

    fn request<T>(&self, message: T, deadline: Duration) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(deadline);
        if let Some(auth) = &self.auth {
            request.metadata_mut().insert("authorization", auth.clone());
        }
        request
    }

    fn cas(
        &self,
    ) -> reapi::content_addressable_storage_client::ContentAddressableStorageClient<Channel> {
        reapi::content_addressable_storage_client::ContentAddressableStorageClient::new(
            self.channel.clone(),
        )
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
    }

    fn bytestream(&self) -> ByteStreamClient<Channel> {
        ByteStreamClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }

    /// Runs `call` with a fresh request for `message` until it succeeds,
    /// fails for good, or the retries are spent.
    async fn unary<M, R, F, Fut>(
        &self,
        counters: &Counters,
        rpc: Rpc,
        message: M,
        deadline: Duration,
        mut call: F,
    ) -> Result<R, Status>
    where
        M: Clone,
        F: FnMut(Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let mut attempt = 0;
        loop {
            counters.count(rpc);
            let request = self.request(message.clone(), deadline);
            let result = match tokio::time::timeout(deadline, call(request)).await {
                Ok(result) => result.map(tonic::Response::into_inner),
                Err(_) => Err(Status::deadline_exceeded(format!(
                    "no answer within {:.1} s",
                    deadline.as_secs_f64()
                ))),
            };
            match result {
                Err(status) if attempt < self.retries && is_transient(status.code()) => {
                    backoff(attempt).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    pub async fn capabilities(
        &self,
        counters: &Counters,
    ) -> Result<reapi::ServerCapabilities, Status> {
        let message = reapi::GetCapabilitiesRequest {
            instance_name: self.instance.clone(),
        };
        self.unary(counters, Rpc::GetCapabilities, message, self.timeout, |r| {
            let mut client =
                reapi::capabilities_client::CapabilitiesClient::new(self.channel.clone())
                    .max_decoding_message_size(MAX_MESSAGE);
            async move { client.get_capabilities(r).await }
        })
        .await
    }

    /// The action result stored under `action`, `None` when there is none.
    pub async fn get_action_result(
        &self,
        counters: &Counters,
        action: &Digest,
    ) -> Result<Option<reapi::ActionResult>, Status> {
        let message = reapi::GetActionResultRequest {
            instance_name: self.instance.clone(),
            action_digest: Some(action.to_proto()),
            digest_function: reapi::digest_function::Value::Sha256 as i32,
            ..Default::default()
        };
        let result = self
            .unary(counters, Rpc::GetActionResult, message, self.timeout, |r| {
                let mut client =
                    reapi::action_cache_client::ActionCacheClient::new(self.channel.clone())
                        .max_decoding_message_size(MAX_MESSAGE);
                async move { client.get_action_result(r).await }
            })
            .await;
        match result {
            Ok(result) => Ok(Some(result)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }

    pub async fn update_action_result(
        &self,
        counters: &Counters,
        action: &Digest,
        result: &reapi::ActionResult,
    ) -> Result<(), Status> {
        let message = reapi::UpdateActionResultRequest {
            instance_name: self.instance.clone(),
            action_digest: Some(action.to_proto()),
            action_result: Some(result.clone()),
            digest_function: reapi::digest_function::Value::Sha256 as i32,
            ..Default::default()
        };
        self.unary(
            counters,
            Rpc::UpdateActionResult,
            message,
            self.timeout,
            |r| {
                let mut client =
                    reapi::action_cache_client::ActionCacheClient::new(self.channel.clone())
                        .max_encoding_message_size(MAX_MESSAGE);
                async move { client.update_action_result(r).await }
            },
        )
        .await
        .map(|_| ())
    }

    /// The digests of `digests` the server does not have.
    pub async fn find_missing(
        &self,
        counters: &Counters,
        digests: &[Digest],
    ) -> Result<Vec<Digest>, Status> {
        let message = reapi::FindMissingBlobsRequest {
            instance_name: self.instance.clone(),
            blob_digests: digests.iter().map(Digest::to_proto).collect(),
            digest_function: reapi::digest_function::Value::Sha256 as i32,
        };
        let response = self
            .unary(
                counters,
                Rpc::FindMissingBlobs,
                message,
                self.timeout,
                |r| {
                    let mut client = self.cas();
                    async move { client.find_missing_blobs(r).await }
                },
            )
            .await?;
        response
            .missing_blob_digests
            .iter()
            .map(|d| {
                Digest::from_proto(d).map_err(|e| {
                    Status::internal(format!("FindMissingBlobs answered an invalid digest: {e}"))
                })
            })
            .collect()
    }

    /// Uploads `blobs` in one BatchUpdateBlobs; fails if any blob is
    /// refused.
    pub async fn batch_update(
        &self,
        counters: &Counters,
        blobs: Vec<(Digest, Vec<u8>)>,
    ) -> Result<(), Status> {
        let bytes: u64 = blobs.iter().map(|(d, _)| d.size_bytes).sum();
        let message = reapi::BatchUpdateBlobsRequest {
            instance_name: self.instance.clone(),
            requests: blobs
                .into_iter()
                .map(
                    |(digest, data)| reapi::batch_update_blobs_request::Request {
                        digest: Some(digest.to_proto()),
                        data,
                        compressor: 0,
                    },
                )
                .collect(),
            digest_function: reapi::digest_function::Value::Sha256 as i32,
        };
        let response = self
            .unary(
                counters,
                Rpc::BatchUpdateBlobs,
                message,
                self.transfer_deadline(bytes),
                |r| {
                    let mut client = self.cas();
                    async move { client.batch_update_blobs(r).await }
                },
            )
            .await?;
        for blob in &response.responses {
            if let Some(status) = &blob.status
                && status.code != 0
            {
                let digest = blob
                    .digest
                    .as_ref()
                    .map(|d| format!("{}/{}", d.hash, d.size_bytes))
                    .unwrap_or_default();
                return Err(Status::new(
                    Code::from_i32(status.code),
                    format!("blob {digest} refused: {}", status.message),
                ));
            }
        }
        counters.bytes_up.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Downloads `digests` in one BatchReadBlobs. Each answer is checked
    /// to be one that was asked for; a blob the server does not return
    /// with an OK status is an error naming it. The content is not
    /// checked here: the local CAS hashes it when storing it.
    pub async fn batch_read(
        &self,
        counters: &Counters,
        digests: &[Digest],
    ) -> Result<Vec<(Digest, Vec<u8>)>, Status> {
        let bytes: u64 = digests.iter().map(|d| d.size_bytes).sum();
        let message = reapi::BatchReadBlobsRequest {
            instance_name: self.instance.clone(),
            digests: digests.iter().map(Digest::to_proto).collect(),
            digest_function: reapi::digest_function::Value::Sha256 as i32,
            ..Default::default()
        };
        let response = self
            .unary(
                counters,
                Rpc::BatchReadBlobs,
                message,
                self.transfer_deadline(bytes),
                |r| {
                    let mut client = self.cas();
                    async move { client.batch_read_blobs(r).await }
                },
            )
            .await?;
        let mut blobs = Vec::with_capacity(digests.len());
        for blob in response.responses {
            let digest = blob
                .digest
                .as_ref()
                .and_then(|d| Digest::from_proto(d).ok())
                .filter(|d| digests.contains(d))
                .ok_or_else(|| Status::internal("BatchReadBlobs answered a blob not asked for"))?;
            if let Some(status) = &blob.status
                && status.code != 0
            {
                return Err(Status::new(
                    Code::from_i32(status.code),
                    format!("blob {digest}: {}", status.message),
                ));
            }
            if blob.compressor != 0 {
                return Err(Status::internal(format!(
                    "blob {digest} came compressed, which was not asked for"
                )));
            }
            counters
                .bytes_down
                .fetch_add(blob.data.len() as u64, Ordering::Relaxed);
            blobs.push((digest, blob.data));
        }
        if let Some(missing) = digests
            .iter()
            .find(|d| !blobs.iter().any(|(got, _)| got == *d))
        {
            return Err(Status::not_found(format!(
                "blob {missing} was not returned"
            )));
        }
        Ok(blobs)
    }

    fn resource(&self, digest: &Digest) -> String {
        let tail = format!("blobs/{}/{}", digest.hex(), digest.size_bytes);
        if self.instance.is_empty() {
            tail
        } else {
            format!("{}/{tail}", self.instance)
        }
    }

    /// Streams the blob `digest` into `writer` with ByteStream.Read.
    /// Retried from the start (with a new writer from `new_writer`).
    pub async fn bytestream_read(
        &self,
        counters: &Counters,
        digest: &Digest,
        mut new_writer: impl FnMut() -> Result<Option<BlobWriter>, CasError>,
    ) -> Result<(), ReadError> {
        let deadline = self.transfer_deadline(digest.size_bytes);
        let mut attempt = 0;
        loop {
            counters.count(Rpc::ByteStreamRead);
            let Some(writer) = new_writer().map_err(ReadError::Local)? else {
                return Ok(());
            };
            let read = self.read_into(counters, digest, writer, deadline);
            let result = match tokio::time::timeout(deadline, read).await {
                Ok(result) => result,
                Err(_) => Err(ReadError::Remote(Status::deadline_exceeded(format!(
                    "no complete answer within {:.1} s",
                    deadline.as_secs_f64()
                )))),
            };
            match result {
                Err(ReadError::Remote(status))
                    if attempt < self.retries && is_transient(status.code()) =>
                {
                    backoff(attempt).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn read_into(
        &self,
        counters: &Counters,
        digest: &Digest,
        mut writer: BlobWriter,
        deadline: Duration,
    ) -> Result<(), ReadError> {
        let message = ReadRequest {
            resource_name: self.resource(digest),
            read_offset: 0,
            read_limit: 0,
        };
        let mut stream = self
            .bytestream()
            .read(self.request(message, deadline))
            .await
            .map_err(ReadError::Remote)?
            .into_inner();
        while let Some(chunk) = stream.message().await.map_err(ReadError::Remote)? {
            counters
                .bytes_down
                .fetch_add(chunk.data.len() as u64, Ordering::Relaxed);
            // Blocking file I/O in this future: it runs alone on the
            // caller's thread (`block_on`), so nothing else waits.
            writer.write(&chunk.data).map_err(ReadError::Local)?;
        }
        writer.finish().map_err(ReadError::Local)
    }

    /// Uploads the blob `digest`, read from `open()`, with
    /// ByteStream.Write in chunks. Retried from the start.
    pub async fn bytestream_write(
        &self,
        counters: &Counters,
        digest: &Digest,
        open: impl Fn() -> std::io::Result<std::fs::File>,
    ) -> Result<(), Status> {
        let deadline = self.transfer_deadline(digest.size_bytes);
        let mut attempt = 0;
        loop {
            counters.count(Rpc::ByteStreamWrite);
            let file = open().map_err(|e| Status::internal(format!("blob {digest}: {e}")))?;
            let chunks = Chunks {
                file,
                resource: format!(
                    "{}uploads/{}/blobs/{}/{}",
                    if self.instance.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", self.instance)
                    },
                    uuid::Uuid::new_v4(),
                    digest.hex(),
                    digest.size_bytes
                ),
                offset: 0,
                size: digest.size_bytes,
                done: false,
            };
            let request = self.request(tokio_stream::iter(chunks), deadline);
            let mut client = self.bytestream();
            let result = match tokio::time::timeout(deadline, client.write(request)).await {
                Ok(result) => result.map(tonic::Response::into_inner),
                Err(_) => Err(Status::deadline_exceeded("upload not finished in time")),
            };
            match result {
                Ok(response)
                    if response.committed_size == -1
                        || u64::try_from(response.committed_size) == Ok(digest.size_bytes) =>
                {
                    counters
                        .bytes_up
                        .fetch_add(digest.size_bytes, Ordering::Relaxed);
                    return Ok(());
                }
                Ok(response) => {
                    return Err(Status::internal(format!(
                        "blob {digest}: the server committed {} bytes",
                        response.committed_size
                    )));
                }
                Err(status) if attempt < self.retries && is_transient(status.code()) => {
                    backoff(attempt).await;
                    attempt += 1;
                }
                Err(status) => return Err(status),
            }
        }
    }

    /// Remote Asset FetchBlob: the digest of the blob the server has for
    /// `uri` with `qualifiers`, `None` when it has none.
    pub async fn fetch_blob(
        &self,
        counters: &Counters,
        uri: &str,
        qualifiers: Vec<asset::Qualifier>,
    ) -> Result<Option<Digest>, Status> {
        let message = asset::FetchBlobRequest {
            instance_name: self.instance.clone(),
            uris: vec![uri.to_string()],
            qualifiers,
            digest_function: reapi::digest_function::Value::Sha256 as i32,
            ..Default::default()
        };
        let result = self
            .unary(counters, Rpc::FetchBlob, message, self.timeout, |r| {
                let mut client = asset::fetch_client::FetchClient::new(self.channel.clone());
                async move { client.fetch_blob(r).await }
            })
            .await;
        let response = match result {
            Ok(response) => response,
            Err(status) if status.code() == Code::NotFound => return Ok(None),
            Err(status) => return Err(status),
        };
        match &response.status {
            Some(status) if status.code == Code::NotFound as i32 => return Ok(None),
            Some(status) if status.code != 0 => {
                return Err(Status::new(
                    Code::from_i32(status.code),
                    status.message.clone(),
                ));
            }
            _ => {}
        }
        response
            .blob_digest
            .as_ref()
            .map(|d| {
                Digest::from_proto(d).map_err(|e| {
                    Status::internal(format!("FetchBlob answered an invalid digest: {e}"))
                })
            })
            .transpose()
    }

    /// Remote Asset PushBlob: `uri` with `qualifiers` is the blob `digest`
    /// (already in the server's CAS).
    pub async fn push_blob(
        &self,
        counters: &Counters,
        uri: &str,
        qualifiers: Vec<asset::Qualifier>,
        digest: &Digest,
    ) -> Result<(), Status> {
        let message = asset::PushBlobRequest {
            instance_name: self.instance.clone(),
            uris: vec![uri.to_string()],
            qualifiers,
            blob_digest: Some(digest.to_proto()),
            digest_function: reapi::digest_function::Value::Sha256 as i32,
            ..Default::default()
        };
        self.unary(counters, Rpc::PushBlob, message, self.timeout, |r| {
            let mut client = asset::push_client::PushClient::new(self.channel.clone());
            async move { client.push_blob(r).await }
        })
        .await
        .map(|_| ())
    }
}

/// Why a streamed download failed: the server, or the local cache
/// storing it (where content not matching the digest is found, as
/// [`CasError::Corrupt`]).
#[derive(Debug)]
pub enum ReadError {
    Remote(Status),
    Local(CasError),
}

/// The request stream of a ByteStream.Write: the file in [`CHUNK`]s, the
/// last one marked `finish_write`. A read error ends the stream without
/// `finish_write`, which the server reports as an error.
struct Chunks {
    file: std::fs::File,
    resource: String,
    offset: u64,
    size: u64,
    done: bool,
}

impl Iterator for Chunks {
    type Item = WriteRequest;

    fn next(&mut self) -> Option<WriteRequest> {
        if self.done {
            return None;
        }
        let want = usize::try_from(self.size - self.offset)
            .unwrap_or(CHUNK)
            .min(CHUNK);
        let mut data = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            match self.file.read(&mut data[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.done = true;
                    return None;
                }
            }
        }
        if filled < want {
            // The file is shorter than its digest says.
            self.done = true;
            return None;
        }
        let request = WriteRequest {
            // Only the first request needs the name.
            resource_name: if self.offset == 0 {
                self.resource.clone()
            } else {
                String::new()
            },
            write_offset: i64::try_from(self.offset).unwrap_or(i64::MAX),
            finish_write: self.offset + filled as u64 == self.size,
            data,
        };
        self.offset += filled as u64;
        self.done = request.finish_write;
        Some(request)
    }
}

/// Errors worth another attempt: the server or the network may recover.
/// (tonic reports its own request timeout as `Cancelled`.)
pub fn is_transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
            | Code::Unknown
    )
}

/// Sleeps before retry `attempt` (0-based): 100 ms, 400 ms, 1.6 s, …,
/// each between 50 % and 100 % of that, so that many clients do not
/// retry in step.
async fn backoff(attempt: u32) {
    let base = BACKOFF.saturating_mul(4u32.saturating_pow(attempt));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = 0.5 + f64::from(nanos % 1000) / 2000.0;
    tokio::time::sleep(base.mul_f64(jitter)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_http_uris() {
        assert_eq!(
            http_uri("grpc://127.0.0.1:8980").unwrap(),
            ("http://127.0.0.1:8980".to_string(), false)
        );
        assert_eq!(
            http_uri("grpcs://cache.example.com:443/").unwrap(),
            ("https://cache.example.com:443".to_string(), true)
        );
        for bad in ["127.0.0.1:8980", "ftp://x:1", "grpc://", "grpc://x:1/path"] {
            assert!(http_uri(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn chunks_cover_the_file_and_finish_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let content: Vec<u8> = (0..(CHUNK * 2 + 5)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let chunks: Vec<WriteRequest> = Chunks {
            file: std::fs::File::open(&path).unwrap(),
            resource: "uploads/u/blobs/h/1".into(),
            offset: 0,
            size: content.len() as u64,
            done: false,
        }
        .collect();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].resource_name, "uploads/u/blobs/h/1");
        assert!(chunks[1].resource_name.is_empty());
        assert_eq!(chunks[2].write_offset, (CHUNK * 2) as i64);
        assert_eq!(
            chunks.iter().filter(|c| c.finish_write).count(),
            1,
            "exactly one finish_write"
        );
        assert!(chunks[2].finish_write);
        let joined: Vec<u8> = chunks.into_iter().flat_map(|c| c.data).collect();
        assert_eq!(joined, content);
    }

    #[test]
    fn a_short_file_never_finishes_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"abc").unwrap();
        let chunks: Vec<WriteRequest> = Chunks {
            file: std::fs::File::open(&path).unwrap(),
            resource: "r".into(),
            offset: 0,
            size: 10,
            done: false,
        }
        .collect();
        assert!(chunks.iter().all(|c| !c.finish_write));
    }
}
