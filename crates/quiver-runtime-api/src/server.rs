//! The HTTP side: a hyper 1 HTTP/1.1 server on a listener the caller hands in.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /2018-06-01/runtime/invocation/next` | long poll (no timeout) → 200, event body, `Lambda-Runtime-*` headers |
//! | `POST …/invocation/{id}/response` | 202 `{"status":"OK"}`; 400 `InvalidRequestID`; 413 `RequestEntityTooLarge` |
//! | `POST …/invocation/{id}/error` | 202 `{"status":"OK"}`; 400 `InvalidRequestID`; 413 |
//! | `POST /2018-06-01/runtime/init/error` | 202 `{"status":"OK"}`; 403 `InvalidStateTransition` outside init |
//! | anything else | 404 (405 for a known path with the wrong method) |
//!
//! Every accepted connection gets `TCP_NODELAY` (Nagle + delayed ACK would add ~40 ms
//! per round trip) and no header-read or idle timeout (`/next` blocks indefinitely).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use crate::body::{forward, read_capped, Forwarded, ReadBody};
use crate::route::{route, Route};
use crate::state::{Core, Phase, Queued, Refusal, Take};
use crate::wire::{self, error_body, H_ERROR_TYPE};
use crate::{InitOutcome, Invocation, InvokeOutcome, RuntimeApiConfig, RuntimeApiError};

/// Handle to one environment's Runtime API server. Cheap to clone; all clones talk to
/// the same server. The server runs until [`RuntimeApi::shutdown`].
#[derive(Clone)]
pub struct RuntimeApi {
    shared: Arc<Shared>,
}

struct Shared {
    core: Mutex<Core>,
    /// Mirrors `Core::phase` for `wait_ready` watchers.
    phase: watch::Sender<Phase>,
    /// Wakes parked `/next` polls when something changed.
    wake: Notify,
    /// Tells the accept loop to stop (a stored permit, so it is never missed).
    stop: Notify,
    cfg: RuntimeApiConfig,
    local_addr: SocketAddr,
}

impl Shared {
    fn core(&self) -> MutexGuard<'_, Core> {
        // A panic while holding this lock is a bug in this crate; keep serving the state.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, core: &Core) {
        self.phase.send_if_modified(|p| {
            let changed = p != core.phase();
            if changed {
                *p = core.phase().clone();
            }
            changed
        });
    }
}

impl RuntimeApi {
    /// Starts serving on `listener` (already bound; blocking or not). Must be called
    /// from within a tokio runtime. The returned task ends after [`RuntimeApi::shutdown`];
    /// ending it closes the listener and every connection.
    pub fn serve(
        listener: std::net::TcpListener,
        cfg: RuntimeApiConfig,
    ) -> Result<(RuntimeApi, JoinHandle<()>), RuntimeApiError> {
        listener
            .set_nonblocking(true)
            .map_err(RuntimeApiError::Listener)?;
        let local_addr = listener.local_addr().map_err(RuntimeApiError::Listener)?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(RuntimeApiError::Listener)?;
        let shared = Arc::new(Shared {
            core: Mutex::new(Core::new()),
            phase: watch::channel(Phase::Init).0,
            wake: Notify::new(),
            stop: Notify::new(),
            cfg,
            local_addr,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok((RuntimeApi { shared }, task))
    }

    /// The address being served (what goes into `AWS_LAMBDA_RUNTIME_API`).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Hands one event to the runtime and resolves when it answers `/response` or
    /// `/error`, or `/init/error` if it was still initialising. May be called before
    /// init finished: the event is delivered by the first `/next`. Dropping the future
    /// before delivery withdraws the event; after delivery the environment stays busy
    /// until the runtime answers (or the host shuts it down).
    pub async fn invoke(&self, inv: Invocation) -> Result<InvokeOutcome, RuntimeApiError> {
        let headers = wire::next_headers(&inv)?;
        let request_id = inv.request_id.clone();
        let (reply, rx) = oneshot::channel();
        {
            let mut core = self.shared.core();
            core.enqueue(Queued {
                inv,
                headers,
                reply,
            })?;
        }
        self.shared.wake.notify_waiters();
        // Harmless once delivered: only a still-queued event with this id is removed.
        let _withdraw = Withdraw {
            shared: &self.shared,
            request_id: &request_id,
        };
        rx.await.unwrap_or(Err(RuntimeApiError::Closed))
    }

    /// Resolves when the runtime first calls `/next` (init done) or posts `/init/error`;
    /// immediately if that already happened. `Err(Closed)` after a shutdown.
    pub async fn wait_ready(&self) -> Result<InitOutcome, RuntimeApiError> {
        let mut rx = self.shared.phase.subscribe();
        let phase = rx
            .wait_for(|p| *p != Phase::Init)
            .await
            .map_err(|_| RuntimeApiError::Closed)?
            .clone();
        match phase {
            Phase::Ready => Ok(InitOutcome::Ready),
            Phase::InitFailed(outcome) => Ok(outcome),
            Phase::Init | Phase::Closed => Err(RuntimeApiError::Closed),
        }
    }

    /// How many events the runtime has taken with `/next` so far. An invocation whose
    /// runtime ended while this count had not moved was never seen by the function.
    pub fn deliveries(&self) -> u64 {
        self.shared.core().delivered()
    }

    /// True while the runtime waits in `/next` with no event queued or in flight: the
    /// environment is idle and may be frozen.
    pub fn is_idle(&self) -> bool {
        self.shared.core().idle_in_next()
    }

    /// Stops the server: pending `invoke`/`wait_ready` calls fail with `Closed`, the
    /// listener and all connections close. Call it when the environment died or is torn
    /// down. Idempotent.
    pub fn shutdown(&self) {
        {
            let mut core = self.shared.core();
            core.close();
            self.shared.publish(&core);
        }
        self.shared.wake.notify_waiters();
        self.shared.stop.notify_one();
    }
}

/// Withdraws a not-yet-delivered event if the `invoke` future is dropped.
struct Withdraw<'a> {
    shared: &'a Shared,
    request_id: &'a str,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.shared.core().dequeue(self.request_id);
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shared.stop.notified() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::warn!(%peer, "runtime API: TCP_NODELAY failed: {e}");
                    }
                    conns.spawn(serve_conn(stream, shared.clone()));
                }
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!("runtime API accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    tracing::debug!(addr = %shared.local_addr, "runtime API stopped");
    // Dropping the JoinSet aborts every connection task, closing their sockets.
}

async fn serve_conn(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true).header_read_timeout(None);
    if let Err(e) = builder.serve_connection(TokioIo::new(stream), svc).await {
        tracing::debug!("runtime API connection ended: {e}");
    }
}

type Resp = Response<Full<Bytes>>;

fn json(status: StatusCode, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn accepted() -> Resp {
    json(
        StatusCode::ACCEPTED,
        Bytes::from_static(br#"{"status":"OK"}"#),
    )
}

fn refusal(r: Refusal) -> Resp {
    match r {
        Refusal::InvalidRequestId => json(
            StatusCode::BAD_REQUEST,
            error_body("InvalidRequestID", "Invalid request ID"),
        ),
        Refusal::InvalidStateTransition => json(
            StatusCode::FORBIDDEN,
            error_body("InvalidStateTransition", "State transition is not allowed"),
        ),
    }
}

fn too_large(shared: &Shared, drained: bool) -> Resp {
    let msg = format!(
        "Exceeded maximum allowed payload size ({} bytes).",
        shared.cfg.max_response_bytes
    );
    let mut r = json(
        StatusCode::PAYLOAD_TOO_LARGE,
        error_body("RequestEntityTooLarge", &msg),
    );
    if !drained {
        // The rest of the body is still on the wire: this connection cannot be reused.
        r.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    match route(&parts.method, parts.uri.path()) {
        Route::Next => next(shared).await,
        Route::Response(id) => {
            let streaming = parts
                .headers
                .get(wire::H_RESPONSE_MODE)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"));
            let sink = if streaming {
                shared.core().sink(id)
            } else {
                None
            };
            if let Some(sink) = sink {
                let content_type = parts
                    .headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/octet-stream");
                sink.set_content_type(content_type);
                return streamed(shared, id, body, sink).await;
            }
            let read = read_capped(
                body,
                shared.cfg.max_response_bytes,
                shared.cfg.max_drain_bytes,
            )
            .await;
            let outcome = match read {
                // A streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`,
                // chunked) is collected here; an error after some output arrives in its
                // trailers and wins over the partial body.
                Ok(ReadBody::Complete(b, trailers)) => {
                    match wire::streamed_error(trailers.as_ref()) {
                        Some((body, error_type)) => InvokeOutcome::Error { body, error_type },
                        None => InvokeOutcome::Response(b),
                    }
                }
                Ok(ReadBody::TooLarge { size, drained }) => {
                    let mut core = shared.core();
                    return match core.answer(id, InvokeOutcome::ResponseTooLarge { size }) {
                        Ok(()) => too_large(shared, drained),
                        Err(r) => refusal(r),
                    };
                }
                Err(e) => return client_gone(e),
            };
            let res = shared.core().answer(id, outcome);
            match res {
                Ok(()) => accepted(),
                Err(r) => refusal(r),
            }
        }
        Route::Error(id) => {
            let header = parts.headers.get(H_ERROR_TYPE).cloned();
            match read_capped(
                body,
                shared.cfg.max_response_bytes,
                shared.cfg.max_drain_bytes,
            )
            .await
            {
                Ok(ReadBody::Complete(b, _)) => {
                    let error_type = wire::error_type(header.as_ref(), &b);
                    let res = shared.core().answer(
                        id,
                        InvokeOutcome::Error {
                            body: b,
                            error_type,
                        },
                    );
                    match res {
                        Ok(()) => accepted(),
                        Err(r) => refusal(r),
                    }
                }
                Ok(ReadBody::TooLarge { size, drained }) => {
                    // Same treatment as an oversized response: the invoker learns the size.
                    match shared
                        .core()
                        .answer(id, InvokeOutcome::ResponseTooLarge { size })
                    {
                        Ok(()) => too_large(shared, drained),
                        Err(r) => refusal(r),
                    }
                }
                Err(e) => client_gone(e),
            }
        }
        Route::InitError => {
            let header = parts.headers.get(H_ERROR_TYPE).cloned();
            let b = match read_capped(
                body,
                shared.cfg.max_response_bytes,
                shared.cfg.max_drain_bytes,
            )
            .await
            {
                Ok(ReadBody::Complete(b, _)) => b,
                Ok(ReadBody::TooLarge { drained, .. }) => return too_large(shared, drained),
                Err(e) => return client_gone(e),
            };
            let error_type = wire::error_type(header.as_ref(), &b);
            let res = {
                let mut core = shared.core();
                let res = core.init_error(b, error_type);
                shared.publish(&core);
                res
            };
            match res {
                Ok(()) => {
                    tracing::debug!(addr = %shared.local_addr, "runtime reported an init error");
                    shared.wake.notify_waiters();
                    accepted()
                }
                Err(r) => refusal(r),
            }
        }
        Route::MethodNotAllowed => json(
            StatusCode::METHOD_NOT_ALLOWED,
            error_body("MethodNotAllowed", "Method not allowed"),
        ),
        Route::NotFound => json(StatusCode::NOT_FOUND, error_body("NotFound", "Not found")),
    }
}

/// A streamed `/response` whose caller takes chunks: pass them through, then answer
/// the invocation with how the stream ended (docs/wire.md §23.3).
async fn streamed(shared: &Shared, id: &str, body: Incoming, sink: crate::ChunkSink) -> Resp {
    let cap = shared.cfg.max_streamed_bytes;
    let outcome = match forward(body, sink, cap).await {
        Ok(Forwarded::Complete(trailers)) => match wire::streamed_error(trailers.as_ref()) {
            Some((body, error_type)) => InvokeOutcome::Error { body, error_type },
            None => InvokeOutcome::Response(Bytes::new()),
        },
        Ok(Forwarded::TooLarge { size }) => {
            let res = shared
                .core()
                .answer(id, InvokeOutcome::ResponseTooLarge { size });
            return match res {
                Ok(()) => too_large(shared, false),
                Err(r) => refusal(r),
            };
        }
        Err(e) => return client_gone(e),
    };
    let res = shared.core().answer(id, outcome);
    match res {
        Ok(()) => accepted(),
        Err(r) => refusal(r),
    }
}

fn client_gone(e: hyper::Error) -> Resp {
    tracing::debug!("runtime API: reading a request body failed: {e}");
    json(
        StatusCode::BAD_REQUEST,
        error_body("InvalidRequest", "Could not read the request body"),
    )
}

/// Decrements the parked-`/next` count however the poll ends (answered or dropped
/// because the runtime's connection went away).
struct Parked<'a>(&'a Shared);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.core().end_next();
    }
}

async fn next(shared: &Shared) -> Resp {
    let gen = {
        let mut core = shared.core();
        let (gen, ready) = core.begin_next();
        if ready {
            shared.publish(&core);
            tracing::debug!(addr = %shared.local_addr, "runtime ready (first /next)");
        }
        gen
    };
    let _parked = Parked(shared);
    loop {
        let notified = shared.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Take and answer without an await in between: if this future is dropped (the
        // runtime disconnected) the event stays queued for the next /next.
        match shared.core().try_take(gen) {
            Take::Deliver { headers, payload } => {
                let mut r = Response::new(Full::new(payload));
                *r.headers_mut() = headers;
                return r;
            }
            Take::Refuse => return refusal(Refusal::InvalidStateTransition),
            Take::Wait => {}
        }
        notified.await;
    }
}
