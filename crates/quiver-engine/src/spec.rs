//! What the engine is asked to run, and what it answers.

use std::path::PathBuf;

use bytes::Bytes;

/// One function version, resolved and frozen. Environments are pooled per
/// [`FunctionSpec::pool_key`]: any change of code or configuration gives a new key,
/// so old environments are never handed events for new code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// Bare function name.
    pub name: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// Unqualified function ARN.
    pub arn: String,
    /// Lambda runtime id (`python3.11`, `nodejs20.x`, `provided.al2023`, …).
    pub runtime: String,
    /// The handler string as configured.
    pub handler: String,
    /// MemorySize in MB.
    pub memory_mb: u32,
    /// Timeout in seconds.
    pub timeout_s: u32,
    /// EphemeralStorage size in MB.
    pub ephemeral_mb: u32,
    /// The function's own environment variables.
    pub environment: Vec<(String, String)>,
    /// Extracted code tree on the host (shown read-only at /var/task).
    pub code_dir: PathBuf,
    /// The merged tree of the function's layers on the host (shown read-only at
    /// /opt), `None` without layers. Part of the version's configuration, so a change
    /// of layers is a new revision and drains old environments like any update.
    pub opt_dir: Option<PathBuf>,
    /// Log group (`/aws/lambda/<name>` unless configured otherwise).
    pub log_group: String,
    /// Changes on every code or configuration update (Lambda's RevisionId).
    pub revision: String,
    /// AWS region the platform answers for.
    pub region: String,
    /// The function's reserved concurrency (PutFunctionConcurrency), `None` when it
    /// shares the unreserved pool. A property of the function, not of the version: the
    /// resolver sets it next to the version it resolved, and it is deliberately not part
    /// of [`FunctionSpec::pool_key`], so changing it drains no environment.
    pub reserved_concurrency: Option<u32>,
    /// A container-image function's image (docs/wire.md §17.4): its root is the
    /// sandbox's `/` and its own `/var/task` the code; `runtime` is then empty and
    /// `handler` is CMD[0] (`_HANDLER`). `None` for a .zip function.
    pub image: Option<ImageSpec>,
}

/// What a container-image function runs: the image's ENTRYPOINT + CMD (after the
/// function's ImageConfig overrides), its config's Env and working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The image's unpacked root on the host.
    pub root: PathBuf,
    /// The runtime process's command line (never empty for a spec the resolver made:
    /// an image without ENTRYPOINT or CMD fails its cold start).
    pub argv: Vec<String>,
    /// The image config's Env (under the function's own variables and Lambda's).
    pub env: Vec<(String, String)>,
    /// The runtime process's working directory.
    pub working_dir: String,
}

impl FunctionSpec {
    /// The frozen spec of one stored version; `code_dir` is its extracted code tree.
    pub fn from_version(
        v: &quiver_model::FunctionVersion,
        code_dir: PathBuf,
        partition: &quiver_model::Partition,
    ) -> Self {
        FunctionSpec {
            name: v.name.clone(),
            version: v.version.to_string(),
            arn: partition.function_arn(&v.name, None),
            runtime: v.config.runtime.clone(),
            handler: v.config.handler.clone(),
            memory_mb: v.config.memory_size,
            timeout_s: v.config.timeout,
            ephemeral_mb: v.config.ephemeral_storage,
            environment: v
                .config
                .environment
                .iter()
                .map(|(k, val)| (k.clone(), val.clone()))
                .collect(),
            code_dir,
            opt_dir: None,
            log_group: v
                .config
                .log_group
                .clone()
                .unwrap_or_else(|| format!("/aws/lambda/{}", v.name)),
            revision: v.revision_id.clone(),
            region: partition.region.clone(),
            reserved_concurrency: None,
            image: None,
        }
    }

    /// Environments are reusable only for exactly the same function version and revision.
    pub fn pool_key(&self) -> String {
        format!("{}\u{0}{}\u{0}{}", self.name, self.version, self.revision)
    }
}

/// One synchronous invocation.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    /// The event (already checked to be JSON by the caller; empty means `{}`).
    pub payload: Bytes,
    /// The request id the caller sees in `x-amzn-RequestId`; a UUID.
    pub request_id: String,
    /// The ARN as invoked (with qualifier if one was used).
    pub invoked_arn: String,
    /// Decoded client context JSON, if any.
    pub client_context: Option<String>,
    /// Whether the caller asked for the log tail.
    pub want_log_tail: bool,
    /// The trace header the runtime gets (`Lambda-Runtime-Trace-Id`, copied to
    /// `_X_AMZN_TRACE_ID`): it carries the chain of requests, so an SDK call the
    /// function makes continues it (docs/wire.md §18).
    pub trace_id: Option<String>,
    /// Where a streamed response's chunks go as they arrive (InvokeWithResponseStream);
    /// None collects it (docs/wire.md §23).
    pub chunks: Option<quiver_runtime_api::ChunkSink>,
}

/// How an invocation ended, in Lambda's terms.
#[derive(Debug, Clone)]
pub struct InvokeResult {
    /// The body the invoker gets: the function's response or Lambda's error JSON.
    pub payload: Bytes,
    /// `Some("Unhandled")` when the function failed (`X-Amz-Function-Error`).
    pub function_error: Option<String>,
    /// The version that ran (`X-Amz-Executed-Version`).
    pub executed_version: String,
    /// The last 4 KB of this invocation's log (START … REPORT), if asked for.
    pub log_tail: Option<String>,
    /// Whether this invocation paid for a cold start.
    pub cold_start: bool,
}
