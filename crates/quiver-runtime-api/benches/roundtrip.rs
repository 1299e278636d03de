//! Warm invoke round trip through the Runtime API with the real Python and Node bootstraps,
//! against a bare hyper HTTP/1.1 echo round trip measured in the same run (the floor).
//! Also: cold start (spawn → first /next) of each bootstrap.
//!
//! Run: `cargo bench -p quiver-runtime-api` (env BENCH_N = invokes per case, default 2000).

use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use quiver_runtime_api::{InitOutcome, Invocation, InvokeOutcome, RuntimeApi, RuntimeApiConfig};

const PAYLOAD: &[u8] = br#"{"key":"value","n":42}"#;

fn pct(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |p: f64| us(v[((v.len() as f64 * p) as usize).min(v.len() - 1)]);
    (
        at(0.50),
        at(0.99),
        us(v.iter().sum::<Duration>()) / v.len() as f64,
    )
}

fn report(name: &str, v: Vec<Duration>) {
    let n = v.len();
    let (p50, p99, mean) = pct(v);
    println!("{name:<34} n={n:<6} p50={p50:>8.1} µs  p99={p99:>8.1} µs  mean={mean:>8.1} µs");
}

async fn hyper_echo(n: usize) -> Vec<Duration> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let b = req.into_body().collect().await.unwrap().to_bytes();
                    Ok::<_, Infallible>(Response::new(Full::new(b)))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 100 {
        let t = Instant::now();
        tx.ready().await.unwrap();
        let req = Request::post("/echo")
            .header("host", "x")
            .body(Full::new(Bytes::from_static(PAYLOAD)))
            .unwrap();
        let res = tx.send_request(req).await.unwrap();
        let b = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(b.len(), PAYLOAD.len());
        if i >= 100 {
            out.push(t.elapsed());
        }
    }
    server.abort();
    out
}

struct Runtime {
    api: RuntimeApi,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
    cold: Duration,
}

async fn start(node: bool) -> Runtime {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = if node {
        std::fs::write(
            dir.path().join("index.mjs"),
            "export const handler = async (e) => e;\n",
        )
        .unwrap();
        let mut c = tokio::process::Command::new("/usr/bin/node");
        c.arg("--max-old-space-size=230")
            .arg(root.join("runtimes/node/bootstrap.mjs"));
        c
    } else {
        std::fs::write(
            dir.path().join("app.py"),
            "def handler(event, context):\n    return event\n",
        )
        .unwrap();
        let mut c = tokio::process::Command::new("/usr/bin/python3.11");
        c.args(["-I", "-S"])
            .arg(root.join("runtimes/python/bootstrap.py"));
        c
    };
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (api, _task) = RuntimeApi::serve(l, RuntimeApiConfig::default()).unwrap();
    let t = Instant::now();
    let child = cmd
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", api.local_addr().to_string())
        .env(
            "_HANDLER",
            if node { "index.handler" } else { "app.handler" },
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert_eq!(api.wait_ready().await.unwrap(), InitOutcome::Ready);
    let cold = t.elapsed();
    Runtime {
        api,
        _child: child,
        _dir: dir,
        cold,
    }
}

fn invocation() -> Invocation {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    Invocation {
        request_id: uuid::Uuid::new_v4().to_string(),
        payload: Bytes::from_static(PAYLOAD),
        deadline_ms: now + 30_000,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:bench".into(),
        ..Default::default()
    }
}

async fn warm_invokes(rt: &Runtime, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 100 {
        let t = Instant::now();
        match rt.api.invoke(invocation()).await.unwrap() {
            InvokeOutcome::Response(b) => assert!(b.len() >= PAYLOAD.len() - 4),
            other => panic!("{other:?}"),
        }
        if i >= 100 {
            out.push(t.elapsed());
        }
    }
    out
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "warm round trips (payload {} bytes, {} warm-up excluded):",
            PAYLOAD.len(),
            100
        );
        report("bare hyper HTTP/1.1 echo", hyper_echo(n).await);
        let mut colds = (Vec::new(), Vec::new());
        for node in [false, true] {
            let r = start(node).await;
            let name = if node {
                "RuntimeApi + node bootstrap"
            } else {
                "RuntimeApi + python bootstrap"
            };
            report(name, warm_invokes(&r, n).await);
            r.api.shutdown();
        }
        for _ in 0..10 {
            colds.0.push(start(false).await.cold);
            colds.1.push(start(true).await.cold);
        }
        println!("cold start, spawn → first /next (10 runs):");
        let ms = |v: Vec<Duration>| {
            let (p50, p99, _) = pct(v);
            format!("p50={:.1} ms  max={:.1} ms", p50 / 1000.0, p99 / 1000.0)
        };
        println!("{:<34} {}", "python3.11 -I -S bootstrap.py", ms(colds.0));
        println!("{:<34} {}", "node bootstrap.mjs", ms(colds.1));
    });
}
