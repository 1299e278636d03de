//! The hidden `__spawner` verb: runs the single-threaded sandbox spawner.
//!
//! Started by `quiver_sandbox::Manager::start` with its end of a socketpair on `--fd`.
//! No tokio runtime and no extra threads may exist in this process (it clones).

#[derive(clap::Args, Debug)]
pub struct SpawnerArgs {
    /// The inherited socket to the Manager.
    #[arg(long)]
    pub fd: i32,
}

pub fn run(args: SpawnerArgs) -> anyhow::Result<std::process::ExitCode> {
    quiver_sandbox::run_spawner(args.fd)?;
    Ok(std::process::ExitCode::SUCCESS)
}
