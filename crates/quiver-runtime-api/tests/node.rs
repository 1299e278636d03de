//! The built-in Node bootstrap (runtimes/node/bootstrap.mjs) against the real server.

mod common;

use std::time::Duration;

use common::*;
use quiver_runtime_api::{InitOutcome, InvokeOutcome, RuntimeApiConfig};
use serde_json::json;

const ECHO_CJS: &str = r#"
console.log("module loaded");
exports.handler = async (event, context) => {
  console.log("got", event);
  return {
    event, pid: process.pid,
    requestId: context.awsRequestId, functionName: context.functionName,
    functionVersion: context.functionVersion, memory: context.memoryLimitInMB,
    arn: context.invokedFunctionArn, logGroup: context.logGroupName, logStream: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(), trace: process.env._X_AMZN_TRACE_ID ?? null,
    clientContext: context.clientContext ?? null, identity: context.identity ?? null,
    waits: context.callbackWaitsForEmptyEventLoop, hasDone: typeof context.done,
  };
};
"#;

#[tokio::test]
async fn cjs_async_handler_context_console_and_warm_reuse() {
    let env = Env::start(Lang::Node, "index.handler", &[("index.js", ECHO_CJS)]);
    assert_eq!(env.ready().await, InitOutcome::Ready);
    let mut inv = invocation(r#"{"n":1}"#);
    inv.trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into());
    inv.client_context =
        Some(r#"{"custom":{"k":"v"},"env":{"e":1},"client":{"app_title":"T"}}"#.into());
    inv.cognito_identity =
        Some(r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#.into());
    let id = inv.request_id.clone();
    let v = match env.invoke(inv).await {
        InvokeOutcome::Response(b) => serde_json::from_slice::<serde_json::Value>(&b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(v["event"], json!({"n":1}));
    assert_eq!(v["requestId"], id.as_str());
    assert_eq!(v["functionName"], "fn");
    assert_eq!(v["functionVersion"], "$LATEST");
    assert_eq!(v["memory"], "256");
    assert_eq!(
        v["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:fn"
    );
    assert_eq!(v["logGroup"], "/aws/lambda/fn");
    assert!(v["logStream"].as_str().unwrap().starts_with("2024/01/01/"));
    assert!(v["remaining"].as_i64().unwrap() > 20_000);
    assert_eq!(
        v["trace"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    );
    assert_eq!(
        v["clientContext"],
        json!({"custom":{"k":"v"},"env":{"e":1},"client":{"app_title":"T"}})
    );
    assert_eq!(
        v["identity"],
        json!({"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"})
    );
    assert_eq!(v["waits"], true);
    assert_eq!(v["hasDone"], "function");

    let v2 = env.call("[2]").await;
    assert_eq!(v2["pid"], v["pid"], "warm invoke reuses the process");
    assert_eq!(v2["trace"], json!(null));
    assert_eq!(v2["clientContext"], json!(null));
    let out = env.output();
    assert!(out.contains("\tundefined\tINFO\tmodule loaded\n"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("\tINFO\tgot { n: 1 }"))
        .unwrap_or_else(|| panic!("{out}"));
    let f: Vec<&str> = line.split('\t').collect();
    assert!(f[0].ends_with('Z') && f[0].len() == 24, "{line}");
    assert_eq!(f[1], id);
}

#[tokio::test]
async fn esm_mjs_type_module_js_and_cjs_handlers() {
    let env = Env::start(
        Lang::Node,
        "app.handler",
        &[(
            "app.mjs",
            "export const handler = async (e) => ({ kind: 'mjs', e });\n",
        )],
    );
    assert_eq!(env.call("1").await, json!({"kind":"mjs","e":1}));
    let files = [
        ("package.json", r#"{"type":"module"}"#),
        ("src/app.js", "import os from 'node:os';\nexport async function handler(e) { return { kind: 'esm-js', t: typeof os.cpus } }\n"),
    ];
    let env = Env::start(Lang::Node, "src/app.handler", &files);
    assert_eq!(
        env.call("{}").await,
        json!({"kind":"esm-js","t":"function"})
    );
    let env = Env::start(
        Lang::Node,
        "lib.nested.fn",
        &[(
            "lib.cjs",
            "module.exports = { nested: { fn: async () => 'cjs' } };\n",
        )],
    );
    assert_eq!(env.call("{}").await, json!("cjs"));
}

#[tokio::test]
async fn callback_handlers_wait_for_the_event_loop_unless_told_not_to() {
    let code = r#"
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  const out = { late: false };
  setTimeout(() => { out.late = true; }, 100);
  callback(null, out);
};
exports.sync = (event) => { /* neither returns nor calls back */ };
exports.legacy = (event, context) => { context.succeed({ legacy: true }); };
"#;
    let env = Env::start(Lang::Node, "index.handler", &[("index.js", code)]);
    assert_eq!(
        env.call(r#"{"wait":true}"#).await,
        json!({"late": true}),
        "waited for the timer"
    );
    assert_eq!(
        env.call(r#"{"wait":false}"#).await,
        json!({"late": false}),
        "responded at once"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(env.call(r#"{"wait":true}"#).await, json!({"late": true}));
    let env = Env::start(Lang::Node, "index.sync", &[("index.js", code)]);
    assert_eq!(env.call("{}").await, json!(null));
    let env = Env::start(Lang::Node, "index.legacy", &[("index.js", code)]);
    assert_eq!(env.call("{}").await, json!({"legacy": true}));
}

#[tokio::test]
async fn handler_errors_have_the_official_shape() {
    let code = r#"
exports.handler = async (event) => {
  if (event.kind === "string") throw "plain";
  if (event.kind === "cb") return new Promise((_, rej) => rej(new TypeError("typed")));
  throw new Error("boom " + event.n);
};
exports.cb = (event, context, callback) => callback(new RangeError("cb err"));
"#;
    let env = Env::start(Lang::Node, "index.handler", &[("index.js", code)]);
    let (t, b) = env.call_err(r#"{"n":7}"#).await;
    assert_eq!(t.as_deref(), Some("Error"));
    assert_eq!(b["errorType"], "Error");
    assert_eq!(b["errorMessage"], "boom 7");
    let trace = b["trace"].as_array().unwrap();
    assert_eq!(trace[0], "Error: boom 7");
    assert!(trace[1].as_str().unwrap().contains("index.js"), "{b}");
    assert!(b.get("stackTrace").is_none());
    let (_, b) = env.call_err(r#"{"kind":"string"}"#).await;
    assert_eq!(
        b,
        json!({"errorType":"string","errorMessage":"plain","trace":[]})
    );
    let (t, _) = env.call_err(r#"{"kind":"cb"}"#).await;
    assert_eq!(t.as_deref(), Some("TypeError"));
    // Not JSON: JSON.parse fails inside the runtime and is reported as the invoke's error.
    let (t, _) = env.call_err("not json").await;
    assert_eq!(t.as_deref(), Some("SyntaxError"));
    assert!(env
        .output()
        .contains("\tERROR\tInvoke Error \t{\"errorType\":\"Error\",\"errorMessage\":\"boom 7\""));
    let env = Env::start(Lang::Node, "index.cb", &[("index.js", code)]);
    let (t, b) = env.call_err("{}").await;
    assert_eq!(t.as_deref(), Some("RangeError"));
    assert_eq!(b["errorMessage"], "cb err");
}

async fn init_error_of(
    files: &[(&str, &str)],
    handler: &str,
) -> (Option<String>, serde_json::Value) {
    let mut env = Env::start(Lang::Node, handler, files);
    env.init_error().await
}

#[tokio::test]
async fn init_errors_have_the_right_types_and_messages() {
    let (t, b) = init_error_of(&[], "missing.handler").await;
    assert_eq!(t.as_deref(), Some("Runtime.ImportModuleError"));
    assert!(
        b["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Error: Cannot find module 'missing'"),
        "{b}"
    );
    assert!(b["trace"].is_array());

    let (t, b) = init_error_of(
        &[("index.js", "exports.handler = async () => {;\n")],
        "index.handler",
    )
    .await;
    assert_eq!(t.as_deref(), Some("Runtime.UserCodeSyntaxError"));
    assert!(
        b["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("SyntaxError: "),
        "{b}"
    );

    let (t, b) = init_error_of(
        &[("index.mjs", "export const other = 1;\n")],
        "index.handler",
    )
    .await;
    assert_eq!(t.as_deref(), Some("Runtime.HandlerNotFound"));
    assert_eq!(
        b["errorMessage"],
        "index.handler is undefined or not exported"
    );

    let (t, b) = init_error_of(&[("index.js", "")], "indexhandler").await;
    assert_eq!(t.as_deref(), Some("Runtime.MalformedHandlerName"));
    assert_eq!(b["errorMessage"], "Bad handler");

    let (t, b) = init_error_of(
        &[("index.js", "throw new Error('at load');\n")],
        "index.handler",
    )
    .await;
    assert_eq!(t.as_deref(), Some("Error"));
    assert_eq!(b["errorMessage"], "at load");
}

#[tokio::test]
async fn unhandled_rejection_fails_the_invoke_and_ends_the_process() {
    let code = r#"
exports.handler = async () => {
  Promise.reject(new Error("nobody catches me"));
  await new Promise((r) => setTimeout(r, 1000));
  return "too late";
};
"#;
    let mut env = Env::start(Lang::Node, "index.handler", &[("index.js", code)]);
    let (t, b) = env.call_err("{}").await;
    assert_eq!(t.as_deref(), Some("Runtime.UnhandledPromiseRejection"));
    assert_eq!(b["errorMessage"], "Error: nobody catches me");
    let st = tokio::time::timeout(Duration::from_secs(10), env.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st.code(), Some(128));
}

#[tokio::test]
async fn oversized_response_then_runtime_keeps_serving() {
    let code = "exports.handler = async (e) => 'x'.repeat(e.n);\n";
    let cfg = RuntimeApiConfig {
        max_response_bytes: 10_000,
        ..Default::default()
    };
    let env = Env::start_with(Lang::Node, "index.handler", &[("index.js", code)], &[], cfg);
    assert_eq!(
        env.invoke(invocation(r#"{"n":20000}"#)).await,
        InvokeOutcome::ResponseTooLarge { size: 20002 }
    );
    assert_eq!(env.call(r#"{"n":3}"#).await, json!("xxx"));
    assert_eq!(
        env.invoke(invocation("")).await,
        InvokeOutcome::Response("\"\"".into()),
        "empty payload arrives as {{}}"
    );
}
