//! The wire helpers' rules: bus names from names or ARNs, pagination, member wording.

use serde_json::json;

use super::ops::{bus_name, paginate};
use super::{missing, string};

#[test]
fn bus_names_from_names_and_arns() {
    assert_eq!(bus_name(&json!({}), "EventBusName").unwrap(), "default");
    assert_eq!(
        bus_name(&json!({"EventBusName": "b"}), "EventBusName").unwrap(),
        "b"
    );
    let arn = json!({"EventBusName": "arn:aws:events:us-east-1:000000000000:event-bus/orders"});
    assert_eq!(bus_name(&arn, "EventBusName").unwrap(), "orders");
    let bad = bus_name(
        &json!({"EventBusName": "arn:aws:sqs:us-east-1:0:q"}),
        "EventBusName",
    )
    .unwrap_err();
    assert_eq!(bad.code, "ValidationException");
    let bad = bus_name(&json!({"EventBusName": "a b"}), "EventBusName").unwrap_err();
    assert!(bad.message.contains("at 'eventBusName'"), "{}", bad.message);
}

#[test]
fn pages_follow_the_last_name() {
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let (page, next) = paginate(names.clone(), |s| s.as_str(), &json!({"Limit": 2})).unwrap();
    assert_eq!(
        (page, next.as_deref()),
        (vec!["a".to_string(), "b".into()], Some("b"))
    );
    let (page, next) = paginate(
        names.clone(),
        |s| s.as_str(),
        &json!({"Limit": 2, "NextToken": "b"}),
    )
    .unwrap();
    assert_eq!((page, next), (vec!["c".to_string()], None));
    for bad in [
        json!({"Limit": 0}),
        json!({"Limit": 101}),
        json!({"Limit": "x"}),
    ] {
        assert!(paginate(names.clone(), |s| s.as_str(), &bad).is_err());
    }
}

#[test]
fn members() {
    assert_eq!(
        missing("EventPattern").message,
        "1 validation error detected: Value null at 'eventPattern' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        string(&json!({"Name": 3}), "Name").unwrap_err().code,
        "SerializationException"
    );
}
