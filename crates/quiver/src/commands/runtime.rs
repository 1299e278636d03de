//! `quiver runtime ls`: the runtimes a running server offers, and where each comes from.

#[derive(clap::Args, Debug)]
pub struct RuntimeArgs {
    #[command(subcommand)]
    pub command: RuntimeCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum RuntimeCommand {
    /// List the runtime catalogue: id, source (host, prefix, package), version, where.
    Ls(LsArgs),
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// The server's endpoint.
    #[arg(long, env = "QUIVER_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Print the raw JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RuntimeArgs) -> anyhow::Result<std::process::ExitCode> {
    let RuntimeCommand::Ls(args) = args.command;
    let v = super::ps::get(&args.endpoint, "/_quiver/runtimes")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!("{:<16} {:<8} {:<10} WHERE", "ID", "SOURCE", "VERSION");
    for rt in v["Runtimes"].as_array().into_iter().flatten() {
        let place = match rt["Interpreter"].as_str() {
            Some(bin) => bin.to_string(),
            None => "the function's bootstrap".to_string(),
        };
        println!(
            "{:<16} {:<8} {:<10} {place}",
            rt["Id"].as_str().unwrap_or(""),
            rt["Source"].as_str().unwrap_or(""),
            rt["Version"].as_str().unwrap_or(""),
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
