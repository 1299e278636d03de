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
