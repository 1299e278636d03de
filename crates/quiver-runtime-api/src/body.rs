//! Reading request bodies with a hard cap: never buffer more than the cap.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::HeaderMap;

/// What reading a capped body produced.
#[derive(Debug)]
pub(crate) enum ReadBody {
    /// The whole body, within the cap, and its trailers if any (a streamed response
    /// reports a mid-stream error in trailers, docs/wire.md §23).
    Complete(Bytes, Option<HeaderMap>),
    /// The body exceeded the cap. `size` is how many bytes were seen; `drained` says the
    /// body was read to its end (so the connection can be kept alive).
    TooLarge { size: usize, drained: bool },
}

/// How a passed-through streamed body ended.
#[derive(Debug)]
pub(crate) enum Forwarded {
    /// Read to its end; its trailers, if any.
    Complete(Option<HeaderMap>),
    /// More than the cap: forwarding stopped at `size` bytes.
    TooLarge { size: usize },
}

/// Sends each data frame of `body` to `sink` as it arrives, up to `cap` bytes. A sink
/// whose reader went away is ignored (the body is still read to its end, so the
/// runtime finishes normally).
pub(crate) async fn forward(
    mut body: Incoming,
    sink: crate::ChunkSink,
    cap: usize,
) -> Result<Forwarded, hyper::Error> {
    let mut size = 0usize;
    let mut trailers = None;
    let mut open = true;
    while let Some(frame) = body.frame().await {
        match frame?.into_data() {
            Ok(data) => {
                size = size.saturating_add(data.len());
                if size > cap {
                    return Ok(Forwarded::TooLarge { size });
                }
                if open && !data.is_empty() && sink.send(data).await.is_err() {
                    open = false;
                }
            }
            Err(f) => {
                if let Ok(t) = f.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    Ok(Forwarded::Complete(trailers))
}

/// Reads `body` keeping at most `cap` bytes. Past the cap, the rest is read and thrown
/// away up to `drain_limit` total bytes, so the client can finish sending and read our
/// 413 (a client still writing into a closed socket would see a reset instead).
pub(crate) async fn read_capped(
    mut body: Incoming,
    cap: usize,
    drain_limit: usize,
) -> Result<ReadBody, hyper::Error> {
    let hint = body.size_hint().exact().unwrap_or(0);
    if hint > drain_limit as u64 {
        return Ok(ReadBody::TooLarge {
            size: usize::try_from(hint).unwrap_or(usize::MAX),
            drained: false,
        });
    }
    let mut buf = BytesMut::with_capacity(usize::try_from(hint).unwrap_or(0).min(cap));
    let mut size = 0usize;
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let data = match frame?.into_data() {
            Ok(d) => d,
            Err(f) => {
                if let Ok(t) = f.into_trailers() {
                    trailers = Some(t);
                }
                continue;
            }
        };
        size = size.saturating_add(data.len());
        if size <= cap {
            buf.extend_from_slice(&data);
        } else {
            buf = BytesMut::new();
            if size > drain_limit {
                return Ok(ReadBody::TooLarge {
                    size,
                    drained: false,
                });
            }
        }
    }
    if size > cap {
        return Ok(ReadBody::TooLarge {
            size,
            drained: true,
        });
    }
    Ok(ReadBody::Complete(buf.freeze(), trailers))
}
