//! The Runtime API over real HTTP, driven by a raw client that plays the runtime.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use hyper::{Method, StatusCode};
use quiver_runtime_api::{InitOutcome, InvokeOutcome, RuntimeApiConfig, RuntimeApiError};

#[tokio::test]
async fn long_poll_delivers_event_and_response_resolves_invoke_before_next_poll() {
    let s = start();
    let mut c = Client::connect(s.api.local_addr()).await;
    let poll = tokio::spawn(async move {
        let r = c.next().await;
        (c, r)
    });
    assert_eq!(
        within(5, s.api.wait_ready()).await.unwrap(),
        InitOutcome::Ready
    );
    let mut inv = invocation(r#"{"k":1}"#);
    inv.trace_id = Some("Root=1-00000000-000000000000000000000001;Sampled=0".into());
    inv.client_context = Some(r#"{"custom":{"a":"b"}}"#.into());
    inv.cognito_identity = Some(r#"{"cognitoIdentityId":"i","cognitoIdentityPoolId":"p"}"#.into());
    let id = inv.request_id.clone();
    let deadline = inv.deadline_ms;
    let api = s.api.clone();
    let invoke = tokio::spawn(async move { api.invoke(inv).await });
    let (mut c, r) = within(5, poll).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, Bytes::from_static(br#"{"k":1}"#));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("lambda-runtime-aws-request-id"), Some(id.as_str()));
    assert_eq!(
        r.header("lambda-runtime-deadline-ms"),
        Some(deadline.to_string().as_str())
    );
    assert_eq!(
        r.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:us-east-1:000000000000:function:fn")
    );
    assert_eq!(
        r.header("lambda-runtime-trace-id"),
        Some("Root=1-00000000-000000000000000000000001;Sampled=0")
    );
    assert_eq!(
        r.header("lambda-runtime-client-context"),
        Some(r#"{"custom":{"a":"b"}}"#)
    );
    assert!(r
        .header("lambda-runtime-cognito-identity")
        .unwrap()
        .contains("cognitoIdentityPoolId"));
    assert!(!s.api.is_idle());

    let ack = c.respond(&id, "\"done\"").await;
    assert_eq!(ack.status, StatusCode::ACCEPTED);
    assert_eq!(ack.json(), serde_json::json!({"status":"OK"}));
    // The invoke is already resolved although the runtime has not polled again.
    let out = within(5, invoke).await.unwrap().unwrap();
    assert_eq!(
        out,
        InvokeOutcome::Response(Bytes::from_static(b"\"done\""))
    );

    // Same connection, next poll: the warm wait state.
    let poll = tokio::spawn(async move { c.next().await });
    within(5, async {
        while !s.api.is_idle() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let inv2 = invocation("");
    let id2 = inv2.request_id.clone();
    let api = s.api.clone();
    let invoke2 = tokio::spawn(async move { api.invoke(inv2).await });
    let r = within(5, poll).await.unwrap();
    assert_eq!(
        r.body,
        Bytes::from_static(b"{}"),
        "empty payload is delivered as {{}}"
    );
    assert_eq!(
        r.header("lambda-runtime-aws-request-id"),
        Some(id2.as_str())
    );
    assert!(r.header("lambda-runtime-trace-id").is_none());
    assert!(r.header("lambda-runtime-client-context").is_none());
    let mut c2 = Client::connect(s.api.local_addr()).await;
    let path = format!("/2018-06-01/runtime/invocation/{id2}/error");
    let ack = c2
        .send(
            Method::POST,
            &path,
            &[],
            Bytes::from_static(br#"{"errorMessage":"m","errorType":"ValueError"}"#),
        )
        .await;
    assert_eq!(ack.status, StatusCode::ACCEPTED);
    match within(5, invoke2).await.unwrap().unwrap() {
        InvokeOutcome::Error { body, error_type } => {
            assert_eq!(
                error_type.as_deref(),
                Some("ValueError"),
                "type taken from the body"
            );
            assert!(body.starts_with(b"{\"errorMessage\""));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn double_response_and_unknown_id_are_invalid_request_id() {
    let s = start();
    let mut c = Client::connect(s.api.local_addr()).await;
    let inv = invocation("1");
    let id = inv.request_id.clone();
    let api = s.api.clone();
    let invoke = tokio::spawn(async move { api.invoke(inv).await });
    let r = within(5, c.next()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(c.respond(&id, "1").await.status, StatusCode::ACCEPTED);
    let again = c.respond(&id, "2").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["errorType"], "InvalidRequestID");
    assert_eq!(again.json()["errorMessage"], "Invalid request ID");
    let unknown = c.respond("nope", "2").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let path = "/2018-06-01/runtime/invocation/nope/error";
    assert_eq!(
        c.send(Method::POST, path, &[], Bytes::new()).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        invoke.await.unwrap().unwrap(),
        InvokeOutcome::Response(Bytes::from_static(b"1"))
    );
}

#[tokio::test]
async fn oversized_response_is_413_and_reported_with_its_size() {
    let s = start_with(RuntimeApiConfig {
        max_response_bytes: 1000,
        max_drain_bytes: 1 << 20,
        ..Default::default()
    });
    let mut c = Client::connect(s.api.local_addr()).await;
    let inv = invocation("1");
    let id = inv.request_id.clone();
    let api = s.api.clone();
    let invoke = tokio::spawn(async move { api.invoke(inv).await });
    within(5, c.next()).await;
    let r = c.respond(&id, vec![b'x'; 5000]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["errorType"], "RequestEntityTooLarge");
    assert_eq!(
        r.json()["errorMessage"],
        "Exceeded maximum allowed payload size (1000 bytes)."
    );
    assert_eq!(
        invoke.await.unwrap().unwrap(),
        InvokeOutcome::ResponseTooLarge { size: 5000 }
    );
    // The body was drained, so the same connection keeps working.
    let inv = invocation("2");
    let id = inv.request_id.clone();
    let api = s.api.clone();
    let invoke = tokio::spawn(async move { api.invoke(inv).await });
    within(5, c.next()).await;
    assert_eq!(
        c.respond(&id, vec![b'y'; 1000]).await.status,
        StatusCode::ACCEPTED
    );
    assert!(
        matches!(invoke.await.unwrap().unwrap(), InvokeOutcome::Response(b) if b.len() == 1000)
    );
}

#[tokio::test]
async fn default_cap_is_6291556_bytes() {
    let s = start();
    let mut c = Client::connect(s.api.local_addr()).await;
    for (len, ok) in [(6_291_556usize, true), (6_291_557, false)] {
        let inv = invocation("1");
        let id = inv.request_id.clone();
        let api = s.api.clone();
        let invoke = tokio::spawn(async move { api.invoke(inv).await });
        within(5, c.next()).await;
        let r = c.respond(&id, vec![b'a'; len]).await;
        let out = invoke.await.unwrap().unwrap();
        if ok {
            assert_eq!(r.status, StatusCode::ACCEPTED);
            assert!(matches!(out, InvokeOutcome::Response(b) if b.len() == len));
        } else {
            assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(out, InvokeOutcome::ResponseTooLarge { size: len });
        }
    }
}

#[tokio::test]
async fn init_error_is_202_once_then_403_and_fails_waiting_invoke() {
    let s = start();
    let api = s.api.clone();
    let inv = invocation("1");
    let invoke = tokio::spawn(async move { api.invoke(inv).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut c = Client::connect(s.api.local_addr()).await;
    let body = r#"{"errorMessage":"Unable to import module 'app': No module named 'app'","errorType":"Runtime.ImportModuleError","requestId":"","stackTrace":[]}"#;
    let path = "/2018-06-01/runtime/init/error";
    let hdr = [(
        "Lambda-Runtime-Function-Error-Type",
        "Runtime.ImportModuleError",
    )];
    let r = c.send(Method::POST, path, &hdr, Bytes::from(body)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    match within(5, s.api.wait_ready()).await.unwrap() {
        InitOutcome::InitError {
            body: b,
            error_type,
        } => {
            assert_eq!(b, Bytes::from(body));
            assert_eq!(error_type.as_deref(), Some("Runtime.ImportModuleError"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        within(5, invoke).await.unwrap().unwrap(),
        InvokeOutcome::Error { error_type: Some(t), .. } if t == "Runtime.ImportModuleError"
    ));
    let again = c.send(Method::POST, path, &hdr, Bytes::from(body)).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(again.json()["errorType"], "InvalidStateTransition");
    assert!(matches!(
        s.api.invoke(invocation("1")).await,
        Err(RuntimeApiError::InitFailed)
    ));
}

#[tokio::test]
async fn init_error_after_first_next_is_403() {
    let s = start();
    let addr = s.api.local_addr();
    let poll = tokio::spawn(async move { Client::connect(addr).await.next().await });
    within(5, s.api.wait_ready()).await.unwrap();
    let mut c = Client::connect(addr).await;
    let r = c
        .send(
            Method::POST,
            "/2018-06-01/runtime/init/error",
            &[],
            Bytes::from_static(b"{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    poll.abort();
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let s = start();
    let mut c = Client::connect(s.api.local_addr()).await;
    assert_eq!(
        c.send(Method::GET, "/", &[], Bytes::new()).await.status,
        StatusCode::NOT_FOUND
    );
    let r = c
        .send(
            Method::GET,
            "/2020-01-01/extension/event/next",
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = c
        .send(
            Method::POST,
            "/2018-06-01/runtime/invocation/next",
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn reconnect_after_a_dropped_long_poll_gets_the_event() {
    let s = start();
    let addr = s.api.local_addr();
    // First runtime connection parks in /next, then vanishes.
    let stale = tokio::spawn(async move {
        let mut c = Client::connect(addr).await;
        c.next().await
    });
    within(5, s.api.wait_ready()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    stale.abort();
    let _ = stale.await;
    let mut c = Client::connect(addr).await;
    let poll = tokio::spawn(async move {
        let r = c.next().await;
        (c, r)
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let inv = invocation(r#""again""#);
    let id = inv.request_id.clone();
    let api = s.api.clone();
    let invoke = tokio::spawn(async move { api.invoke(inv).await });
    let (mut c, r) = within(5, poll).await.unwrap();
    assert_eq!(r.header("lambda-runtime-aws-request-id"), Some(id.as_str()));
    assert_eq!(c.respond(&id, "1").await.status, StatusCode::ACCEPTED);
    assert!(matches!(
        within(5, invoke).await.unwrap().unwrap(),
        InvokeOutcome::Response(_)
    ));
}

#[tokio::test]
async fn busy_dropped_invoke_and_shutdown() {
    let s = start();
    // An invoke dropped before delivery is withdrawn: a later one is not Busy.
    let dropped =
        tokio::time::timeout(Duration::from_millis(20), s.api.invoke(invocation("1"))).await;
    assert!(dropped.is_err());
    let api = s.api.clone();
    let pending = tokio::spawn(async move { api.invoke(invocation("2")).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(matches!(
        s.api.invoke(invocation("3")).await,
        Err(RuntimeApiError::Busy(_))
    ));
    let bad = quiver_runtime_api::Invocation {
        request_id: "a/b".into(),
        ..invocation("1")
    };
    assert!(matches!(
        s.api.invoke(bad).await,
        Err(RuntimeApiError::InvalidInvocation { .. })
    ));
    s.api.shutdown();
    assert!(matches!(
        within(5, pending).await.unwrap(),
        Err(RuntimeApiError::Closed)
    ));
    assert!(matches!(
        s.api.wait_ready().await,
        Err(RuntimeApiError::Closed)
    ));
    within(5, async {
        while !s.task.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await
        }
    })
    .await;
    assert!(
        tokio::net::TcpStream::connect(s.api.local_addr())
            .await
            .is_err(),
        "listener closed"
    );
}
