//! `quiver ps`: the execution environments of a running server.

use std::time::Duration;

use anyhow::bail;

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// The server's endpoint.
    #[arg(long, env = "QUIVER_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Print the raw JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show the event source mappings' pollers (lag, batches, errors) instead.
    #[arg(long)]
    pub mappings: bool,
}

/// GET a path from the server.
pub fn get(endpoint: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let reply = super::client::request(
        endpoint,
        "GET",
        path,
        "lambda",
        &[],
        b"",
        Duration::from_secs(10),
    )?;
    if reply.status != 200 {
        bail!(
            "server answered HTTP {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    reply.json()
}

pub async fn run(args: PsArgs) -> anyhow::Result<std::process::ExitCode> {
    if args.mappings {
        return mappings(args).await;
    }
    let v = tokio::task::spawn_blocking(move || {
        get(&args.endpoint, "/_quiver/environments").map(|v| (v, args.json))
    })
    .await??;
    let (v, json) = v;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!(
        "{:<34} {:<24} {:<8} {:<9} {:>8} {:>6} {:>7} {:>8}",
        "ENVIRONMENT", "FUNCTION", "VERSION", "STATE", "AGE", "INVOKES", "MEM MB", "USED MB"
    );
    for e in v["Environments"].as_array().into_iter().flatten() {
        let age = e["age_ms"].as_u64().unwrap_or(0) / 1000;
        let used = e["max_memory_used_mb"]
            .as_u64()
            .map_or("-".to_string(), |m| m.to_string());
        println!(
            "{:<34} {:<24} {:<8} {:<9} {:>7}s {:>6} {:>7} {:>8}",
            e["id"].as_str().unwrap_or(""),
            e["function"].as_str().unwrap_or(""),
            e["version"].as_str().unwrap_or(""),
            e["state"].as_str().unwrap_or(""),
            age,
            e["invocations"].as_u64().unwrap_or(0),
            e["memory_size_mb"].as_u64().unwrap_or(0),
            used
        );
    }
    if let Some(a) = v.get("AsyncEvents") {
        println!(
            "async events: {} waiting, {} running, {} delayed (retries)",
            a["Visible"].as_u64().unwrap_or(0),
            a["InFlight"].as_u64().unwrap_or(0),
            a["Delayed"].as_u64().unwrap_or(0)
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `quiver ps --mappings`: one line per running event source mapping.
async fn mappings(args: PsArgs) -> anyhow::Result<std::process::ExitCode> {
    let json = args.json;
    let v = tokio::task::spawn_blocking(move || get(&args.endpoint, "/_quiver/mappings")).await??;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!(
        "{:<38} {:<24} {:>7} {:>8} {:>8} {:>7}",
        "MAPPING", "QUEUE", "POLLERS", "BATCHES", "ERRORS", "LAG"
    );
    for m in v["Mappings"].as_array().into_iter().flatten() {
        println!(
            "{:<38} {:<24} {:>7} {:>8} {:>8} {:>7}",
            m["uuid"].as_str().unwrap_or(""),
            m["queue"].as_str().unwrap_or(""),
            m["pollers"].as_u64().unwrap_or(0),
            m["batches"].as_u64().unwrap_or(0),
            m["errors"].as_u64().unwrap_or(0),
            m["lag"].as_u64().unwrap_or(0)
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
