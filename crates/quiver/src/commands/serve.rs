//! `quiver serve`.

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "QUIVER_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: String,
    /// Where metadata, code blobs and logs live.
    #[arg(long, env = "QUIVER_DATA_DIR", default_value = "./.quiver")]
    pub data_dir: std::path::PathBuf,
    #[arg(long, env = "QUIVER_REGION", default_value = "us-east-1")]
    pub region: String,
    #[arg(long, env = "QUIVER_ACCOUNT", default_value = "000000000000")]
    pub account: String,
}

pub async fn run(_args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("serve: not implemented yet")
}
