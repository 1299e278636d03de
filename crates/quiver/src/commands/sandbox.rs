//! `quiver sandbox run …`: one-off sandboxes for development and the sandbox tests.

#[derive(clap::Args, Debug)]
pub struct SandboxArgs {}

pub async fn run(_args: SandboxArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("sandbox: not implemented yet")
}
