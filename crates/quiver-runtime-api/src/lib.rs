//! The per-environment Lambda Runtime API, version 2018-06-01.
//!
//! One [`RuntimeApi`] serves one execution environment: the runtime inside it (the
//! built-in Python/Node bootstraps, an official RIC, or a `provided.*` binary) long-polls
//! `GET /2018-06-01/runtime/invocation/next`, and the host hands it at most one
//! [`Invocation`] at a time through [`RuntimeApi::invoke`]. This crate knows nothing about
//! scheduling, pools or sandboxes: the caller binds the listener (inside the
//! environment's network namespace in production) and decides what to invoke when.
//!
//! Wire behaviour follows docs/wire.md §5.1; see [`server`] for the
//! endpoint table.
#![forbid(unsafe_code)]

mod body;
mod error;
mod route;
pub mod server;
mod state;
mod types;
mod wire;

pub use error::RuntimeApiError;
pub use server::RuntimeApi;
pub use types::{
    ChunkSink, ChunkStream, InitOutcome, Invocation, InvokeOutcome, RuntimeApiConfig,
    MAX_RESPONSE_BYTES, MAX_STREAMED_BYTES,
};
