//! `quiver invoke <function>`: run a function synchronously (prints its answer) or
//! asynchronously with `--async` (prints the request id of the queued event).

use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine as _;

use super::client;

#[derive(clap::Args, Debug)]
pub struct InvokeArgs {
    /// Function name or ARN.
    pub function: String,
    /// The event: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// Queue the event (InvocationType Event) instead of waiting for the answer.
    #[arg(long = "async")]
    pub is_async: bool,
    /// Version or alias.
    #[arg(long)]
    pub qualifier: Option<String>,
    /// Also print the invocation's last 4 KB of log (synchronous only).
    #[arg(long)]
    pub tail: bool,
    /// The server's endpoint.
    #[arg(long, env = "QUIVER_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
}

fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn run(args: InvokeArgs) -> anyhow::Result<std::process::ExitCode> {
    let payload = match args.payload.strip_prefix('@') {
        Some(file) => std::fs::read(file).with_context(|| format!("cannot read {file}"))?,
        None => args.payload.clone().into_bytes(),
    };
    let mut path = format!(
        "/2015-03-31/functions/{}/invocations",
        encode_path(&args.function)
    );
    if let Some(q) = &args.qualifier {
        path.push_str(&format!("?Qualifier={}", encode_path(q)));
    }
    let kind = if args.is_async {
        "Event"
    } else {
        "RequestResponse"
    };
    let log = if args.tail && !args.is_async {
        "Tail"
    } else {
        "None"
    };
    let headers = [("X-Amz-Invocation-Type", kind), ("X-Amz-Log-Type", log)];
    let reply = client::request(
        &args.endpoint,
        "POST",
        &path,
        "lambda",
        &headers,
        &payload,
        Duration::from_secs(960),
    )?;
    if reply.status >= 300 {
        let v = reply.json().unwrap_or_default();
        let code = reply
            .header("x-amzn-ErrorType")
            .unwrap_or("Error")
            .to_string();
        let msg = v["message"]
            .as_str()
            .or(v["Message"].as_str())
            .unwrap_or("")
            .to_string();
        bail!("{code} (HTTP {}): {msg}", reply.status);
    }
    let request_id = reply.header("x-amzn-RequestId").unwrap_or("").to_string();
    if args.is_async {
        println!("queued {request_id}");
        return Ok(std::process::ExitCode::SUCCESS);
    }
    if let Some(tail) = reply.header("X-Amz-Log-Result") {
        let text = base64::engine::general_purpose::STANDARD
            .decode(tail)
            .unwrap_or_default();
        eprint!("{}", String::from_utf8_lossy(&text));
    }
    println!("{}", String::from_utf8_lossy(&reply.body));
    if let Some(fe) = reply.header("X-Amz-Function-Error") {
        eprintln!("function error ({fe}), request {request_id}");
        return Ok(std::process::ExitCode::from(1));
    }
    Ok(std::process::ExitCode::SUCCESS)
}
