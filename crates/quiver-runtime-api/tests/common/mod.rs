//! Shared helpers for the integration tests: a raw HTTP/1.1 client (hyper's low-level
//! client connection, no pooling) and server start-up.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use quiver_runtime_api::{Invocation, RuntimeApi, RuntimeApiConfig};
use tokio::task::JoinHandle;

/// A running server that is shut down when dropped.
pub struct Api {
    pub api: RuntimeApi,
    pub task: JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.api.shutdown();
    }
}

pub fn start() -> Api {
    start_with(RuntimeApiConfig::default())
}

pub fn start_with(cfg: RuntimeApiConfig) -> Api {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (api, task) = RuntimeApi::serve(l, cfg).unwrap();
    Api { api, task }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn invocation(payload: &str) -> Invocation {
    Invocation {
        request_id: uuid::Uuid::new_v4().to_string(),
        payload: Bytes::from(payload.to_owned()),
        deadline_ms: now_ms() + 30_000,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:fn".into(),
        ..Default::default()
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    tx: SendRequest<Full<Bytes>>,
    conn: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .unwrap();
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Client { tx, conn }
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Resp {
        self.tx.ready().await.unwrap();
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let res = self
            .tx
            .send_request(b.body(Full::new(body)).unwrap())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn next(&mut self) -> Resp {
        self.send(
            Method::GET,
            "/2018-06-01/runtime/invocation/next",
            &[],
            Bytes::new(),
        )
        .await
    }

    pub async fn respond(&mut self, id: &str, body: impl Into<Bytes>) -> Resp {
        let path = format!("/2018-06-01/runtime/invocation/{id}/response");
        self.send(Method::POST, &path, &[], body.into()).await
    }
}

/// Awaits `f` for at most `secs` seconds.
pub async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("timed out")
}

/// A runtime process (the real bootstrap) attached to its own Runtime API, in a temp
/// task dir. The process is killed (by PID, via kill_on_drop) and the dir removed on drop.
pub struct Env {
    pub child: tokio::process::Child,
    pub output: std::sync::Arc<std::sync::Mutex<String>>,
    pub dir: tempfile::TempDir,
    // Declared last: the process dies before the server goes away.
    pub api: Api,
}

pub enum Lang {
    Python,
    Node,
}

pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Env {
    pub fn start(lang: Lang, handler: &str, files: &[(&str, &str)]) -> Env {
        Self::start_with(lang, handler, files, &[], RuntimeApiConfig::default())
    }

    pub fn start_with(
        lang: Lang,
        handler: &str,
        files: &[(&str, &str)],
        extra_env: &[(&str, &str)],
        cfg: RuntimeApiConfig,
    ) -> Env {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let api = start_with(cfg);
        let mut cmd = match lang {
            Lang::Python => {
                let mut c = tokio::process::Command::new("/usr/bin/python3.11");
                c.args(["-I", "-S"])
                    .arg(repo_root().join("runtimes/python/bootstrap.py"));
                c
            }
            Lang::Node => {
                let mut c = tokio::process::Command::new("/usr/bin/node");
                c.arg("--max-old-space-size=230")
                    .arg(repo_root().join("runtimes/node/bootstrap.mjs"));
                c
            }
        };
        cmd.env_clear()
            .current_dir(dir.path())
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_LAMBDA_RUNTIME_API", api.api.local_addr().to_string())
            .env("_HANDLER", handler)
            .env("LAMBDA_TASK_ROOT", dir.path())
            .env("AWS_LAMBDA_FUNCTION_NAME", "fn")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fn")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            )
            .envs(extra_env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = output.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut lines = tokio::io::BufReader::new(pipe).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    out.lock().unwrap().push_str(&l);
                    out.lock().unwrap().push('\n');
                }
            });
        }
        Env {
            child,
            output,
            dir,
            api,
        }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits for init; panics with the process output if it doesn't end in time.
    pub async fn ready(&self) -> quiver_runtime_api::InitOutcome {
        match tokio::time::timeout(Duration::from_secs(20), self.api.api.wait_ready()).await {
            Ok(r) => r.unwrap(),
            Err(_) => panic!("runtime not ready; output:\n{}", self.output()),
        }
    }

    pub async fn invoke(&self, inv: Invocation) -> quiver_runtime_api::InvokeOutcome {
        match tokio::time::timeout(Duration::from_secs(20), self.api.api.invoke(inv)).await {
            Ok(r) => r.unwrap(),
            Err(_) => panic!("invoke timed out; output:\n{}", self.output()),
        }
    }

    /// Invokes with `payload` and returns the response parsed as JSON (panics otherwise).
    pub async fn call(&self, payload: &str) -> serde_json::Value {
        match self.invoke(invocation(payload)).await {
            quiver_runtime_api::InvokeOutcome::Response(b) => serde_json::from_slice(&b)
                .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&b))),
            other => panic!("unexpected {other:?}; output:\n{}", self.output()),
        }
    }

    /// Invokes and expects an error; returns (error_type, body JSON).
    pub async fn call_err(&self, payload: &str) -> (Option<String>, serde_json::Value) {
        match self.invoke(invocation(payload)).await {
            quiver_runtime_api::InvokeOutcome::Error { body, error_type } => {
                (error_type, serde_json::from_slice(&body).unwrap())
            }
            other => panic!("unexpected {other:?}; output:\n{}", self.output()),
        }
    }

    /// Expects init to fail; returns (error_type, body JSON) and checks the process exits.
    pub async fn init_error(&mut self) -> (Option<String>, serde_json::Value) {
        match self.ready().await {
            quiver_runtime_api::InitOutcome::InitError { body, error_type } => {
                let st = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                    .await
                    .expect("runtime did not exit after its init error")
                    .unwrap();
                assert!(!st.success(), "exit status after init error: {st}");
                (error_type, serde_json::from_slice(&body).unwrap())
            }
            other => panic!("unexpected {other:?}; output:\n{}", self.output()),
        }
    }
}
