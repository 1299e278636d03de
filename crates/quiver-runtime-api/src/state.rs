//! The Runtime API's protocol state machine, free of IO so it can be unit-tested.
//! It tracks one HTTP conversation with one runtime; the environment's lifecycle
//! (starting, idle, busy, frozen, draining, dead) is the engine's `EnvState`, which
//! hears about this side only through `wait_ready` and the invoke outcomes.
//!
//! ```text
//!  Init ──first /next──▶ Ready ──(invoke → /next → /response|/error)*──▶ …
//!   │
//!   └──/init/error──▶ InitFailed          any ──shutdown──▶ Closed
//! ```
//! Within `Ready`, an invocation moves `queued` (handed in by the host) → `in_flight`
//! (delivered by a `/next`) → answered (its sender fires and it is gone).

use bytes::Bytes;
use hyper::HeaderMap;
use tokio::sync::oneshot;

use crate::{InitOutcome, Invocation, InvokeOutcome, RuntimeApiError};

/// Where the runtime's conversation with this server is: what decides whether a
/// `/next` may take an event or an `/init/error` is allowed. This is the protocol's
/// own view, not a second record of the environment's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Started; the runtime has neither called `/next` nor `/init/error`.
    Init,
    /// The runtime called `/next` at least once.
    Ready,
    /// The runtime posted `/init/error`; the environment is unusable.
    InitFailed(InitOutcome),
    /// Shut down by the host.
    Closed,
}

pub(crate) type Reply = oneshot::Sender<Result<InvokeOutcome, RuntimeApiError>>;

/// An invocation the host handed in that no `/next` has picked up yet.
pub(crate) struct Queued {
    pub inv: Invocation,
    pub headers: HeaderMap,
    pub reply: Reply,
}

struct InFlight {
    request_id: String,
    reply: Reply,
    chunks: Option<crate::ChunkSink>,
}

/// What a waiting `/next` should do after looking at the state.
pub(crate) enum Take {
    /// Answer with this event.
    Deliver { headers: HeaderMap, payload: Bytes },
    /// Keep waiting (nothing queued, or a newer `/next` superseded this one).
    Wait,
    /// The environment can no longer serve events.
    Refuse,
}

/// Why the runtime's answer was refused (mapped to 400/403 by the server).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Unknown or already-answered request id.
    InvalidRequestId,
    /// `/init/error` outside init.
    InvalidStateTransition,
}

pub(crate) struct Core {
    phase: Phase,
    queued: Option<Queued>,
    in_flight: Option<InFlight>,
    /// Generation of the newest `/next`. Only the newest may take an event: if a runtime
    /// reconnects while its old long poll still looks alive to us, the old one must not
    /// swallow the event into a dead socket.
    next_gen: u64,
    /// `/next` polls currently parked (any generation).
    waiting: usize,
    /// Events handed to the runtime so far: an event the runtime never took (it ended
    /// first) can be retried elsewhere without the function having seen it.
    delivered: u64,
}

impl Core {
    pub(crate) fn new() -> Self {
        Self {
            phase: Phase::Init,
            queued: None,
            in_flight: None,
            next_gen: 0,
            waiting: 0,
            delivered: 0,
        }
    }

    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// True while the runtime is parked in `/next` with nothing to do: the only moment
    /// at which freezing the environment is safe.
    pub(crate) fn idle_in_next(&self) -> bool {
        self.phase == Phase::Ready
            && self.waiting > 0
            && self.queued.is_none()
            && self.in_flight.is_none()
    }

    /// The host hands in an invocation. Allowed during init (it is delivered by the
    /// first `/next`, like Lambda's init-inside-first-invoke) and when idle.
    pub(crate) fn enqueue(&mut self, q: Queued) -> Result<(), RuntimeApiError> {
        let err = match &self.phase {
            Phase::InitFailed(_) => Some(RuntimeApiError::InitFailed),
            Phase::Closed => Some(RuntimeApiError::Closed),
            Phase::Init | Phase::Ready => {
                let busy = self.queued.as_ref().map(|q| q.inv.request_id.clone());
                let busy = busy.or_else(|| self.in_flight.as_ref().map(|f| f.request_id.clone()));
                busy.map(RuntimeApiError::Busy)
            }
        };
        match err {
            Some(e) => Err(e),
            None => {
                self.queued = Some(q);
                Ok(())
            }
        }
    }

    /// Drops a queued (not yet delivered) invocation whose caller gave up.
    pub(crate) fn dequeue(&mut self, request_id: &str) {
        if self
            .queued
            .as_ref()
            .is_some_and(|q| q.inv.request_id == request_id)
        {
            self.queued = None;
        }
    }

    /// A `/next` arrived. Returns its generation and whether it ended init.
    pub(crate) fn begin_next(&mut self) -> (u64, bool) {
        self.next_gen += 1;
        self.waiting += 1;
        let ready = self.phase == Phase::Init;
        if ready {
            self.phase = Phase::Ready;
        }
        (self.next_gen, ready)
    }

    /// A `/next` ended (answered or its connection went away).
    pub(crate) fn end_next(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// A parked `/next` of generation `gen` looks for work.
    pub(crate) fn try_take(&mut self, gen: u64) -> Take {
        match self.phase {
            Phase::Ready => {}
            Phase::Init => return Take::Wait,
            Phase::InitFailed(_) | Phase::Closed => return Take::Refuse,
        }
        if gen != self.next_gen {
            return Take::Wait;
        }
        let Some(q) = self.queued.take() else {
            return Take::Wait;
        };
        let payload = if q.inv.payload.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            q.inv.payload
        };
        self.delivered += 1;
        self.in_flight = Some(InFlight {
            request_id: q.inv.request_id,
            reply: q.reply,
            chunks: q.inv.chunks,
        });
        Take::Deliver {
            headers: q.headers,
            payload,
        }
    }

    /// How many events `/next` has handed to the runtime.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Whether `id` is the invocation the runtime is working on.
    pub(crate) fn is_in_flight(&self, id: &str) -> bool {
        self.in_flight.as_ref().is_some_and(|f| f.request_id == id)
    }

    /// Where invocation `id`'s streamed response goes, if it is in flight and its caller
    /// takes chunks.
    pub(crate) fn sink(&self, id: &str) -> Option<crate::ChunkSink> {
        self.in_flight
            .as_ref()
            .filter(|f| f.request_id == id)
            .and_then(|f| f.chunks.clone())
    }

    /// The runtime answered invocation `id` (`/response` or `/error`).
    pub(crate) fn answer(&mut self, id: &str, outcome: InvokeOutcome) -> Result<(), Refusal> {
        if !self.is_in_flight(id) {
            return Err(Refusal::InvalidRequestId);
        }
        if let Some(f) = self.in_flight.take() {
            // The host may have stopped waiting (timeout); the answer then goes nowhere.
            let _ = f.reply.send(Ok(outcome));
        }
        Ok(())
    }

    /// The runtime posted `/init/error`. A queued invocation (waiting for init) gets the
    /// error as its outcome, as Lambda reports init failures to the first invoker.
    pub(crate) fn init_error(
        &mut self,
        body: Bytes,
        error_type: Option<String>,
    ) -> Result<(), Refusal> {
        if self.phase != Phase::Init {
            return Err(Refusal::InvalidStateTransition);
        }
        if let Some(q) = self.queued.take() {
            let _ = q.reply.send(Ok(InvokeOutcome::Error {
                body: body.clone(),
                error_type: error_type.clone(),
            }));
        }
        self.phase = Phase::InitFailed(InitOutcome::InitError { body, error_type });
        Ok(())
    }

    /// The host tears the environment down: whoever still waits gets `Closed`.
    pub(crate) fn close(&mut self) {
        self.phase = Phase::Closed;
        if let Some(q) = self.queued.take() {
            let _ = q.reply.send(Err(RuntimeApiError::Closed));
        }
        if let Some(f) = self.in_flight.take() {
            let _ = f.reply.send(Err(RuntimeApiError::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(
        id: &str,
        payload: &'static [u8],
    ) -> (
        Queued,
        oneshot::Receiver<Result<InvokeOutcome, RuntimeApiError>>,
    ) {
        let (reply, rx) = oneshot::channel();
        let inv = Invocation {
            request_id: id.into(),
            payload: Bytes::from_static(payload),
            ..Default::default()
        };
        (
            Queued {
                inv,
                headers: HeaderMap::new(),
                reply,
            },
            rx,
        )
    }

    fn deliver(c: &mut Core, gen: u64) -> Bytes {
        match c.try_take(gen) {
            Take::Deliver { payload, .. } => payload,
            _ => panic!("expected delivery"),
        }
    }

    #[test]
    fn full_cycle_and_warm_reuse() {
        let mut c = Core::new();
        let (gen, ready) = c.begin_next();
        assert!(ready);
        assert_eq!(c.phase(), &Phase::Ready);
        assert!(c.idle_in_next());
        assert!(matches!(c.try_take(gen), Take::Wait));
        let (q, mut rx) = queued("a", b"");
        c.enqueue(q).unwrap();
        assert!(!c.idle_in_next());
        assert_eq!(
            deliver(&mut c, gen),
            Bytes::from_static(b"{}"),
            "empty payload becomes {{}}"
        );
        c.end_next();
        assert_eq!(c.answer("a", InvokeOutcome::Response("1".into())), Ok(()));
        assert_eq!(
            rx.try_recv().unwrap().unwrap(),
            InvokeOutcome::Response("1".into())
        );
        assert_eq!(
            c.answer("a", InvokeOutcome::Response("2".into())),
            Err(Refusal::InvalidRequestId)
        );
        let (gen2, ready) = c.begin_next();
        assert!(!ready);
        let (q, _rx) = queued("b", b"[1]");
        c.enqueue(q).unwrap();
        assert_eq!(deliver(&mut c, gen2), Bytes::from_static(b"[1]"));
    }

    #[test]
    fn busy_while_queued_or_in_flight() {
        let mut c = Core::new();
        let (q, _rx) = queued("a", b"1");
        c.enqueue(q).unwrap();
        let (q2, _rx2) = queued("b", b"1");
        assert!(matches!(c.enqueue(q2), Err(RuntimeApiError::Busy(id)) if id == "a"));
        let (gen, _) = c.begin_next();
        deliver(&mut c, gen);
        let (q3, _rx3) = queued("c", b"1");
        assert!(matches!(c.enqueue(q3), Err(RuntimeApiError::Busy(id)) if id == "a"));
    }

    #[test]
    fn only_newest_next_takes_the_event() {
        let mut c = Core::new();
        let (old, _) = c.begin_next();
        let (new, _) = c.begin_next();
        let (q, _rx) = queued("a", b"1");
        c.enqueue(q).unwrap();
        assert!(matches!(c.try_take(old), Take::Wait));
        deliver(&mut c, new);
    }

    #[test]
    fn init_error_fails_the_waiting_invoke_and_later_ones() {
        let mut c = Core::new();
        let (q, mut rx) = queued("a", b"1");
        c.enqueue(q).unwrap();
        c.init_error("{}".into(), Some("Runtime.ImportModuleError".into()))
            .unwrap();
        assert!(matches!(
            rx.try_recv().unwrap().unwrap(),
            InvokeOutcome::Error { error_type: Some(t), .. } if t == "Runtime.ImportModuleError"
        ));
        assert_eq!(
            c.init_error("{}".into(), None),
            Err(Refusal::InvalidStateTransition)
        );
        let (q, _rx) = queued("b", b"1");
        assert!(matches!(c.enqueue(q), Err(RuntimeApiError::InitFailed)));
        let (gen, _) = c.begin_next();
        assert!(matches!(c.try_take(gen), Take::Refuse));
    }

    #[test]
    fn init_error_after_ready_is_refused() {
        let mut c = Core::new();
        c.begin_next();
        assert_eq!(
            c.init_error("{}".into(), None),
            Err(Refusal::InvalidStateTransition)
        );
    }

    #[test]
    fn dequeue_and_close() {
        let mut c = Core::new();
        let (q, _rx) = queued("a", b"1");
        c.enqueue(q).unwrap();
        c.dequeue("a");
        let (q, mut rx) = queued("b", b"1");
        c.enqueue(q).unwrap();
        c.close();
        assert!(matches!(
            rx.try_recv().unwrap(),
            Err(RuntimeApiError::Closed)
        ));
        let (q, _rx) = queued("c", b"1");
        assert!(matches!(c.enqueue(q), Err(RuntimeApiError::Closed)));
    }
}
