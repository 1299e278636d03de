//! `quiver`: one binary for the server and its CLI.
//!
//! `main` parses arguments *before* any async runtime exists, because the hidden
//! `__spawner` verb must stay single-threaded (it forks and clones sandboxes; see
//! docs/sandbox.md §2). Every other verb gets a tokio runtime.
#![forbid(unsafe_code)]

mod commands;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "quiver",
    version,
    about = "A self-hosted, AWS Lambda-compatible function platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the platform: Lambda API, runtime engine, embedded store.
    Serve(Box<commands::serve::ServeArgs>),
    /// Show a function's logs, like `aws logs tail` (`--follow` keeps polling).
    Logs(commands::logs::LogsArgs),
    /// List the execution environments of a running server.
    Ps(commands::ps::PsArgs),
    /// The runtimes of a running server (`quiver runtime ls`).
    Runtime(commands::runtime::RuntimeArgs),
    /// Invoke a function (synchronously, or queued with --async).
    Invoke(commands::invoke::InvokeArgs),
    /// Run a command inside a one-off sandbox (development and tests of the sandbox layer).
    Sandbox(commands::sandbox::SandboxArgs),
    /// Internal: the single-threaded sandbox spawner. Started by the server, never by hand.
    #[command(name = "__spawner", hide = true)]
    Spawner(commands::spawner::SpawnerArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // No tokio, no extra threads: this process forks.
        Command::Spawner(args) => commands::spawner::run(args),
        Command::Serve(args) => with_runtime(|| commands::serve::run(*args)),
        Command::Sandbox(args) => with_runtime(|| commands::sandbox::run(args)),
        Command::Ps(args) => with_runtime(|| commands::ps::run(args)),
        Command::Logs(args) => commands::logs::run(args),
        Command::Invoke(args) => commands::invoke::run(args),
        Command::Runtime(args) => commands::runtime::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("quiver: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn with_runtime<F, Fut>(f: F) -> anyhow::Result<std::process::ExitCode>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<std::process::ExitCode>>,
{
    commands::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(f())
}
