//! SNS-compatible topics over the AWS query protocol (docs/wire.md §26): `POST /` with
//! a form body `Action=<Op>&Version=2010-03-31&...`, signed for service `sns`, answered
//! in XML. Also `GET /?Action=ConfirmSubscription|Unsubscribe&...`: the unsigned links
//! SNS puts in what it delivers.
//!
//! - [`form`]: the request's flattened members; [`xml`]: answers and errors.
//! - [`topics`], [`subscriptions`], [`publish`]: the operations.
//!
//! The rules are `quiver_model::sns`'s, persistence the store's `SnsStore`, delivery
//! `quiver_triggers::sns`'s; this module parses, checks and renders.

pub mod form;
mod publish;
mod subscriptions;
mod topics;
pub mod xml;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quiver_model::sns::SnsError;
use quiver_store::{Store, StoreError};

use crate::state::AppState;
use form::Form;
use xml::Xml;

/// Whole request bodies: a 256 KiB message (or a batch of them) form-encoded.
pub const MAX_REQUEST: u64 = 4 << 20;

/// What every operation needs.
pub struct Ctx {
    pub state: AppState,
}

impl Ctx {
    /// Runs a store call on a blocking thread; a [`StoreError::NotFound`] becomes
    /// `not_found`, other failures an InternalError.
    pub async fn db<T, F>(&self, not_found: fn() -> SnsError, f: F) -> Result<T, SnsError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        match self.state.store(f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(StoreError::NotFound)) => Err(not_found()),
            Ok(Err(StoreError::Invalid(e))) => Err(SnsError::invalid(e)),
            Ok(Err(e)) => Err(internal(e)),
            Err(e) => Err(internal(e)),
        }
    }

    /// The delivery side, or an error when this server runs without it.
    pub fn topics(&self) -> Result<&quiver_triggers::Topics, SnsError> {
        self.state.sns.as_ref().ok_or_else(|| {
            SnsError::new(
                "InternalError",
                500,
                "Topic delivery is not enabled on this server.",
            )
        })
    }

    pub fn partition(&self) -> &quiver_model::Partition {
        &self.state.partition
    }
}

/// Our fault: logged in full, reported briefly.
pub fn internal(detail: impl std::fmt::Display) -> SnsError {
    tracing::error!(error = %detail, "SNS request failed");
    SnsError::new("InternalError", 500, "Internal Error")
}

fn answer(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    r
}

fn error_response(e: &SnsError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let fault = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    answer(
        status,
        xml::error(fault, e.code, &e.message, request_id),
        request_id,
    )
}

/// `POST /` for SNS: reads the form and runs its Action.
pub async fn handle(state: AppState, headers: HeaderMap, body: Body) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let bytes = match crate::body::read_limited(&headers, body, MAX_REQUEST, "SNS").await {
        Ok(b) => b,
        Err(crate::ApiError::TooLarge(_)) => {
            let e = SnsError::new(
                "RequestEntityTooLarge",
                413,
                format!("Request body is larger than the limit of {MAX_REQUEST} bytes."),
            );
            return error_response(&e, &request_id);
        }
        Err(e) => return error_response(&SnsError::invalid(e), &request_id),
    };
    run(Ctx { state }, Form::parse(&bytes), &request_id).await
}

async fn run(ctx: Ctx, f: Form, request_id: &str) -> Response {
    let op = f.get("Action").unwrap_or("").to_string();
    let result: Result<Option<Xml>, SnsError> = match op.as_str() {
        "CreateTopic" => topics::create(&ctx, &f).await.map(Some),
        "DeleteTopic" => topics::delete(&ctx, &f).await.map(|_| None),
        "ListTopics" => topics::list(&ctx, &f).await.map(Some),
        "GetTopicAttributes" => topics::get_attributes(&ctx, &f).await.map(Some),
        "SetTopicAttributes" => topics::set_attributes(&ctx, &f).await.map(|_| None),
        "TagResource" => topics::tag(&ctx, &f).await.map(|_| Some(Xml::new())),
        "UntagResource" => topics::untag(&ctx, &f).await.map(|_| Some(Xml::new())),
        "ListTagsForResource" => topics::list_tags(&ctx, &f).await.map(Some),
        "Subscribe" => subscriptions::subscribe(&ctx, &f).await.map(Some),
        "ConfirmSubscription" => subscriptions::confirm(&ctx, &f).await.map(Some),
        "Unsubscribe" => subscriptions::unsubscribe(&ctx, &f).await.map(|_| None),
        "ListSubscriptions" => subscriptions::list(&ctx, &f, false).await.map(Some),
        "ListSubscriptionsByTopic" => subscriptions::list(&ctx, &f, true).await.map(Some),
        "GetSubscriptionAttributes" => subscriptions::get_attributes(&ctx, &f).await.map(Some),
        "SetSubscriptionAttributes" => subscriptions::set_attributes(&ctx, &f).await.map(|_| None),
        "Publish" => publish::publish(&ctx, &f).await.map(Some),
        "PublishBatch" => publish::publish_batch(&ctx, &f).await.map(Some),
        "" => Err(SnsError::new(
            "MissingAction",
            400,
            "The request must contain the parameter Action.",
        )),
        other => Err(SnsError::new(
            "InvalidAction",
            400,
            format!("The action {other} is not valid for this web service."),
        )),
    };
    match result {
        Ok(x) => answer(
            StatusCode::OK,
            xml::response(&op, x.as_ref(), request_id),
            request_id,
        ),
        Err(e) => error_response(&e, request_id),
    }
}

/// Whether `req` is one of the unsigned links SNS hands out (SubscribeURL,
/// UnsubscribeURL): `GET /?Action=ConfirmSubscription|Unsubscribe&...`. They carry
/// their own proof (the token, the unguessable subscription ARN), as in SNS.
pub fn is_link(req: &Request) -> bool {
    req.method() == axum::http::Method::GET
        && req.uri().path() == "/"
        && link_form(req.uri().query()).is_some()
}

fn link_form(query: Option<&str>) -> Option<Form> {
    let f = Form::from_pairs(crate::query::pairs(query));
    matches!(f.get("Action"), Some("ConfirmSubscription" | "Unsubscribe")).then_some(f)
}

/// `GET /` with a link's query.
pub async fn link(State(state): State<AppState>, req: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    match link_form(req.uri().query()) {
        Some(f) => run(Ctx { state }, f, &request_id).await,
        None => crate::ApiError::UnknownOperation("GET /".into()).into_response(),
    }
}
