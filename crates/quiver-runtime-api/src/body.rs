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
