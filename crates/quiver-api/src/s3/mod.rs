//! S3 on the main listener (docs/wire.md §30): which requests are S3's, and their hand-off
//! to the `s3s` service (S3's REST/XML wire and SigV4 checks) over [`service::QuiverS3`].
//!
//! A request is S3's when its SigV4 credential scope names service `s3` (Authorization
//! header, or `X-Amz-Credential` of a presigned URL), when it is signed with SigV2 (S3's
//! alone: `Authorization: AWS …`, or `AWSAccessKeyId` + `Signature` in the query), or when
//! its Host is virtual-hosted (`<bucket>.s3[.<region>].localhost[:port]`).
mod host;
mod service;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

pub use service::QuiverS3;

/// The S3 service as the router calls it.
pub type S3Service = Arc<s3s::service::S3Service>;

/// Verifies every S3 signature with one secret (any access key), as `--s3-secret` sets.
struct OneSecret(String);

#[async_trait::async_trait]
impl s3s::auth::S3Auth for OneSecret {
    async fn get_secret_key(&self, _access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        Ok(self.0.clone().into())
    }
}

/// Builds the S3 service over an object store; `secret` is the one secret signatures are
/// checked with (any access key is accepted, as by the rest of the API); without one,
/// s3s answers signed requests NotImplemented.
pub fn build(store: Arc<quiver_objects::ObjectStore>, secret: Option<&str>) -> S3Service {
    let mut b = s3s::service::S3ServiceBuilder::new(QuiverS3::new(store));
    if let Some(secret) = secret {
        b.set_auth(OneSecret(secret.to_string()));
    }
    b.set_host(host::LocalhostHost);
    Arc::new(b.build())
}

/// Whether a request is addressed to S3 (see the module doc).
pub fn is_s3(req: &Request) -> bool {
    if let Some(v) = req.headers().get(axum::http::header::AUTHORIZATION) {
        let Ok(v) = v.to_str() else { return false };
        // SigV2 (`AWS <key>:<signature>`) is S3's alone among the services served here.
        if v.starts_with("AWS ") {
            return true;
        }
        return crate::auth::parse_authorization(v).is_ok_and(|c| c.service == "s3");
    }
    if let Some(q) = req.uri().query() {
        let mut v2_key = false;
        let mut v2_sig = false;
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("X-Amz-Credential=") {
                let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                return v.split('/').nth(3) == Some("s3");
            }
            v2_key |= pair.starts_with("AWSAccessKeyId=");
            v2_sig |= pair.starts_with("Signature=");
        }
        // A SigV2 presigned URL (what boto3's generate_presigned_url makes by default).
        if v2_key && v2_sig {
            return true;
        }
    }
    req.headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| host::virtual_bucket(h).is_some())
}

/// The outermost layer: S3's requests go to the S3 service, the rest on.
pub async fn dispatch(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(s3) = state.s3() else {
        return next.run(req).await;
    };
    if !is_s3(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let req = axum::http::Request::from_parts(parts, s3s::Body::http_body_unsync(body));
    match s3.call(req).await {
        Ok(resp) => resp.map(axum::body::Body::new).into_response(),
        Err(e) => {
            tracing::warn!(error = ?e, "S3 request failed");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
