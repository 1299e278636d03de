use quiver_model::Partition;
use quiver_streams::StreamError;
use serde_json::json;

use super::ops::stream_name;
use super::KinesisError;

fn with_cx<T>(f: impl FnOnce(&super::ops::Cx<'_>) -> T) -> T {
    let dir = tempfile::tempdir().unwrap();
    let store = quiver_streams::SqliteStreams::open(&dir.path().join("s.db")).unwrap();
    let svc = quiver_streams::StreamService::new(std::sync::Arc::new(store));
    let p = Partition::new("us-east-1", "123456789012");
    f(&super::ops::Cx {
        streams: &svc,
        partition: &p,
    })
}

#[test]
fn stream_name_or_arn() {
    with_cx(|cx| {
        let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s1";
        assert_eq!(stream_name(cx, &json!({"StreamName": "s1"})).unwrap(), "s1");
        assert_eq!(stream_name(cx, &json!({"StreamARN": arn})).unwrap(), "s1");
        assert_eq!(
            stream_name(cx, &json!({"StreamARN": arn, "StreamName": "s1"})).unwrap(),
            "s1"
        );
        for bad in [
            json!({}),
            json!({"StreamARN": arn, "StreamName": "s2"}),
            json!({"StreamARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/s1"}),
            json!({"StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/"}),
        ] {
            assert_eq!(
                stream_name(cx, &bad).unwrap_err().code,
                "InvalidArgumentException",
                "{bad}"
            );
        }
    })
}

#[test]
fn domain_errors_in_kinesis_words() {
    let e = KinesisError::from_stream(StreamError::StreamNotFound("x".into()), "111");
    assert_eq!(e.code, "ResourceNotFoundException");
    assert_eq!(e.message, "Stream x under account 111 not found.");
    let e = KinesisError::from_stream(StreamError::InUse("x".into()), "111");
    assert_eq!(e.code, "ResourceInUseException");
    let e = KinesisError::from_stream(StreamError::ExpiredIterator, "111");
    assert_eq!(e.code, "ExpiredIteratorException");
    let e = KinesisError::from_stream(
        StreamError::Invalid("1 validation error detected: x".into()),
        "1",
    );
    assert_eq!(e.code, "ValidationException");
    let e = KinesisError::from_stream(StreamError::Invalid("bad".into()), "1");
    assert_eq!(e.code, "InvalidArgumentException");
    assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
}
