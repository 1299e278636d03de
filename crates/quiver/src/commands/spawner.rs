//! The hidden `__spawner` verb: runs the single-threaded sandbox spawner.

#[derive(clap::Args, Debug)]
pub struct SpawnerArgs {}

pub fn run(_args: SpawnerArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("spawner: not implemented yet")
}
