//! Errors of the engine itself (not function errors: those are results).

/// Something the platform could not do. Function failures are never errors here:
/// they are [`crate::InvokeResult`]s with `function_error` set.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The sandbox layer refused or failed to create an environment.
    #[error("could not create an execution environment: {0}")]
    Sandbox(#[from] quiver_sandbox::SandboxError),
    /// The Runtime API server could not start.
    #[error("could not start the Runtime API: {0}")]
    RuntimeApi(#[from] quiver_runtime_api::RuntimeApiError),
    /// The function's runtime is not offered by this host.
    #[error("runtime {0} is not available on this host")]
    RuntimeUnavailable(String),
    /// Writing the built-in runtimes to the data dir failed.
    #[error("could not install the built-in runtimes in {path}: {source}")]
    InstallRuntimes {
        /// Where they were to be written.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The runtime's output pipes could not be registered with the async runtime.
    #[error("could not read the runtime's output: {0}")]
    LogPipes(std::io::Error),
    /// Too many invocations (account concurrency) or no room in the host memory budget.
    #[error("Rate Exceeded. ({detail})")]
    Throttled {
        /// Lambda's `Reason` (e.g. `ConcurrentInvocationLimitExceeded`).
        reason: &'static str,
        /// What limit was hit, for the operator.
        detail: String,
    },
    /// The engine is shutting down.
    #[error("the engine is shutting down")]
    ShuttingDown,
}
