//! The built-in Python bootstrap (runtimes/python/bootstrap.py) against the real server.

mod common;

use bytes::Bytes;
use common::*;
use quiver_runtime_api::{InitOutcome, InvokeOutcome, RuntimeApiConfig};
use serde_json::json;

const ECHO: &str = r#"
import os, sys
print("module loaded")
def handler(event, context):
    print("got", event)
    cc = context.client_context
    return {
        "event": event,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "cc_custom": cc.custom if cc else None,
        "cc_env": cc.env if cc else None,
        "cc_app_title": cc.client.app_title if cc and cc.client else None,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "path": sys.path[:4],
        "env_keys": sorted(k for k in os.environ if not k.startswith("LC_")),
    }
"#;

#[tokio::test]
async fn happy_path_context_env_and_warm_reuse() {
    let env = Env::start(Lang::Python, "app.handler", &[("app.py", ECHO)]);
    assert_eq!(env.ready().await, InitOutcome::Ready);
    let mut inv = invocation(r#"{"n":1}"#);
    inv.trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into());
    let id = inv.request_id.clone();
    let deadline = inv.deadline_ms;
    let v = match env.invoke(inv).await {
        InvokeOutcome::Response(b) => serde_json::from_slice::<serde_json::Value>(&b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(v["event"], json!({"n":1}));
    assert_eq!(v["request_id"], id.as_str());
    assert_eq!(v["function_name"], "fn");
    assert_eq!(v["function_version"], "$LATEST");
    assert_eq!(
        v["memory"], "256",
        "awslambdaric passes the env string through"
    );
    assert_eq!(
        v["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:fn"
    );
    assert_eq!(v["log_group"], "/aws/lambda/fn");
    assert!(v["log_stream"]
        .as_str()
        .unwrap()
        .starts_with("2024/01/01/[$LATEST]"));
    let rem = v["remaining"].as_u64().unwrap();
    assert!(
        rem > 20_000 && rem <= deadline - now_ms() + 1000,
        "remaining {rem}"
    );
    assert_eq!(
        v["trace"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    );
    assert_eq!(v["cc_custom"], json!(null));
    assert_eq!(v["identity"], json!([null, null]));
    let task = env.dir.path().to_str().unwrap();
    assert_eq!(v["path"][0], task);
    assert_eq!(v["path"][1], "/opt/python/lib/python3.11/site-packages");
    assert_eq!(v["path"][2], "/opt/python");
    assert!(v["path"][3].as_str().unwrap().ends_with("runtimes/python"));

    // Warm: same process, and the trace id of the previous invoke is gone.
    let v2 = env.call(r#"[1,2]"#).await;
    assert_eq!(v2["pid"], v["pid"]);
    assert_eq!(v2["event"], json!([1, 2]));
    assert_eq!(v2["trace"], json!(null));
    let out = env.output();
    assert!(out.contains("module loaded\n"), "{out}");
    assert!(out.contains("got {'n': 1}\n"), "{out}");
    assert!(out.contains("got [1, 2]\n"), "{out}");
}

#[tokio::test]
async fn client_context_and_identity_pass_through() {
    let env = Env::start(Lang::Python, "app.handler", &[("app.py", ECHO)]);
    let mut inv = invocation("{}");
    inv.client_context = Some(
        r#"{"client":{"app_title":"T","installation_id":"i"},"custom":{"k":"v"},"env":{"platform":"x"}}"#.into(),
    );
    inv.cognito_identity =
        Some(r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#.into());
    let v = match env.invoke(inv).await {
        InvokeOutcome::Response(b) => serde_json::from_slice::<serde_json::Value>(&b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(v["cc_custom"], json!({"k":"v"}));
    assert_eq!(v["cc_env"], json!({"platform":"x"}));
    assert_eq!(v["cc_app_title"], "T");
    assert_eq!(v["identity"], json!(["id-1", "pool-1"]));
}

#[tokio::test]
async fn handler_exception_has_awslambdaric_shape() {
    let code = "def handler(event, context):\n    raise ValueError('boom ' + str(event['n']))\n";
    let env = Env::start(Lang::Python, "app.handler", &[("app.py", code)]);
    let inv = invocation(r#"{"n":7}"#);
    let id = inv.request_id.clone();
    let (t, body) = match env.invoke(inv).await {
        InvokeOutcome::Error { body, error_type } => (
            error_type,
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        ),
        other => panic!("{other:?}"),
    };
    assert_eq!(t.as_deref(), Some("ValueError"));
    assert_eq!(body["errorType"], "ValueError");
    assert_eq!(body["errorMessage"], "boom 7");
    assert_eq!(body["requestId"], id.as_str());
    let trace = body["stackTrace"].as_array().unwrap();
    assert_eq!(trace.len(), 1, "bootstrap frames are dropped: {trace:?}");
    let frame = trace[0].as_str().unwrap();
    assert!(frame.contains("app.py\", line 2, in handler"), "{frame}");
    assert!(frame.contains("raise ValueError"), "{frame}");
    // The runtime survives and logs the error as Lambda does.
    let (t, _) = env.call_err(r#"{"n":8}"#).await;
    assert_eq!(t.as_deref(), Some("ValueError"));
    assert!(env
        .output()
        .contains("[ERROR] ValueError: boom 7\rTraceback (most recent call last):"));
}

async fn init_error_of(
    files: &[(&str, &str)],
    handler: &str,
) -> (Option<String>, serde_json::Value) {
    let mut env = Env::start(Lang::Python, handler, files);
    let r = env.init_error().await;
    assert_eq!(r.1["requestId"], "");
    r
}

#[tokio::test]
async fn init_errors_have_the_right_types_and_messages() {
    let (t, b) = init_error_of(&[], "missing.handler").await;
    assert_eq!(t.as_deref(), Some("Runtime.ImportModuleError"));
    assert_eq!(
        b["errorMessage"],
        "Unable to import module 'missing': No module named 'missing'"
    );

    let (t, b) = init_error_of(
        &[("app.py", "def handler(e, c):\n  return 1 +\n")],
        "app.handler",
    )
    .await;
    assert_eq!(t.as_deref(), Some("Runtime.UserCodeSyntaxError"));
    let msg = b["errorMessage"].as_str().unwrap();
    assert!(
        msg.starts_with("Syntax error in module 'app': invalid syntax"),
        "{msg}"
    );
    assert!(
        b["stackTrace"][0]
            .as_str()
            .unwrap()
            .contains("app.py\" Line 2"),
        "{b}"
    );

    let (t, b) = init_error_of(&[("app.py", "x = 1\n")], "app.handler").await;
    assert_eq!(t.as_deref(), Some("Runtime.HandlerNotFound"));
    assert_eq!(
        b["errorMessage"],
        "Handler 'handler' missing on module 'app'"
    );

    let (t, b) = init_error_of(&[("app.py", "x = 1\n")], "apphandler").await;
    assert_eq!(t.as_deref(), Some("Runtime.MalformedHandlerName"));
    assert_eq!(
        b["errorMessage"],
        "Bad handler 'apphandler': not enough values to unpack (expected 2, got 1)"
    );

    let (t, b) = init_error_of(
        &[("app.py", "1/0\ndef handler(e, c): pass\n")],
        "app.handler",
    )
    .await;
    assert_eq!(t.as_deref(), Some("ZeroDivisionError"));
    assert_eq!(b["errorMessage"], "division by zero");
}

#[tokio::test]
async fn init_error_is_reported_to_an_invoke_waiting_for_init() {
    let env = Env::start(Lang::Python, "nope.handler", &[]);
    let (t, b) = env.call_err("{}").await;
    assert_eq!(t.as_deref(), Some("Runtime.ImportModuleError"));
    assert_eq!(b["errorType"], "Runtime.ImportModuleError");
}

#[tokio::test]
async fn handler_in_a_subdirectory() {
    let code = "def main(event, context):\n    return {'sub': True}\n";
    let env = Env::start(
        Lang::Python,
        "pkg/inner/mod.main",
        &[("pkg/inner/mod.py", code)],
    );
    assert_eq!(env.call("{}").await, json!({"sub": true}));
}

#[tokio::test]
async fn marshal_unmarshal_bytes_and_none() {
    let code = r#"
def handler(event, context):
    kind = event.get("kind")
    if kind == "set":
        return {1, 2}
    if kind == "bytes":
        return b"\x00raw"
    if kind == "none":
        return None
    return event
"#;
    let env = Env::start(Lang::Python, "app.handler", &[("app.py", code)]);
    let (t, b) = env.call_err(r#"{"kind":"set"}"#).await;
    assert_eq!(t.as_deref(), Some("Runtime.MarshalError"));
    assert_eq!(
        b["errorMessage"],
        "Unable to marshal response: Object of type set is not JSON serializable"
    );
    assert_eq!(
        env.invoke(invocation(r#"{"kind":"bytes"}"#)).await,
        InvokeOutcome::Response(Bytes::from_static(b"\x00raw"))
    );
    assert_eq!(
        env.invoke(invocation(r#"{"kind":"none"}"#)).await,
        InvokeOutcome::Response(Bytes::from_static(b"null"))
    );
    // A payload that is not JSON (the platform normally refuses it before; the runtime
    // must still answer with awslambdaric's error rather than die).
    let (t, b) = env.call_err("not json").await;
    assert_eq!(t.as_deref(), Some("Runtime.UnmarshalError"));
    assert!(
        b["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Unable to unmarshal input: Expecting value"),
        "{b}"
    );
    assert_eq!(env.call(r#"{"kind":"ok"}"#).await, json!({"kind":"ok"}));
}

#[tokio::test]
async fn oversized_response_then_runtime_keeps_serving() {
    let code = "def handler(event, context):\n    return 'x' * event['n']\n";
    let cfg = RuntimeApiConfig {
        max_response_bytes: 10_000,
        ..Default::default()
    };
    let env = Env::start_with(Lang::Python, "app.handler", &[("app.py", code)], &[], cfg);
    assert_eq!(
        env.invoke(invocation(r#"{"n":20000}"#)).await,
        InvokeOutcome::ResponseTooLarge { size: 20002 }
    );
    assert_eq!(env.call(r#"{"n":3}"#).await, json!("xxx"));
}

#[tokio::test]
async fn logging_module_gets_lambda_format() {
    let code = r#"
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
def handler(event, context):
    logger.info("hello %s", "log")
    return 1
"#;
    let env = Env::start(Lang::Python, "app.handler", &[("app.py", code)]);
    let inv = invocation("{}");
    let id = inv.request_id.clone();
    env.invoke(inv).await;
    let out = env.output();
    let line = out
        .lines()
        .find(|l| l.starts_with("[INFO]\t"))
        .unwrap_or_else(|| panic!("{out}"));
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(f.len(), 4, "{line}");
    assert!(f[1].ends_with('Z') && f[1].len() == 24, "{line}");
    assert_eq!(f[2], id);
    assert_eq!(f[3], "hello log");
}

#[tokio::test]
async fn host_packages_are_offered_only_when_boto3_is_there() {
    let code = "def handler(event, context):\n    import hostonly\n    return hostonly.VALUE\n";
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("hostonly.py"), "VALUE = 42\n").unwrap();
    let var = [("_QUIVER_PY_HOST_DIST", dist.path().to_str().unwrap())];
    let files = [("app.py", code)];
    // Without boto3 in that directory it is not searched.
    let env = Env::start_with(
        Lang::Python,
        "app.handler",
        &files,
        &var,
        RuntimeApiConfig::default(),
    );
    let (t, b) = env.call_err("{}").await;
    assert_eq!(t.as_deref(), Some("ModuleNotFoundError"), "{b}");
    drop(env);
    std::fs::create_dir(dist.path().join("boto3")).unwrap();
    std::fs::write(dist.path().join("boto3/__init__.py"), "").unwrap();
    let env = Env::start_with(
        Lang::Python,
        "app.handler",
        &files,
        &var,
        RuntimeApiConfig::default(),
    );
    assert_eq!(env.call("{}").await, json!(42));
}
