//! The event an EventBridge rule with a ScheduleExpression delivers to its targets
//! ("Scheduled Event", source `aws.events`), as EventBridge documents it.

use serde_json::{json, Value};

/// The Scheduled Event envelope of one fire of `rule_arn`. `id` is a fresh UUID and
/// `time` the fire's ISO-8601 UTC instant (`2026-01-15T10:30:00Z`), both the caller's so
/// this stays pure.
pub fn scheduled_event(id: &str, time: &str, account: &str, region: &str, rule_arn: &str) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time,
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_envelope_has_eventbridges_fields() {
        let arn = "arn:aws:events:us-east-1:123456789012:rule/every-minute";
        let e = super::scheduled_event(
            "id-1",
            "2026-01-15T10:30:00Z",
            "123456789012",
            "us-east-1",
            arn,
        );
        assert_eq!(e["version"], "0");
        assert_eq!(e["detail-type"], "Scheduled Event");
        assert_eq!(e["source"], "aws.events");
        assert_eq!(e["account"], "123456789012");
        assert_eq!(e["region"], "us-east-1");
        assert_eq!(e["time"], "2026-01-15T10:30:00Z");
        assert_eq!(e["resources"][0], arn);
        assert_eq!(e["detail"], serde_json::json!({}));
        assert_eq!(e["id"], "id-1");
    }
}
