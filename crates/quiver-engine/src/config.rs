//! The engine's settings, and the part of them the pool's bookkeeping needs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use quiver_model::RuntimeCatalogue;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The data dir (built-in runtimes are installed under it).
    pub data_dir: PathBuf,
    /// Where the code store keeps extracted code trees, one `<sha256>` directory per
    /// package. Passed in rather than derived from `data_dir` so that the store alone
    /// decides its layout: a pre-made sandbox can only be assigned code that lives
    /// directly under this directory, so a wrong guess here would silently turn every
    /// cold start back into a full sandbox build.
    pub code_base: PathBuf,
    /// Runtime ids → interpreters on this host.
    pub catalogue: RuntimeCatalogue,
    /// Account concurrency: invocations in flight at once (Lambda's default 1000).
    pub account_concurrency: usize,
    /// Host memory budget for environments, in MB. Busy and starting environments
    /// count their MemorySize, idle ones what they actually used.
    pub memory_budget_mb: u64,
    /// Idle environments are frozen after this long without an event.
    pub freeze_after: Duration,
    /// Idle environments are destroyed after this long without an event.
    pub idle_timeout: Duration,
    /// Environments retire (are not reused) after this long, however busy.
    pub max_lifetime: Duration,
    /// Where every environment's output and START/END/REPORT lines are stored
    /// (None: only the Invoke Tail and the debug trace see them).
    pub logs: Option<Arc<quiver_logs::LogSink>>,
    /// Pre-made empty sandboxes kept ready for cold starts (0: none). The pool follows
    /// demand: it is filled after the first cold start, refilled in the background
    /// after one is taken (within free budget only, never by evicting), and let go
    /// when no cold start happened for `idle_timeout`, like idle environments. An
    /// idle server therefore holds no sandboxes at all.
    pub prewarm: usize,
}

impl EngineConfig {
    /// Defaults: 1000 concurrent, 10 min idle, 2 h lifetime, freeze after 200 ms.
    /// `code_base` is the code store's tree directory (see [`EngineConfig::code_base`]).
    pub fn new(
        data_dir: PathBuf,
        code_base: PathBuf,
        catalogue: RuntimeCatalogue,
        memory_budget_mb: u64,
    ) -> Self {
        EngineConfig {
            data_dir,
            code_base,
            catalogue,
            account_concurrency: 1000,
            memory_budget_mb,
            freeze_after: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(2 * 3600),
            logs: None,
            prewarm: 2,
        }
    }
}

/// The limits the pool enforces: plain numbers, so the bookkeeping can be tested
/// without a catalogue, a data dir or a log store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub account_concurrency: usize,
    pub memory_budget_mb: u64,
    pub freeze_after: Duration,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub prewarm: usize,
}

impl From<&EngineConfig> for Limits {
    fn from(c: &EngineConfig) -> Self {
        Limits {
            account_concurrency: c.account_concurrency,
            memory_budget_mb: c.memory_budget_mb,
            freeze_after: c.freeze_after,
            idle_timeout: c.idle_timeout,
            max_lifetime: c.max_lifetime,
            prewarm: c.prewarm,
        }
    }
}
