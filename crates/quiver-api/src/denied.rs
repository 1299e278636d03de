//! Lambda's answer to a function ARN of another account (docs/wire.md §3, §9): 403
//! `AccessDeniedException` "User: <caller> is not authorized to perform:
//! lambda:<Action> on resource: <arn> because no resource-based policy allows the
//! lambda:<Action> action".
//!
//! The refusal is raised where the function reference is parsed (`routes::Target`),
//! which does not know the operation; the IAM action comes from the route, so the
//! error leaves the resource in a response extension and [`complete`] (a middleware
//! that sees the request's method and path) writes the message. Dev-mode credentials
//! carry no identity: the caller is named as the account's root,
//! `arn:aws:iam::<account>:root`, the principal every key of this server stands for.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The resource of a refused cross-account request, left on the response by
/// `ApiError::AccessDenied` for [`complete`].
#[derive(Debug, Clone)]
pub struct DeniedResource(pub String);

/// The IAM action of a Lambda REST request, by method and path (the routes of
/// `crate::router` that take a function reference); None for any other route.
pub fn action(method: &Method, path: &str, query: Option<&str>) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (date, rest) = segments.split_first()?;
    let m = method.as_str();
    let list = query.is_some_and(|q| q.split('&').any(|kv| kv == "List=ALL"));
    Some(match (*date, rest) {
        ("2015-03-31", ["functions", _]) => match m {
            "GET" => "GetFunction",
            "DELETE" => "DeleteFunction",
            _ => return None,
        },
        ("2015-03-31", ["functions", _, "configuration"]) => match m {
            "GET" => "GetFunctionConfiguration",
            "PUT" => "UpdateFunctionConfiguration",
            _ => return None,
        },
        ("2015-03-31", ["functions", _, "code"]) => "UpdateFunctionCode",
        ("2015-03-31", ["functions", _, "invocations"]) => "InvokeFunction",
        ("2021-11-15", ["functions", _, "response-streaming-invocations"]) => "InvokeFunction",
        ("2015-03-31", ["functions", _, "versions"]) => match m {
            "POST" => "PublishVersion",
            _ => "ListVersionsByFunction",
        },
        ("2015-03-31", ["functions", _, "aliases"]) => match m {
            "POST" => "CreateAlias",
            _ => "ListAliases",
        },
        ("2015-03-31", ["functions", _, "aliases", _]) => match m {
            "GET" => "GetAlias",
            "PUT" => "UpdateAlias",
            _ => "DeleteAlias",
        },
        ("2019-09-25", ["functions", _, "event-invoke-config"]) => match m {
            "GET" => "GetFunctionEventInvokeConfig",
            "PUT" => "PutFunctionEventInvokeConfig",
            "POST" => "UpdateFunctionEventInvokeConfig",
            _ => "DeleteFunctionEventInvokeConfig",
        },
        ("2019-09-25", ["functions", _, "event-invoke-config", "list"]) => {
            "ListFunctionEventInvokeConfigs"
        }
        ("2017-10-31", ["functions", _, "concurrency"]) => match m {
            "PUT" => "PutFunctionConcurrency",
            _ => "DeleteFunctionConcurrency",
        },
        ("2019-09-30", ["functions", _, "concurrency"]) => "GetFunctionConcurrency",
        ("2019-09-30", ["functions", _, "provisioned-concurrency"]) => match m {
            "GET" if list => "ListProvisionedConcurrencyConfigs",
            "GET" => "GetProvisionedConcurrencyConfig",
            "PUT" => "PutProvisionedConcurrencyConfig",
            _ => "DeleteProvisionedConcurrencyConfig",
        },
        ("2024-08-31", ["functions", _, "recursion-config"]) => match m {
            "GET" => "GetFunctionRecursionConfig",
            _ => "PutFunctionRecursionConfig",
        },
        ("2020-06-30", ["functions", _, "code-signing-config"]) => match m {
            "GET" => "GetFunctionCodeSigningConfig",
            "PUT" => "PutFunctionCodeSigningConfig",
            _ => "DeleteFunctionCodeSigningConfig",
        },
        _ => return None,
    })
}

/// Lambda's sentence for `caller` refused `action` on `resource`.
pub fn message(caller: &str, action: Option<&str>, resource: &str) -> String {
    match action {
        Some(a) => format!(
            "User: {caller} is not authorized to perform: lambda:{a} on resource: {resource} because no resource-based policy allows the lambda:{a} action"
        ),
        None => format!("User: {caller} is not authorized to access resource: {resource}"),
    }
}

/// Writes the message of a cross-account refusal once the route answered.
pub async fn complete(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let action = action(req.method(), req.uri().path(), req.uri().query());
    let resp = next.run(req).await;
    let Some(DeniedResource(resource)) = resp.extensions().get::<DeniedResource>().cloned() else {
        return resp;
    };
    let caller = format!("arn:aws:iam::{}:root", state.partition.account);
    let body = serde_json::json!({
        "Type": "User",
        "Message": message(&caller, action, &resource),
    });
    let mut out = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    for (k, v) in resp.headers() {
        if k != axum::http::header::CONTENT_LENGTH && k != axum::http::header::CONTENT_TYPE {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out.headers_mut().insert(
        "x-amzn-ErrorType",
        HeaderValue::from_static("AccessDeniedException"),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_route() {
        let p = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af";
        assert_eq!(action(&Method::GET, p, None), Some("GetFunction"));
        assert_eq!(action(&Method::DELETE, p, None), Some("DeleteFunction"));
        let inv = format!("{p}/invocations");
        assert_eq!(action(&Method::POST, &inv, None), Some("InvokeFunction"));
        let stream = "/2021-11-15/functions/f/response-streaming-invocations";
        assert_eq!(action(&Method::POST, stream, None), Some("InvokeFunction"));
        let code = format!("{p}/code");
        assert_eq!(
            action(&Method::PUT, &code, None),
            Some("UpdateFunctionCode")
        );
        let pc = "/2019-09-30/functions/f/provisioned-concurrency";
        assert_eq!(
            action(&Method::GET, pc, Some("List=ALL")),
            Some("ListProvisionedConcurrencyConfigs")
        );
        assert_eq!(
            action(&Method::GET, "/2016-08-19/account-settings", None),
            None
        );
    }

    #[test]
    fn the_sentence_is_lambdas() {
        assert_eq!(
            message(
                "arn:aws:iam::000000000000:root",
                Some("GetFunction"),
                "arn:aws:lambda:us-east-1:111111111111:function:f"
            ),
            "User: arn:aws:iam::000000000000:root is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:f because no resource-based policy allows the lambda:GetFunction action"
        );
    }
}
