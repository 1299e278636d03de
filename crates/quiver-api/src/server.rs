//! The connection loop: HTTP/1.1 through hyper, with the connection limits that
//! `axum::serve` has no settings for.
//!
//! - **Header-read timeout**: a client has this long from accepting its connection to
//!   the end of its first request head, and, on a kept-alive connection, from the first
//!   byte of a later request to the end of its head.
//! - **Idle timeout**: a kept-alive connection with no request in flight and no byte
//!   moving for this long is closed.
//! - **Connection cap**: at most this many connections are served at once; see [`serve`]
//!   for what happens to the next one.
//!
//! hyper's own `http1::Builder::header_read_timeout` is not used: its clock starts as
//! soon as the server waits for a head, which on a kept-alive connection is right after
//! the previous response, so it would be the idle timeout as well, and the two could
//! not differ (Go's `net/http` `ReadHeaderTimeout` and `IdleTimeout` are the model here).
//! Instead, each connection's bytes and requests are timestamped ([`Activity`]) and a
//! watchdog next to the connection closes it when a deadline passes. Requests are never
//! cut short: while one is in flight (until its response body has been handed to the
//! socket) neither timeout runs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

/// Default of [`ConnectionLimits::header_read_timeout`], in seconds (nginx's
/// `client_header_timeout` is 60 s, Node's `headersTimeout` 60 s; 30 s is plenty for a
/// head of at most a few KB).
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 30;
/// Default of [`ConnectionLimits::idle_timeout`], in seconds (AWS load balancers and
/// botocore's connection pool live with 60 s; nginx's `keepalive_timeout` is 75 s).
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
/// Default of [`ConnectionLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Per-connection limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From accept to the end of the first request head; from the first byte of a later
    /// request to the end of its head.
    pub header_read_timeout: Duration,
    /// How long a connection with no request in flight may stay silent.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains open requests.
///
/// Every connection gets TCP_NODELAY and the deadlines of [`ConnectionLimits`].
///
/// At the connection cap the server stops accepting: a new connection waits in the
/// kernel's listen backlog (its TCP handshake completes, nothing answers) until a
/// served connection closes, and the kernel drops SYNs once the backlog is full, which
/// clients retry. This is what nginx (`worker_connections`), Go's
/// `netutil.LimitListener` and tokio's mini-redis do. The alternative, accepting and
/// closing at once (Envoy's overflow behaviour), turns a short burst into connection
/// resets that SDKs report as errors; a wait in the backlog looks like a slow answer
/// instead, and the header-read timeout of a waiting connection only starts once it is
/// accepted.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // Our watchdog owns this deadline (see the module docs); hyper's stays off.
    http.header_read_timeout(None);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full: Option<Instant> = None;
    loop {
        // At most once a minute, however often the cap is touched.
        if slots.available_permits() == 0
            && warned_full.is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
        {
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection cap reached; new connections wait in the listen backlog"
            );
            warned_full = Some(Instant::now());
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Small JSON answers must not wait for Nagle + delayed ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(WatchedIo {
            tcp,
            activity: activity.clone(),
        });
        let service = TrackedService {
            inner: TowerToHyperService::new(app.clone()),
            activity: activity.clone(),
            peer,
        };
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _slot = slot;
            tokio::select! {
                served = conn => {
                    if let Err(e) = served {
                        tracing::trace!(%peer, "connection ended: {e}");
                    }
                }
                why = watchdog(&activity, &limits) => {
                    tracing::debug!(%peer, "closing connection: {why}");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// What `axum::serve` (and hyper 0.14 before it) does: connection-level errors are the
/// peer's business; anything else (EMFILE, ENFILE, ENOBUFS) is logged and waited out,
/// since connections closing will free what is missing.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept error: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Waits until `activity` passes one of the deadlines of `limits`; returns why.
async fn watchdog(activity: &Activity, limits: &ConnectionLimits) -> &'static str {
    let header = limits.header_read_timeout;
    let idle = limits.idle_timeout;
    loop {
        match activity.deadline(header, idle) {
            None => tokio::time::sleep(header.min(idle)).await,
            Some((at, why)) => {
                if Instant::now() >= at {
                    return why;
                }
                // The first byte of a head on an idle connection brings the deadline forward.
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = activity.head_began.notified() => {}
                }
            }
        }
    }
}

/// Timestamps of one connection, in milliseconds since it was accepted.
struct Activity {
    accepted: Instant,
    /// Requests whose response body has not been handed over in full yet.
    in_flight: AtomicUsize,
    /// Requests started so far.
    requests: AtomicU64,
    /// Since when nothing has happened between requests: the accept, the end of the last
    /// response, or the last byte written.
    quiet_since: AtomicU64,
    /// The first byte read since the last request began or ended, plus one (0: none).
    head_since: AtomicU64,
    /// Signalled when `head_since` is set.
    head_began: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            quiet_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            head_began: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64, plus: Duration) -> Instant {
        self.accepted + Duration::from_millis(ms) + plus
    }

    fn read(&self) {
        let t = self.now() + 1;
        if self
            .head_since
            .compare_exchange(0, t, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.head_began.notify_one();
        }
    }

    fn wrote(&self) {
        self.quiet_since.fetch_max(self.now(), Ordering::Relaxed);
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(0, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// The next deadline and what it is for; None while a request is in flight.
    fn deadline(&self, header: Duration, idle: Duration) -> Option<(Instant, &'static str)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let quiet = self.quiet_since.load(Ordering::Relaxed);
        if self.requests.load(Ordering::Relaxed) == 0 {
            // The first head counts from the accept, however slowly it trickles in.
            return Some((self.at(quiet, header), "no complete request head in time"));
        }
        match self.head_since.load(Ordering::Relaxed) {
            0 => Some((self.at(quiet, idle), "idle")),
            head => Some((
                self.at(head - 1, header),
                "no complete request head in time",
            )),
        }
    }
}

/// One request in flight on a connection, until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.quiet_since.fetch_max(a.now(), Ordering::Relaxed);
        a.head_since.store(0, Ordering::Relaxed);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The TCP stream, timestamping every read and write that moves bytes.
struct WatchedIo {
    tcp: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// The router, with each request marked in flight until its response body is done.
struct TrackedService {
    inner: TowerToHyperService<Router>,
    activity: Arc<Activity>,
    /// The connection's peer, put in each request's extensions as [`PeerAddr`].
    peer: std::net::SocketAddr,
}

/// The address of the TCP peer a request came from (a function URL event's `sourceIp`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

type BoxedFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl Service<hyper::Request<Incoming>> for TrackedService {
    type Response = hyper::Response<TrackedBody>;
    type Error = Infallible;
    type Future = BoxedFuture<Self::Response>;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(PeerAddr(self.peer));
        let guard = self.activity.request_started();
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|inner| TrackedBody {
                inner,
                _in_flight: guard,
            }))
        })
    }
}

/// A response body that keeps its request in flight until hyper is done with it.
struct TrackedBody {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(30);
    const IDLE: Duration = Duration::from_secs(60);

    fn due(a: &Activity) -> Option<(Duration, &'static str)> {
        a.deadline(HEADER, IDLE)
            .map(|(at, why)| (at.duration_since(a.accepted), why))
    }

    #[test]
    fn deadlines_follow_the_connection_through_a_request() {
        let a = Arc::new(Activity::new());
        // Fresh: the first head is due the header timeout after the accept, bytes or not.
        assert_eq!(due(&a).map(|d| d.0), Some(HEADER));
        a.read();
        assert_eq!(due(&a).map(|d| d.0), Some(HEADER));
        // In flight: no deadline, whatever moves.
        let req = a.request_started();
        a.read();
        assert_eq!(due(&a), None);
        drop(req);
        // Between requests: idle from the end of the response...
        let (at, why) = due(&a).unwrap();
        assert_eq!(why, "idle");
        assert!(at >= IDLE && at < IDLE + Duration::from_secs(5), "{at:?}");
        // ...until a byte of the next head arrives: then the header timeout from it.
        a.read();
        let (at, why) = due(&a).unwrap();
        assert_eq!(why, "no complete request head in time");
        assert!(
            at >= HEADER && at < HEADER + Duration::from_secs(5),
            "{at:?}"
        );
    }
}
