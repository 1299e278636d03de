//! The engine: puts execution environments to work.
//!
//! It takes a resolved, immutable [`FunctionSpec`] (what the store says a function
//! version is) and an invocation, finds a warm environment or cold-starts one (a
//! [`quiver_sandbox::Sandbox`] with a [`quiver_runtime_api::RuntimeApi`] served inside
//! its network namespace), hands the event over and turns whatever happens — a
//! response, a runtime error, a crash, an OOM kill, a timeout — into an
//! [`InvokeResult`] shaped the way Lambda reports it. It knows nothing of HTTP.
#![forbid(unsafe_code)]

mod admission;
mod config;
mod engine;
mod environment;
mod error;
mod image_launch;
mod janitor;
mod java;
mod launch;
mod logs;
mod outcome;
mod pool;
mod premade;
mod provisioned;
mod report;
mod run;
mod runtimes;
mod spec;
mod state;
#[cfg(test)]
mod tests;

pub use config::EngineConfig;
pub use engine::Engine;
pub use environment::ColdStart;
pub use error::EngineError;
pub use provisioned::{ProvisionedStatus, ProvisionedTarget};
pub use quiver_runtime_api::{ChunkSink, ChunkStream};
pub use report::EnvInfo;
pub use spec::{FunctionSpec, ImageSpec, InvokeRequest, InvokeResult};
pub use state::EnvState;
