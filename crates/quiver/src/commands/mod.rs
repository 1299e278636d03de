//! One file per CLI verb.

pub mod client;
pub mod invoke;
pub mod logs;
pub mod ps;
pub mod runtime;
pub mod sandbox;
pub mod serve;
pub mod spawner;

/// Logs go to stderr so that stdout stays machine-readable (tests wait for the
/// `quiver listening on …` line on stdout).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("QUIVER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
