//! The table of pattern/event pairs (cases.json) whose expected answers come from
//! EventBridge's content filtering documentation; the end-to-end suite replays the
//! same table through TestEventPattern.

use serde_json::Value;

use super::Pattern;

fn table() -> Value {
    serde_json::from_str(include_str!("cases.json")).expect("cases.json is JSON")
}

#[test]
fn documented_cases() {
    let table = table();
    let events = &table["events"];
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 60);
    let mut wrong = Vec::new();
    for case in cases {
        let pattern = Pattern::from_value(&case["pattern"])
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        let event = &events[case["event"].as_str().unwrap()];
        assert!(event.is_object(), "{}: unknown event", case["name"]);
        if pattern.matches(event) != case["matches"].as_bool().unwrap() {
            wrong.push(case["name"].as_str().unwrap().to_owned());
        }
    }
    assert!(wrong.is_empty(), "wrong answers: {wrong:?}");
}

#[test]
fn documented_refusals() {
    let table = table();
    for case in table["invalid"].as_array().unwrap() {
        let err = Pattern::from_value(&case["pattern"])
            .unwrap_err()
            .to_string();
        let want = format!(
            "Event pattern is not valid. Reason: {}",
            case["reason"].as_str().unwrap()
        );
        assert_eq!(err, want, "pattern {}", case["pattern"]);
    }
}

#[test]
fn text_that_is_not_json_is_refused() {
    let err = Pattern::parse("{\"source\": [").unwrap_err().to_string();
    assert!(
        err.starts_with("Event pattern is not valid. Reason: "),
        "{err}"
    );
}

#[test]
fn cidr_blocks_are_checked() {
    for bad in ["10.0.0.0", "10.0.0.0/33", "abc/8", "10.0.0.0/-1"] {
        let p = format!(r#"{{"ip": [{{"cidr": "{bad}"}}]}}"#);
        assert!(Pattern::parse(&p).is_err(), "{bad}");
    }
    let p = Pattern::parse(r#"{"ip": [{"cidr": "0.0.0.0/0"}]}"#).unwrap();
    assert!(p.matches(&serde_json::json!({"ip": "192.0.2.1"})));
    assert!(!p.matches(&serde_json::json!({"ip": "not-an-ip"})));
}

#[test]
fn numeric_ranges_are_checked() {
    for bad in [
        r#"[">", 5, "<", 1]"#,
        r#"["<", 5, ">", 1]"#,
        r#"[">", 1, ">", 5]"#,
        r#"[">", 1, "<", 5, 6]"#,
        r#"[]"#,
    ] {
        let p = format!(r#"{{"n": [{{"numeric": {bad}}}]}}"#);
        assert!(Pattern::parse(&p).is_err(), "{bad}");
    }
}
