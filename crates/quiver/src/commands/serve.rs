//! `quiver serve`: lock the data dir, open the store, resolve runtimes, serve the API.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use quiver_api::AppState;
use quiver_model::Partition;
use quiver_store::{CodeStore, SqliteStore, Store};

pub(crate) mod datadir;
mod images;
mod prefix;
mod runtimes;

use datadir::DataDir;

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
    /// Account concurrency (GetAccountSettings' ConcurrentExecutions): invocations in flight
    /// at once, reserved concurrency included; beyond it Invoke answers 429.
    #[arg(long, env = "QUIVER_MAX_CONCURRENCY", default_value_t = 1000)]
    pub max_concurrency: usize,
    /// Host memory budget for execution environments in MB (default: 75% of RAM).
    #[arg(long, env = "QUIVER_MEMORY_BUDGET_MB")]
    pub memory_budget_mb: Option<u64>,
    /// Idle environments are frozen after this many milliseconds without an event.
    #[arg(long, env = "QUIVER_FREEZE_AFTER_MS", default_value_t = 200)]
    pub freeze_after_ms: u64,
    /// Idle environments are destroyed after this many seconds without an event.
    #[arg(long, env = "QUIVER_IDLE_TIMEOUT_SECS", default_value_t = 600)]
    pub idle_timeout_secs: u64,
    /// Environments are retired after this many seconds, however busy.
    #[arg(long, env = "QUIVER_MAX_LIFETIME_SECS", default_value_t = 7200)]
    pub max_lifetime_secs: u64,
    /// Asynchronous events processed at once.
    #[arg(long, env = "QUIVER_ASYNC_WORKERS", default_value_t = 32)]
    pub async_workers: usize,
    /// Delay before the first retry of a failed asynchronous event (the second waits
    /// twice as long); Lambda waits about a minute.
    #[arg(long, env = "QUIVER_ASYNC_RETRY_BASE_SECS", default_value_t = 60)]
    pub async_retry_base_secs: u64,
    /// Delay between tries of a failed SNS delivery (SNS's default HTTP policy: 20 s).
    #[arg(long, env = "QUIVER_SNS_RETRY_DELAY_SECS", default_value_t = 20)]
    pub sns_retry_delay_secs: u64,
    /// Development: shift the clock used for async event ages ("restarted this much later").
    #[arg(long, hide = true, default_value_t = 0)]
    pub async_clock_offset_secs: i64,
    /// Test-only: shift the schedule ticker's clock ("as if the server ran this much
    /// later"), so catch-up after a restart is tested without waiting (docs/wire.md §25).
    #[arg(long, hide = true, default_value_t = 0)]
    pub schedule_clock_offset_secs: i64,
    /// Development: how long a new function/version stays `Pending` and an update
    /// `InProgress` (ms). 0 = settled by the first request after the answer.
    #[arg(long, hide = true, default_value_t = 0)]
    pub update_settle_ms: u64,
    /// Pre-made empty sandboxes kept ready so a cold start pays only for the runtime
    /// (0 disables). Filled after the first cold start, let go after --idle-timeout-secs
    /// without one.
    #[arg(long, env = "QUIVER_PREWARM", default_value_t = 2)]
    pub prewarm: usize,
    /// Base URL clients reach this server at (`http[s]://host[:port]`), used in the URLs
    /// the server hands out (GetFunction's `Code.Location`). Default: `http://` and the
    /// bound listen address. Set it behind a proxy or when listening on 0.0.0.0.
    #[arg(long, env = "QUIVER_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// The domain function URLs are served under: `<url-id>.lambda-url.<region>.<domain>`
    /// on the main listener (also reachable as `/_url/<url-id>/`). `localhost` resolves
    /// to the loopback on the machine running Quiver; set a wildcard DNS name otherwise.
    #[arg(long, env = "QUIVER_DOMAIN", default_value = quiver_api::state::DEFAULT_URL_DOMAIN, value_parser = parse_domain)]
    pub domain: String,
    /// Serve `POST /_quiver/echo`, an unauthenticated body echo used by the benchmarks as
    /// a same-server baseline. Off by default.
    #[arg(long, env = "QUIVER_ENABLE_ECHO_ROUTE")]
    pub enable_echo_route: bool,
    /// The secret S3 requests' SigV4 signatures are verified with (any access key; docs/
    /// wire.md §30). Without it S3 answers every signed request NotImplemented.
    #[arg(long, env = "QUIVER_S3_SECRET")]
    pub s3_secret: Option<String>,
    /// Seconds a client has to send a complete request head: from connecting, and on a
    /// kept-alive connection from the first byte of each later request.
    #[arg(long, env = "QUIVER_HEADER_READ_TIMEOUT_SECS",
          default_value_t = quiver_api::server::DEFAULT_HEADER_READ_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "QUIVER_IDLE_CONNECTION_TIMEOUT_SECS",
          default_value_t = quiver_api::server::DEFAULT_IDLE_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_connection_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog until one closes.
    /// Lowered to half the open-file limit (which is raised to its hard limit at start).
    #[arg(long, env = "QUIVER_MAX_CONNECTIONS",
          default_value_t = quiver_api::server::DEFAULT_MAX_CONNECTIONS as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Offer a runtime from an install outside the system directories (pyenv, asdf,
    /// nvm): `python3.12=/root/.pyenv/versions/3.12.1` runs `<prefix>/bin/python3.12`,
    /// `nodejs22.x=<prefix>` runs `<prefix>/bin/node`; the version must match the id.
    /// Repeatable; the environment variable takes a comma list. Added to (and replacing
    /// the same ids of) `<data-dir>/runtimes.json`, `{"<id>": "<prefix>", …}`.
    #[arg(long = "runtime", env = "QUIVER_RUNTIMES", value_name = "ID=PREFIX",
          value_delimiter = ',', value_parser = parse_runtime)]
    pub runtimes: Vec<quiver_model::PrefixRuntime>,
    #[command(flatten)]
    pub logs: super::logs::LogStoreArgs,
}

fn parse_runtime(raw: &str) -> Result<quiver_model::PrefixRuntime, String> {
    quiver_model::runtime_config::parse_prefix_runtime(raw).map_err(|e| e.to_string())
}

/// Raises the open-file soft limit to the hard one (as Go's runtime does at start: a
/// server's sockets, not a shell's default of 1024, decide what it needs) and returns the
/// limit in force.
fn raise_fd_limit() -> Option<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .inspect_err(|e| tracing::warn!("cannot read the open-file limit: {e}"))
        .ok()?;
    if soft >= hard {
        return Some(soft);
    }
    // An unlimited hard limit is not a valid soft one (the kernel caps at fs.nr_open).
    for target in [hard, hard.min(1 << 20)] {
        if setrlimit(Resource::RLIMIT_NOFILE, target, hard).is_ok() {
            tracing::debug!(from = soft, to = target, "raised the open-file limit");
            return Some(target);
        }
    }
    tracing::warn!(soft, hard, "cannot raise the open-file limit");
    Some(soft)
}

/// `--max-connections`, kept to half the open-file limit: the other half is for
/// environments, stores and logs.
fn connection_cap(requested: u64, fd_limit: Option<u64>) -> usize {
    let cap = match fd_limit {
        Some(limit) if requested > limit / 2 => {
            let lowered = (limit / 2).max(1);
            tracing::warn!(
                requested,
                open_file_limit = limit,
                max_connections = lowered,
                "--max-connections lowered to half the open-file limit"
            );
            lowered
        }
        _ => requested,
    };
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// `--public-url`: `http://` or `https://`, a host (and port), nothing after it but an
/// optional `/`.
/// A DNS name: dot-separated labels of letters, digits and `-`.
fn parse_domain(raw: &str) -> Result<String, String> {
    let d = raw.trim_matches('.');
    let ok = !d.is_empty()
        && d.len() <= 200
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(d.to_ascii_lowercase())
    } else {
        Err(format!(
            "'{raw}' is not a domain name (labels of letters, digits and '-')"
        ))
    }
}

fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = raw.trim_end_matches('/');
    let authority = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("must start with http:// or https://: {raw:?}"))?;
    if authority.is_empty() || authority.starts_with(':') {
        return Err(format!("has no host: {raw:?}"));
    }
    if let Some(c) = authority
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "must be only scheme, host and port (found {c:?}): {raw:?}"
        ));
    }
    Ok(url.to_string())
}

/// 75% of the host's RAM, from /proc/meminfo.
fn default_memory_budget_mb() -> u64 {
    let total_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .unwrap_or(4 * 1024 * 1024);
    total_kb / 1024 * 3 / 4
}

pub async fn run(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    if !(args.account.len() == 12 && args.account.bytes().all(|b| b.is_ascii_digit())) {
        anyhow::bail!("--account must be 12 digits, got {:?}", args.account);
    }
    // Installed before anything is printed: a signal sent as soon as the listening line
    // appears must stop the server cleanly, not kill it with the default action.
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    let int = signal(SignalKind::interrupt()).context("cannot install SIGINT handler")?;
    let data = DataDir::lock(&args.data_dir)?;
    let limits = quiver_api::ConnectionLimits {
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_secs),
        idle_timeout: std::time::Duration::from_secs(args.idle_connection_timeout_secs),
        max_connections: connection_cap(args.max_connections, raise_fd_limit()),
    };
    let store = SqliteStore::open(&data.metadata_db())
        .with_context(|| {
            format!(
                "cannot open metadata store {}",
                data.metadata_db().display()
            )
        })?
        .with_settle_ms(args.update_settle_ms);
    let code = CodeStore::open(&data.path).context("cannot open code store")?;
    // Reservations made under a higher --max-concurrency stay; the unreserved pool is
    // what is left of the new limit (possibly nothing).
    let reserved = store.total_reserved_concurrency()?;
    let limit = args.max_concurrency as u64;
    if reserved > limit - quiver_model::concurrency::minimum_unreserved(limit) {
        tracing::warn!(
            reserved,
            max_concurrency = limit,
            unreserved = quiver_model::concurrency::unreserved(limit, reserved),
            "reserved concurrency leaves less than Lambda's minimum unreserved"
        );
    }
    // Nothing is being served yet, so unreferenced code (a crash between blob write and
    // metadata commit, or a refused request) can be removed safely; missing trees come back.
    let referenced = store.referenced_code()?;
    let removed = code.collect_garbage(&referenced)?;
    if removed > 0 {
        tracing::info!(removed, "removed unreferenced code packages");
    }
    for sha in &referenced {
        code.ensure_tree(sha)
            .with_context(|| format!("code package {sha} is missing its blob"))?;
    }

    // A configured runtime that cannot run refuses the start (before anything listens).
    let configured = prefix::configured(&data.path, &args.runtimes)?;
    let runtimes =
        tokio::task::spawn_blocking(move || prefix::catalogue(runtimes::probe(), &configured))
            .await??;
    let image_store =
        quiver_store::ImageStore::open(&data.path).context("cannot open the image store")?;
    let runtimes = images::catalogue(runtimes, &image_store)?;
    for rt in runtimes.iter() {
        let source = rt.source.label();
        match &rt.interpreter {
            Some(bin) => {
                tracing::info!(runtime = %rt.id, source, version = %rt.version, interpreter = %bin.display(), "runtime available")
            }
            None => {
                tracing::info!(runtime = %rt.id, source, "runtime available (package brings its own bootstrap)")
            }
        }
    }

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Sandboxes: refuses to start (naming what is missing) on a host that can't isolate.
    let manager = quiver_sandbox::Manager::start(quiver_sandbox::ManagerConfig {
        data_dir: data.path.clone(),
        spawner_exe: std::env::current_exe()
            .context("cannot find the quiver binary to start the sandbox spawner")?,
    })
    .context("cannot start the sandbox manager")?;
    let manager = Arc::new(manager);
    let log_store = Arc::new(args.logs.open(&data.path)?);
    let mut engine_cfg = quiver_engine::EngineConfig::new(
        data.path.clone(),
        code.trees_dir().to_path_buf(),
        runtimes.clone(),
        args.memory_budget_mb
            .unwrap_or_else(default_memory_budget_mb),
    );
    engine_cfg.account_concurrency = args.max_concurrency;
    engine_cfg.freeze_after = std::time::Duration::from_millis(args.freeze_after_ms);
    engine_cfg.idle_timeout = std::time::Duration::from_secs(args.idle_timeout_secs);
    engine_cfg.max_lifetime = std::time::Duration::from_secs(args.max_lifetime_secs);
    engine_cfg.logs = Some(Arc::new(log_store.sink()));
    engine_cfg.prewarm = args.prewarm;
    tracing::info!(
        concurrency = engine_cfg.account_concurrency,
        memory_budget_mb = engine_cfg.memory_budget_mb,
        "execution engine limits"
    );
    let engine = Arc::new(
        quiver_engine::Engine::new(manager.clone(), engine_cfg)
            .context("cannot start the execution engine")?,
    );
    engine.spawn_janitor();
    // Durable queues (SQS API, later async invoke): their own file, their own writer thread.
    let queues_db = data.path.join("queues.db");
    let queue_store = quiver_queue::SqliteQueues::open(&queues_db)
        .with_context(|| format!("cannot open queue store {}", queues_db.display()))?;
    let queues = Arc::new(quiver_queue::Queues::new(Arc::new(queue_store)));
    // Kinesis-compatible streams: their own file (quiver-streams).
    let streams_db = data.path.join("streams.db");
    let stream_store = quiver_streams::SqliteStreams::open(&streams_db)
        .with_context(|| format!("cannot open stream store {}", streams_db.display()))?;
    let streams = quiver_streams::StreamService::new(Arc::new(stream_store));
    let store: Arc<dyn quiver_store::Store> = Arc::new(store);
    let partition = Partition::new(&args.region, &args.account);
    let invoker = quiver_triggers::Invoker::new(
        store.clone(),
        code.clone(),
        partition.clone(),
        Some(engine.clone()),
    )
    .with_images(image_store.clone());
    let async_invoker = quiver_triggers::AsyncInvoker::open(
        &data.path,
        store.clone(),
        invoker.clone(),
        queues.clone(),
        quiver_triggers::AsyncConfig {
            workers: args.async_workers,
            retry_base: std::time::Duration::from_secs(args.async_retry_base_secs),
            clock_offset_ms: args.async_clock_offset_secs * 1000,
            ..quiver_triggers::AsyncConfig::default()
        },
    )
    .await
    .context("cannot open the async invocation queue")?;
    async_invoker.start();
    // Subscription filters: new log events delivered as async invokes (docs/wire.md §27).
    let log_subscriptions = quiver_triggers::LogSubscriptions::spawn(
        log_store.clone(),
        async_invoker.clone(),
        partition.clone(),
    );
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    // SNS-compatible topics: published messages durable in sns.db, then delivered.
    let topics = quiver_triggers::Topics::open(
        &data.path,
        store.clone(),
        async_invoker.clone(),
        queues.clone(),
        &public_url,
        quiver_triggers::SnsConfig {
            retry_delay: std::time::Duration::from_secs(args.sns_retry_delay_secs),
            ..quiver_triggers::SnsConfig::default()
        },
    )
    .await
    .context("cannot open the SNS delivery queue")?;
    topics.start();
    async_invoker.set_topics(&topics);
    // EventBridge: PutEvents entries durable in their own file, matched and delivered
    // by its workers (quiver-triggers' eventbridge module).
    let eventbridge = quiver_triggers::EventBridge::open(
        &data.path,
        store.clone(),
        partition.clone(),
        invoker.clone(),
        async_invoker.clone(),
        queues.clone(),
        quiver_triggers::EventBridgeConfig::default(),
    )
    .await
    .context("cannot open the EventBridge event queue")?;
    eventbridge.set_topics(&topics);
    eventbridge.start();
    // Provisioned concurrency: the stored configs are provisioned now and followed on
    // every change (quiver-triggers' provisioned module).
    invoker.spawn_provisioner();
    // Schedules (EventBridge Scheduler): the stored ones loaded, one ticker firing them.
    let schedules = quiver_triggers::Schedules::new(
        store.clone(),
        invoker.clone(),
        Some(async_invoker.clone()),
        Some(queues.clone()),
        partition.clone(),
        args.schedule_clock_offset_secs * 1000,
    );
    let enabled = schedules
        .load()
        .await
        .context("cannot load the stored schedules")?;
    let scheduled_rules = schedules
        .load_rules()
        .await
        .context("cannot load the scheduled EventBridge rules")?;
    tracing::info!(enabled, scheduled_rules, "schedules loaded");
    let ticker = schedules.start();
    // Event source mappings: one supervisor keeps the pollers of the enabled ones.
    let mappings = quiver_triggers::Mappings::new(
        store.clone(),
        queues.clone(),
        invoker.clone(),
        partition.clone(),
    );
    let supervisor = mappings.start();
    let state = AppState::new(store, code, partition, runtimes.clone())
        .with_schedules(schedules.clone())
        .with_mappings(mappings.clone())
        .with_invoker(invoker)
        .with_async(async_invoker.clone())
        .with_eventbridge(eventbridge.clone())
        .with_engine(engine.clone())
        .with_images(image_store)
        .with_logs(log_store.clone())
        .with_queues(queues.clone())
        .with_streams(streams.clone())
        .with_sns(topics.clone())
        .with_public_url(&public_url)
        .with_url_domain(&args.domain)
        .with_echo_route(args.enable_echo_route);
    // S3-compatible object store: bodies under objects/, metadata in objects.db.
    let objects =
        quiver_objects::ObjectStore::open(&data.path).context("cannot open the object store")?;
    let state = state.with_s3(quiver_api::s3::build(
        Arc::new(objects),
        args.s3_secret.as_deref(),
    ));
    let app = quiver_api::router(state);

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "quiver listening on http://{addr}")?;
        writeln!(out, "quiver data in {}", data.path.display())?;
        writeln!(out, "quiver runtimes: {}", runtimes.ids().join(", "))?;
        out.flush()?;
    }
    // On SIGTERM/SIGINT: stop accepting, let in-flight requests finish for a while, then
    // stop anyway (a 900 s invocation must not hold the server for 15 minutes).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal(term, int).await;
        let _ = stop_tx.send(true);
    });
    let stopping = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    tracing::info!(
        header_read_timeout_secs = limits.header_read_timeout.as_secs(),
        idle_timeout_secs = limits.idle_timeout.as_secs(),
        max_connections = limits.max_connections,
        "connection limits"
    );
    let graceful = quiver_api::serve(listener, app, limits, stopping(stop_rx.clone()));
    let served = tokio::select! {
        r = graceful => r,
        _ = async {
            stopping(stop_rx.clone()).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("requests still in flight {} s after the stop signal; stopping their environments", SHUTDOWN_GRACE.as_secs());
            Ok(())
        }
    };
    // No new deliveries (what is not queued keeps its cursor), then no new async work;
    // events in flight stay queued and come back after a restart.
    log_subscriptions.shutdown().await;
    // No new fires, then no new async work; events in flight stay queued and come back
    // after a restart.
    schedules.shutdown();
    let _ = ticker.await;
    // No new batches; records in flight return to their queues after the visibility
    // timeout.
    supervisor.abort();
    mappings.shutdown();
    // No new deliveries (they may still queue async events), then no new async work;
    // what is in flight stays queued and comes back after a restart.
    topics.shutdown().await;
    // No new async work; events in flight stay queued and come back after a restart.
    eventbridge.shutdown().await;
    async_invoker.shutdown().await;
    // Stop every environment (SIGTERM, 2 s grace, kill) before releasing the data dir.
    engine.shutdown().await;
    manager.shutdown().await;
    // After the environments: their last lines are queued; commit them.
    log_store.close();
    streams.close();
    // Open requests are drained: wait for the last queue commit.
    queues.close().await;
    served.context("server failed")?;
    tracing::info!("shut down cleanly");
    drop(data);
    Ok(std::process::ExitCode::SUCCESS)
}

/// How long in-flight requests may run on after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

async fn shutdown_signal(
    mut term: tokio::signal::unix::Signal,
    mut int: tokio::signal::unix::Signal,
) {
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_a_dns_name() {
        assert_eq!(parse_domain("Dev.Example.").unwrap(), "dev.example");
        assert_eq!(parse_domain("localhost").unwrap(), "localhost");
        for bad in ["", "a..b", "a b", "x/y", "a:1"] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_url_is_a_bare_base_url() {
        assert_eq!(
            parse_public_url("http://quiver.localtest:1234/").unwrap(),
            "http://quiver.localtest:1234"
        );
        assert_eq!(
            parse_public_url("https://[::1]:9000").unwrap(),
            "https://[::1]:9000"
        );
        for bad in [
            "quiver:1234",
            "ftp://x",
            "http://",
            "http://:80",
            "http://x/path",
            "http://x?q",
            "http://u@x",
            "http://a b",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_cap_stays_under_half_the_fd_limit() {
        assert_eq!(connection_cap(10_000, Some(20_000)), 10_000);
        assert_eq!(connection_cap(10_000, Some(1024)), 512);
        assert_eq!(connection_cap(5, Some(1024)), 5);
        assert_eq!(connection_cap(10_000, None), 10_000);
        assert_eq!(connection_cap(10, Some(1)), 1);
    }
}
