//! The accept loop: TLS (with optional client certificates) or plain HTTP, HTTP/1.1 and HTTP/2,
//! connection limits (how many, for how long, how idle), and graceful shutdown that lets
//! in-flight requests finish.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use accord_node::config::ServerConfig;
use accord_node::metrics::Metrics;
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

use crate::access::PeerCertificate;
use crate::tls::fingerprint;

/// How long shutdown waits for open connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// File descriptors kept free of connections: the store, the log, the blocking pool's files.
const RESERVED_FDS: u64 = 256;
/// Longest pause after failed accepts (the first pause is 5 ms, doubling).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// Largest header block of an HTTP/2 request.
const H2_MAX_HEADER_LIST: u32 = 64 << 10;

/// What a connection may take, from `[server]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// TLS handshake; each request's headers (and so an HTTP/1.1 keep-alive wait).
    pub header_timeout: Duration,
    /// No traffic either way for this long: the connection closes after its current response.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
    pub http2_max_streams: u32,
}

impl Limits {
    pub fn from_config(server: &ServerConfig) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(server.header_timeout_s),
            idle_timeout: Duration::from_secs(server.idle_timeout_s),
            max_connections: server.max_connections,
            max_per_address: server.max_connections_per_address,
            http2_max_streams: server.http2_max_streams,
        }
    }

    /// Raises the process's open-file limit to fit `max_connections`; where the hard limit does
    /// not allow it, lowers `max_connections` to what fits, so that the node stays reachable
    /// rather than failing to accept at all.
    pub fn fit_open_files(mut self) -> Limits {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let want = self.max_connections as u64 + RESERVED_FDS;
        let now = getrlimit(Resource::Nofile);
        let soft = now.current.unwrap_or(u64::MAX);
        if soft >= want {
            return self;
        }
        let hard = now.maximum.unwrap_or(u64::MAX);
        let target = want.min(hard);
        let soft = match setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: now.maximum,
            },
        ) {
            Ok(()) => target,
            Err(_) => soft,
        };
        if soft < want {
            let fits = soft.saturating_sub(RESERVED_FDS).max(1) as usize;
            tracing::warn!(
                configured = self.max_connections,
                open_file_limit = soft,
                max_connections = fits,
                "server.max_connections does not fit the open-file limit; lowered"
            );
            self.max_connections = fits;
        }
        self
    }
}

/// Counts open connections, in all and per address. A [`Slot`] holds one place until dropped.
#[derive(Debug)]
struct Admission {
    limits: Limits,
    open: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    metrics: Arc<Metrics>,
}

/// One admitted connection's place.
struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Admission {
    /// A place for a connection from `ip`, or the reason there is none.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, &'static str> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.limits.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err("limit");
        }
        let mut per = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
        let n = per.entry(ip).or_insert(0);
        if *n >= self.limits.max_per_address {
            drop(per);
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err("address_limit");
        }
        *n += 1;
        self.metrics.connections_open(1);
        Ok(Slot {
            admission: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let a = &self.admission;
        let mut per = a.per_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.ip);
            }
        }
        drop(per);
        a.open.fetch_sub(1, Ordering::AcqRel);
        a.metrics.connections_open(-1);
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for open connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let admission = Arc::new(Admission {
        limits,
        open: AtomicUsize::new(0),
        per_address: Mutex::new(HashMap::new()),
        metrics: metrics.clone(),
    });
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        metrics.connection_refused("accept_error");
                        tokio::time::sleep(backoff.failed(&e)).await;
                        continue;
                    }
                };
                backoff.succeeded();
                let slot = match admission.admit(peer.ip()) {
                    Ok(slot) => slot,
                    Err(reason) => {
                        // Closed at once: a held socket is what exhausts the node.
                        metrics.connection_refused(reason);
                        tracing::debug!(%peer, reason, "connection refused");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let acceptor = acceptor.clone();
                let stop = stop.clone();
                tracker.spawn(async move {
                    let _slot = slot;
                    match acceptor {
                        Some(acceptor) => match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| PeerCertificate(fingerprint(c)));
                                serve_connection(tls, app, cert, limits, stop).await;
                            }
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        },
                        None => serve_connection(stream, app, None, limits, stop).await,
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    stop.cancel();
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait()).await.is_err() {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

/// Pauses after failed accepts (out of file descriptors, say), doubling while they keep
/// failing, and logs one warning a second at most, with how many it stands for.
#[derive(Debug, Default)]
struct AcceptBackoff {
    pause: Duration,
    last_warning: Option<Instant>,
    unreported: u64,
}

impl AcceptBackoff {
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.unreported += 1;
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            tracing::warn!(error = %e, failures = self.unreported, "accept failed; backing off");
            self.last_warning = Some(now);
            self.unreported = 0;
        }
        self.pause = (self.pause * 2).clamp(Duration::from_millis(5), MAX_ACCEPT_BACKOFF);
        self.pause
    }

    fn succeeded(&mut self) {
        self.pause = Duration::ZERO;
    }
}

/// When a connection last moved a byte, in milliseconds since it opened.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A connection's byte stream, noting when bytes move.
struct Tracked<I> {
    inner: I,
    activity: Arc<Activity>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Serves one connection until the client closes it, it stays idle, or the server stops.
async fn serve_connection<I>(
    io: I,
    app: Router,
    cert: Option<PeerCertificate>,
    limits: Limits,
    stop: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        opened: Instant::now(),
        last_ms: AtomicU64::new(0),
    });
    // Requests whose handler has not answered yet: a connection is not idle while one works.
    let working = Arc::new(AtomicUsize::new(0));
    let service = {
        let working = working.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            if let Some(c) = cert {
                req.extensions_mut().insert(c);
            }
            let mut app = app.clone();
            let working = working.clone();
            async move {
                working.fetch_add(1, Ordering::AcqRel);
                let resp = app.call(req.map(Body::new)).await;
                working.fetch_sub(1, Ordering::AcqRel);
                resp
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(H2_MAX_HEADER_LIST)
        .keep_alive_interval(limits.idle_timeout);
    let io = TokioIo::new(Tracked {
        inner: io,
        activity: activity.clone(),
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    // Once asked to close, a connection gets until `closing` to finish its response, as long as
    // bytes move: a client that stops reading does not hold it open.
    let mut closing: Option<Instant> = None;
    let mut next_check = activity.last() + limits.idle_timeout;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = stop.cancelled(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now() + DRAIN_TIMEOUT);
            }
            () = tokio::time::sleep_until(next_check) => {
                let now = Instant::now();
                let idle_at = activity.last() + limits.idle_timeout;
                next_check = if idle_at > now {
                    idle_at
                } else {
                    match closing {
                        Some(at) if at <= now => return,
                        Some(at) => at,
                        // A handler still working is not idleness.
                        None if working.load(Ordering::Acquire) > 0 => now + limits.idle_timeout,
                        None => {
                            conn.as_mut().graceful_shutdown();
                            closing = Some(now + limits.idle_timeout);
                            now + limits.idle_timeout
                        }
                    }
                };
            }
        }
    }
}
