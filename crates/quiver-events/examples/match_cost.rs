//! What matching costs: 1,000 compiled rules against N events, as a bus with many rules
//! does for each PutEvents entry. Prints rules, events, matches and ns per rule-event
//! match for BENCHMARKS.md.
//!
//! `cargo run --release -p quiver-events --example match_cost -- [events]`

use std::time::Instant;

use quiver_events::pattern::Pattern;
use serde_json::json;

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let rules: Vec<Pattern> = (0..1_000)
        .map(|i| {
            let p = match i % 5 {
                0 => json!({"source": [format!("app.{}", i % 50)], "detail-type": ["Order Placed"]}),
                1 => json!({"detail": {"total": [{"numeric": [">", i, "<=", i + 100]}]}}),
                2 => json!({"detail": {"customer": [{"prefix": format!("c-{}", i % 10)}]}}),
                3 => json!({"$or": [{"detail": {"state": [{"anything-but": ["cancelled", "void"]}]}},
                                   {"resources": [{"wildcard": format!("arn:*:order/{}*", i % 7)}]}]}),
                _ => json!({"detail": {"ip": [{"cidr": format!("10.{}.0.0/16", i % 256)}], "flag": [{"exists": true}]}}),
            };
            Pattern::from_value(&p).expect("benchmark patterns are valid")
        })
        .collect();
    let batch: Vec<serde_json::Value> = (0..events)
        .map(|i| {
            json!({
                "version": "0", "id": format!("id-{i}"), "detail-type": "Order Placed",
                "source": format!("app.{}", i % 60), "account": "000000000000",
                "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
                "resources": [format!("arn:aws:shop:order/{}", i % 1000)],
                "detail": {"total": i % 2000, "customer": format!("c-{}", i % 30),
                           "state": if i % 3 == 0 { "cancelled" } else { "open" },
                           "ip": format!("10.{}.1.2", i % 300), "flag": i % 2 == 0}
            })
        })
        .collect();
    let start = Instant::now();
    let mut matched = 0usize;
    for event in &batch {
        matched += rules.iter().filter(|r| r.matches(event)).count();
    }
    let elapsed = start.elapsed();
    let pairs = (rules.len() * batch.len()) as f64;
    println!(
        "rules={} events={} matches={} total_ms={:.1} ns_per_rule_event={:.1} us_per_event={:.1}",
        rules.len(),
        batch.len(),
        matched,
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_nanos() as f64 / pairs,
        elapsed.as_micros() as f64 / batch.len() as f64
    );
}
