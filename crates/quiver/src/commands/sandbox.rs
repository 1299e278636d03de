//! `quiver sandbox run …`: one-off sandboxes for development and the sandbox tests;
//! `quiver sandbox bench …`: create/destroy timings against same-run baselines.

use anyhow::Context;
use quiver_sandbox::{Manager, ManagerConfig, Sandbox, SandboxSpec};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    #[command(subcommand)]
    cmd: SandboxCmd,
}

#[derive(clap::Subcommand, Debug)]
enum SandboxCmd {
    /// Run ARGV in a fresh sandbox, forward its output, report how it ended.
    Run(RunArgs),
    /// Measure create→ready and destroy times and sandboxes per second.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
struct Common {
    /// Data dir; names the instance (cgroups) and holds scratch files.
    #[arg(long, default_value = "./.quiver")]
    data_dir: PathBuf,
    /// MemorySize in MB (CPU weight and quota follow it).
    #[arg(long, default_value_t = 256)]
    memory: u32,
    /// Size of /tmp in MB.
    #[arg(long, default_value_t = 512)]
    ephemeral: u32,
    /// Host directory shown read-only at /var/task (default: an empty directory).
    #[arg(long)]
    code: Option<PathBuf>,
    /// Extra host paths bound read-only at the same path.
    #[arg(long = "ro-bind")]
    ro_bind: Vec<PathBuf>,
    /// Environment of the runtime (nothing else is passed).
    #[arg(long = "env")]
    env: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Serve HTTP on 127.0.0.1:9001 inside the sandbox's network namespace.
    #[arg(long)]
    http_echo: bool,
    /// Apply the hard CPU quota right after start (normally done after INIT).
    #[arg(long)]
    cpu_quota: bool,
    /// Print a JSON report as the last stdout line.
    #[arg(long)]
    json: bool,
    /// Runtime command line.
    #[arg(last = true, required = true)]
    argv: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    #[command(flatten)]
    common: Common,
    /// Sandboxes to create in the latency phase (one at a time).
    #[arg(long, default_value_t = 200)]
    count: usize,
    /// Seconds of the throughput phase.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Concurrent create+destroy loops in the throughput phase.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

pub async fn run(args: SandboxArgs) -> anyhow::Result<std::process::ExitCode> {
    match args.cmd {
        SandboxCmd::Run(a) => run_one(a).await,
        SandboxCmd::Bench(a) => bench(a).await,
    }
}

fn start_manager(c: &Common) -> anyhow::Result<Manager> {
    let cfg = ManagerConfig {
        data_dir: c.data_dir.clone(),
        spawner_exe: std::env::current_exe()?,
    };
    Ok(Manager::start(cfg)?)
}

fn spec_of(c: &Common, argv: Vec<String>) -> anyhow::Result<SandboxSpec> {
    let code_dir = match &c.code {
        Some(p) => p
            .canonicalize()
            .with_context(|| format!("--code {}", p.display()))?,
        None => {
            let d = c.data_dir.canonicalize()?.join("sandbox-empty-code");
            std::fs::create_dir_all(&d)?;
            d
        }
    };
    let env = c
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--env {kv}: expected K=V"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ro = c
        .ro_bind
        .iter()
        .map(|p| {
            p.canonicalize()
                .with_context(|| format!("--ro-bind {}", p.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(SandboxSpec {
        memory_mb: c.memory,
        ephemeral_mb: c.ephemeral,
        code_dir,
        extra_ro_binds: ro,
        argv,
        env,
        cwd: "/var/task".into(),
        hostname: "quiver-sandbox".into(),
        runtime_dir: None,
        image_root: None,
        hold: false,
        opt_dir: None,
    })
}

/// Copy a sandbox pipe to our stdout/stderr (blocking writes are fine for a dev CLI).
async fn forward(fd: Option<std::os::fd::OwnedFd>, to_stdout: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let Some(fd) = fd else { return Ok(()) };
    let mut rx = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = rx.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if to_stdout {
            let mut o = std::io::stdout().lock();
            o.write_all(&buf[..n])?;
            o.flush()?;
        } else {
            std::io::stderr().lock().write_all(&buf[..n])?;
        }
    }
    Ok(())
}

async fn run_one(a: RunArgs) -> anyhow::Result<std::process::ExitCode> {
    std::fs::create_dir_all(&a.common.data_dir)?;
    let mut spec = spec_of(&a.common, a.argv.clone())?;
    // With --http-echo the listener must exist before the program's first request.
    spec.hold = a.http_echo;
    let manager = start_manager(&a.common)?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sb = match manager.create(spec).await {
        Ok(sb) => sb,
        Err(e) => {
            manager.shutdown().await;
            return Err(e.into());
        }
    };
    let out_task = tokio::spawn(forward(sb.take_stdout(), true));
    let err_task = tokio::spawn(forward(sb.take_stderr(), false));
    if a.http_echo {
        let l = sb.listen_tcp("127.0.0.1:9001".parse()?)?;
        tokio::spawn(http_echo(tokio::net::TcpListener::from_std(l)?));
        sb.release()?;
    }
    if a.cpu_quota {
        sb.apply_cpu_quota()?;
    }
    let report = tokio::select! {
        r = sb.wait() => r,
        _ = term.recv() => return Ok(interrupted(manager, sb, 143).await),
        _ = int.recv() => return Ok(interrupted(manager, sb, 130).await),
    };
    // Output pipes reach EOF once every process of the sandbox is gone.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = out_task.await;
        let _ = err_task.await;
    })
    .await;
    let peak = sb.memory_peak_bytes().ok();
    let cpu = sb.cpu_usage_ns().ok();
    let cgroup = sb.cgroup_path();
    let init_pid = sb.init_pid();
    let _ = sb.destroy().await;
    manager.shutdown().await;
    if a.json {
        let line = serde_json::json!({
            "exit": report.description,
            "oom_killed": report.oom_killed,
            "memory_peak_bytes": peak,
            "cpu_usage_ns": cpu,
            "cgroup": cgroup,
            "init_pid": init_pid,
            "setup_error": report.setup_error,
        });
        use std::io::Write;
        let mut o = std::io::stdout().lock();
        writeln!(o, "{line}")?;
        o.flush()?;
    }
    Ok(std::process::ExitCode::from(
        report.shell_code().clamp(0, 255) as u8,
    ))
}

async fn interrupted(manager: Manager, sb: Sandbox, code: u8) -> std::process::ExitCode {
    tracing::info!("signal received: stopping sandboxes");
    drop(sb.destroy().await);
    manager.shutdown().await;
    std::process::ExitCode::from(code)
}

/// A deliberately tiny HTTP/1.1 responder: `GET /x` → `hello from host /x`.
async fn http_echo(l: tokio::net::TcpListener) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let _ = s.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf);
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let body = format!("hello from host {path}");
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        });
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn time_cmd(n: usize, prog: &str, args: &[&str]) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let _ = std::process::Command::new(prog).args(args).status();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

async fn bench(a: BenchArgs) -> anyhow::Result<std::process::ExitCode> {
    std::fs::create_dir_all(&a.common.data_dir)?;
    let spec = spec_of(&a.common, vec!["/bin/true".into()])?;
    let manager = std::sync::Arc::new(start_manager(&a.common)?);
    // Baselines in the same run.
    let n = a.count.min(200);
    let mut fork = tokio::task::spawn_blocking(move || time_cmd(n, "/bin/true", &[])).await?;
    let mut unshare = tokio::task::spawn_blocking(move || {
        time_cmd(
            n,
            "unshare",
            &[
                "--pid", "--fork", "--mount", "--net", "--uts", "--ipc", "true",
            ],
        )
    })
    .await?;
    // Latency: one at a time.
    let (mut create, mut destroy) = (Vec::new(), Vec::new());
    for _ in 0..a.count {
        let t = Instant::now();
        let sb = manager.create(spec.clone()).await?;
        create.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        sb.destroy().await?;
        destroy.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // Throughput: `concurrency` loops of create → wait → destroy.
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..a.concurrency {
        let (m, spec) = (manager.clone(), spec.clone());
        set.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let sb = m.create(spec.clone()).await?;
                sb.wait().await;
                sb.destroy().await?;
                done += 1;
            }
            anyhow::Ok(done)
        });
    }
    let mut total = 0;
    while let Some(r) = set.join_next().await {
        total += r??;
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    manager.shutdown().await;
    let row = |name: &str, v: &mut Vec<f64>| {
        let p50 = percentile(v, 0.5);
        let p99 = percentile(v, 0.99);
        println!("| {name} | {} | {p50:.2} | {p99:.2} |", v.len());
    };
    println!("| what | n | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    row("fork+exec /bin/true", &mut fork);
    row(
        "unshare --pid --fork --mount --net --uts --ipc true",
        &mut unshare,
    );
    row("sandbox create→ready (/bin/true, 256 MB)", &mut create);
    row("sandbox destroy (exited runtime)", &mut destroy);
    println!();
    println!(
        "throughput: {total} sandboxes (create → runtime exits → destroy) in {:.2} s with {} concurrent loops = {rate:.0}/s",
        start.elapsed().as_secs_f64(),
        a.concurrency
    );
    Ok(std::process::ExitCode::SUCCESS)
}
