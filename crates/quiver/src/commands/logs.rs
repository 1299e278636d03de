//! `quiver logs <function>`: a function's log events, like `aws logs tail`.
//!
//! Talks to the server's CloudWatch Logs API (FilterLogEvents) like any client would.
//! `--follow` polls every 200 ms from the newest event seen (minus a safety window,
//! de-duplicated by eventId), so a new invocation's lines show within a second.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Function name (its group is `/aws/lambda/<name>`), or a log group name starting with `/`.
    pub function: String,
    /// The server's endpoint.
    #[arg(long, env = "QUIVER_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Keep printing new events as they arrive.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// How far back to start: `30s`, `10m`, `2h`, `1d`.
    #[arg(long, default_value = "10m")]
    pub since: String,
    /// A CloudWatch filter pattern (`ERROR`, `"exact phrase"`, `-skip`, `?a ?b`).
    #[arg(long)]
    pub filter: Option<String>,
}

/// `10m` → 600000 ms.
fn parse_since(s: &str) -> anyhow::Result<i64> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .with_context(|| format!("--since {s:?}: expected a number and a unit (s, m, h, d, w)"))?;
    let mult = match unit {
        "s" | "" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => bail!("--since {s:?}: unknown unit {unit:?} (use s, m, h, d or w)"),
    };
    Ok(n * mult)
}

/// One JSON 1.1 call to the Logs API.
fn call(endpoint: &str, op: &str, body: &Value) -> anyhow::Result<Result<Value, (String, String)>> {
    let target = format!("Logs_20140328.{op}");
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", target.as_str()),
    ];
    let reply = super::client::request(
        endpoint,
        "POST",
        "/",
        "logs",
        &headers,
        body.to_string().as_bytes(),
        Duration::from_secs(30),
    )?;
    let v = reply.json()?;
    if reply.status == 200 {
        Ok(Ok(v))
    } else {
        let code = v["__type"].as_str().unwrap_or("Error").to_string();
        Ok(Err((code, v["message"].as_str().unwrap_or("").to_string())))
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2026-11-26T20:44:17.980Z`
fn iso(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    quiver_model::format_iso_millis(t)
}

/// ANSI colour for a message, if it deserves one: platform lines dim cyan, errors red.
fn colour(message: &str) -> Option<&'static str> {
    let m = message.trim_start();
    if m.starts_with("START RequestId:")
        || m.starts_with("END RequestId:")
        || m.starts_with("REPORT RequestId:")
    {
        Some("\x1b[36m")
    } else if m.starts_with("[ERROR]")
        || m.contains("\tERROR\t")
        || m.contains("Task timed out")
        || m.contains("Runtime exited with error")
        || m.starts_with("Traceback")
        || m.starts_with("[quiver] dropped")
    {
        Some("\x1b[31m")
    } else {
        None
    }
}

fn print_event(out: &mut impl Write, e: &Value, tty: bool) -> std::io::Result<()> {
    let ts = iso(e["timestamp"].as_i64().unwrap_or(0));
    let stream = e["logStreamName"].as_str().unwrap_or("");
    let msg = e["message"].as_str().unwrap_or("");
    match colour(msg).filter(|_| tty) {
        Some(c) => writeln!(out, "\x1b[2m{ts}\x1b[0m {stream} {c}{msg}\x1b[0m"),
        None => writeln!(out, "{ts} {stream} {msg}"),
    }
}

pub fn run(args: LogsArgs) -> anyhow::Result<std::process::ExitCode> {
    let group = if args.function.starts_with('/') {
        args.function.clone()
    } else {
        format!("/aws/lambda/{}", args.function)
    };
    let mut start = now_ms() - parse_since(&args.since)?;
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    // eventId → timestamp of what was printed inside the overlap window.
    let mut seen: HashMap<String, i64> = HashMap::new();
    // Events can be stored slightly out of time order across streams: re-read this far back.
    const OVERLAP_MS: i64 = 5_000;
    loop {
        let mut token: Option<String> = None;
        let mut newest = start;
        loop {
            let mut req = json!({ "logGroupName": group, "startTime": start });
            if let Some(f) = &args.filter {
                req["filterPattern"] = json!(f);
            }
            if let Some(t) = &token {
                req["nextToken"] = json!(t);
            }
            match call(&args.endpoint, "FilterLogEvents", &req)? {
                Ok(v) => {
                    for e in v["events"].as_array().into_iter().flatten() {
                        let id = e["eventId"].as_str().unwrap_or("").to_string();
                        let ts = e["timestamp"].as_i64().unwrap_or(0);
                        newest = newest.max(ts);
                        if seen.insert(id, ts).is_none() && print_event(&mut out, e, tty).is_err() {
                            return Ok(std::process::ExitCode::SUCCESS); // reader went away
                        }
                    }
                    token = v["nextToken"].as_str().map(str::to_string);
                    if token.is_none() {
                        break;
                    }
                }
                Err((code, _)) if code == "ResourceNotFoundException" && args.follow => break,
                Err((code, _)) if code == "ResourceNotFoundException" => {
                    eprintln!("quiver: no logs for {group} yet");
                    return Ok(std::process::ExitCode::SUCCESS);
                }
                Err((code, msg)) => bail!("{code}: {msg}"),
            }
        }
        if out.flush().is_err() || !args.follow {
            return Ok(std::process::ExitCode::SUCCESS);
        }
        start = start.max(newest - OVERLAP_MS);
        seen.retain(|_, ts| *ts >= start);
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_units() {
        assert_eq!(parse_since("10m").unwrap(), 600_000);
        assert_eq!(parse_since("30s").unwrap(), 30_000);
        assert_eq!(parse_since("2h").unwrap(), 7_200_000);
        assert_eq!(parse_since("1d").unwrap(), 86_400_000);
        assert!(parse_since("5y").is_err());
        assert!(parse_since("m").is_err());
    }

    #[test]
    fn colours_only_platform_and_error_lines() {
        assert!(colour("START RequestId: x Version: $LATEST").is_some());
        assert!(colour("REPORT RequestId: x\tDuration: 1.00 ms\t").is_some());
        assert!(colour("[ERROR]\t2024-01-01T00:00:00.000Z\tid\tboom").is_some());
        assert!(colour("hello world").is_none());
        assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}

/// `quiver serve` settings of the log store.
#[derive(clap::Args, Debug)]
pub struct LogStoreArgs {
    /// Disk budget for stored function logs, in MB; beyond it the oldest events are
    /// dropped (with a warning in the server log).
    #[arg(long, env = "QUIVER_LOGS_MAX_MB", default_value_t = 1024)]
    pub logs_max_mb: u64,
    /// How often the retention pass deletes expired events, in ms.
    #[arg(
        long,
        env = "QUIVER_LOGS_RETENTION_INTERVAL_MS",
        default_value_t = 60_000
    )]
    pub logs_retention_interval_ms: u64,
    /// Development only: shift the log clock (event timestamps and retention) by this
    /// many seconds, to see what a restart N seconds later would do. Tests use it to age
    /// events past their retention without rewriting them.
    #[arg(
        long,
        env = "QUIVER_LOGS_CLOCK_OFFSET_SECS",
        default_value_t = 0,
        hide = true,
        allow_negative_numbers = true
    )]
    pub logs_clock_offset_secs: i64,
    /// Per-environment output limit, bytes per second (burst: 5x).
    #[arg(long, env = "QUIVER_LOGS_RATE_BYTES", default_value_t = 1024 * 1024)]
    pub logs_rate_bytes: u64,
    /// Per-environment output limit, lines per second (burst: 5x).
    #[arg(long, env = "QUIVER_LOGS_RATE_LINES", default_value_t = 10_000)]
    pub logs_rate_lines: u64,
}

impl LogStoreArgs {
    /// Opens `<data_dir>/logs.db` with these settings.
    pub fn open(&self, data_dir: &std::path::Path) -> anyhow::Result<quiver_logs::LogStore> {
        let mut cfg = quiver_logs::LogConfig::new(data_dir.join("logs.db"));
        cfg.max_bytes = self.logs_max_mb.max(1) * 1024 * 1024;
        cfg.retention_interval = Duration::from_millis(self.logs_retention_interval_ms.max(10));
        cfg.clock_offset_ms = self.logs_clock_offset_secs * 1000;
        cfg.rate = quiver_logs::RateLimits {
            bytes_per_sec: self.logs_rate_bytes as f64,
            burst_bytes: self.logs_rate_bytes as f64 * 5.0,
            lines_per_sec: self.logs_rate_lines as f64,
            burst_lines: self.logs_rate_lines as f64 * 5.0,
        };
        quiver_logs::LogStore::open(cfg)
            .with_context(|| format!("cannot open the log store in {}", data_dir.display()))
    }
}
