//! `quiver ps`: the execution environments of a running server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// The server's endpoint.
    #[arg(long, env = "QUIVER_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Print the raw JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// GET a path from the server with a dev-mode signature header (any key is accepted).
pub fn get(endpoint: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let hostport = endpoint.strip_prefix("http://").context("--endpoint must start with http://")?.trim_end_matches('/');
    let mut s = TcpStream::connect(hostport).with_context(|| format!("cannot connect to {hostport}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=quiver-cli/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature={}\r\n\r\n",
        "0".repeat(64)
    );
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").context("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("server answered {}: {body}", head.lines().next().unwrap_or(""));
    }
    // The server may answer chunked; take the JSON object inside.
    let start = body.find('{').context("no JSON in response")?;
    let end = body.rfind('}').context("no JSON in response")?;
    Ok(serde_json::from_str(&body[start..=end])?)
}

pub async fn run(args: PsArgs) -> anyhow::Result<std::process::ExitCode> {
    let v = tokio::task::spawn_blocking(move || get(&args.endpoint, "/_quiver/environments").map(|v| (v, args.json)))
        .await??;
    let (v, json) = v;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!("{:<34} {:<24} {:<8} {:<9} {:>8} {:>6} {:>7} {:>8}", "ENVIRONMENT", "FUNCTION", "VERSION", "STATE", "AGE", "INVOKES", "MEM MB", "USED MB");
    for e in v["Environments"].as_array().into_iter().flatten() {
        let age = e["age_ms"].as_u64().unwrap_or(0) / 1000;
        let used = e["max_memory_used_mb"].as_u64().map_or("-".to_string(), |m| m.to_string());
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
    Ok(std::process::ExitCode::SUCCESS)
}
