//! Table tests: expressions from EventBridge's and Scheduler's documentation (and the
//! Quartz rules they follow for `L`, `W`, `#`), each with a reference instant and the
//! expected next fire worked out from the calendar.

use super::{time_zone, Dialect, ScheduleExpression};
use crate::EventsError;
use jiff::Timestamp;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// (expression, time zone, after, expected next fire)
const TABLE: &[(&str, Option<&str>, &str, Option<&str>)] = &[
    // AWS's examples: every day at 10:00, at 12:15.
    (
        "cron(0 10 * * ? *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-01-16T10:00:00Z"),
    ),
    (
        "cron(15 12 * * ? *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-01-15T12:15:00Z"),
    ),
    // 18:00 Monday to Friday: Thursday, then Friday → Monday.
    (
        "cron(0 18 ? * MON-FRI *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-01-15T18:00:00Z"),
    ),
    (
        "cron(0 18 ? * MON-FRI *)",
        None,
        "2026-01-16T18:00:00Z",
        Some("2026-01-19T18:00:00Z"),
    ),
    // 8:00 on the first day of every month.
    (
        "cron(0 8 1 * ? *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-02-01T08:00:00Z"),
    ),
    // Every 15 minutes; every 10 minutes on weekdays (Saturday → Monday 00:00).
    (
        "cron(0/15 * * * ? *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-01-15T10:45:00Z"),
    ),
    (
        "cron(0/10 * ? * MON-FRI *)",
        None,
        "2026-01-17T00:00:00Z",
        Some("2026-01-19T00:00:00Z"),
    ),
    // Every 5 minutes 8:00-17:55 on weekdays: after 17:56 Thursday → Friday 8:00.
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        None,
        "2026-01-15T17:56:00Z",
        Some("2026-01-16T08:00:00Z"),
    ),
    // 9:00 on the first Monday of each month (February 2026 starts on a Sunday).
    (
        "cron(0 9 ? * 2#1 *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-02-02T09:00:00Z"),
    ),
    // 10:15 on the last Friday of each month, 2019-2022 only.
    (
        "cron(15 10 ? * 6L 2019-2022)",
        None,
        "2022-12-01T00:00:00Z",
        Some("2022-12-30T10:15:00Z"),
    ),
    (
        "cron(15 10 ? * 6L 2019-2022)",
        None,
        "2022-12-30T10:15:00Z",
        None,
    ),
    // L: the last day of the month, leap years included (2100 is not one).
    (
        "cron(0 0 L * ? *)",
        None,
        "2024-02-01T00:00:00Z",
        Some("2024-02-29T00:00:00Z"),
    ),
    (
        "cron(0 0 L * ? *)",
        None,
        "2025-02-01T00:00:00Z",
        Some("2025-02-28T00:00:00Z"),
    ),
    (
        "cron(0 0 L * ? *)",
        None,
        "2100-02-01T00:00:00Z",
        Some("2100-02-28T00:00:00Z"),
    ),
    (
        "cron(0 0 L * ? *)",
        None,
        "2026-04-30T00:00:00Z",
        Some("2026-05-31T00:00:00Z"),
    ),
    // 29 February only in leap years.
    (
        "cron(0 0 29 2 ? *)",
        None,
        "2025-03-01T00:00:00Z",
        Some("2028-02-29T00:00:00Z"),
    ),
    // LW: 31 January 2026 is a Saturday → Friday the 30th.
    (
        "cron(0 0 LW * ? *)",
        None,
        "2026-01-01T00:00:00Z",
        Some("2026-01-30T00:00:00Z"),
    ),
    // 15W: Sunday 15 November → Monday 16th; Saturday 15 August → Friday 14th.
    (
        "cron(0 0 15W * ? *)",
        None,
        "2026-11-01T00:00:00Z",
        Some("2026-11-16T00:00:00Z"),
    ),
    (
        "cron(0 0 15W * ? *)",
        None,
        "2026-08-01T00:00:00Z",
        Some("2026-08-14T00:00:00Z"),
    ),
    // 1W never leaves the month: Saturday 1 August → Monday 3rd.
    (
        "cron(0 0 1W * ? *)",
        None,
        "2026-07-31T00:00:00Z",
        Some("2026-08-03T00:00:00Z"),
    ),
    // 31W: April has no 31st; Sunday 31 May (the last day) → Friday 29th.
    (
        "cron(0 0 31W * ? *)",
        None,
        "2026-04-01T00:00:00Z",
        Some("2026-05-29T00:00:00Z"),
    ),
    // #: the second Tuesday; the fifth Sunday (only some months have one).
    (
        "cron(0 20 ? * 3#2 *)",
        None,
        "2026-02-01T00:00:00Z",
        Some("2026-02-10T20:00:00Z"),
    ),
    (
        "cron(0 0 ? * 1#5 *)",
        None,
        "2026-04-01T00:00:00Z",
        Some("2026-05-31T00:00:00Z"),
    ),
    // Names and lists; a bare L in day-of-week is Saturday; a wrapping range.
    (
        "cron(30 9 ? * SUN,SAT *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-01-17T09:30:00Z"),
    ),
    (
        "cron(0 0 ? * L *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-01-17T00:00:00Z"),
    ),
    (
        "cron(0 22 ? * FRI-MON *)",
        None,
        "2026-01-19T22:00:00Z",
        Some("2026-01-23T22:00:00Z"),
    ),
    (
        "cron(0 12 ? JAN,MAR * *)",
        None,
        "2026-01-31T12:00:00Z",
        Some("2026-03-01T12:00:00Z"),
    ),
    (
        "cron(5,35 14 * * ? *)",
        None,
        "2026-01-15T14:05:00Z",
        Some("2026-01-15T14:35:00Z"),
    ),
    (
        "cron(0 */6 * * ? *)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-01-15T12:00:00Z"),
    ),
    // Year fields: one year, a stepped range, year end.
    (
        "cron(0 0 1 1 ? 2030)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2030-01-01T00:00:00Z"),
    ),
    (
        "cron(0 0 1 1 ? 2030/5)",
        None,
        "2030-01-01T00:00:00Z",
        Some("2035-01-01T00:00:00Z"),
    ),
    (
        "cron(59 23 31 12 ? *)",
        None,
        "2026-12-31T23:59:00Z",
        Some("2027-12-31T23:59:00Z"),
    ),
    (
        "cron(0 0 1 1 ? 1970-2000)",
        None,
        "2026-01-15T10:30:00Z",
        None,
    ),
    // Time zones: 9:00 in Tokyo is midnight UTC.
    (
        "cron(0 9 * * ? *)",
        Some("Asia/Tokyo"),
        "2026-01-15T10:30:00Z",
        Some("2026-01-16T00:00:00Z"),
    ),
    // Spring forward in New York (8 March 2026): 2:30 does not exist that day, skipped.
    (
        "cron(30 2 * * ? *)",
        Some("America/New_York"),
        "2026-03-07T08:00:00Z",
        Some("2026-03-09T06:30:00Z"),
    ),
    // Fall back (1 November 2026): 1:30 happens twice and fires once, the first time.
    (
        "cron(30 1 * * ? *)",
        Some("America/New_York"),
        "2026-11-01T05:00:00Z",
        Some("2026-11-01T05:30:00Z"),
    ),
    (
        "cron(30 1 * * ? *)",
        Some("America/New_York"),
        "2026-11-01T05:30:00Z",
        Some("2026-11-02T06:30:00Z"),
    ),
    (
        "cron(0 * * * ? *)",
        Some("America/New_York"),
        "2026-11-01T05:00:00Z",
        Some("2026-11-01T07:00:00Z"),
    ),
    // One-time schedules, in UTC and in Berlin's summer time.
    (
        "at(2026-05-01T08:00:00)",
        None,
        "2026-01-15T10:30:00Z",
        Some("2026-05-01T08:00:00Z"),
    ),
    (
        "at(2026-05-01T08:00:00)",
        None,
        "2026-05-01T08:00:00Z",
        None,
    ),
    (
        "at(2026-05-01T08:00:00)",
        Some("Europe/Berlin"),
        "2026-01-15T10:30:00Z",
        Some("2026-05-01T06:00:00Z"),
    ),
];

#[test]
fn next_fires_match_the_calendar() {
    for (expr, tz, after, want) in TABLE {
        let parsed = ScheduleExpression::parse(expr, Dialect::Scheduler)
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        let zone = time_zone(*tz).unwrap();
        let got = parsed.next_after(ts(after), &zone, ts("2000-01-01T00:00:00Z"));
        assert_eq!(got, want.map(ts), "{expr} in {tz:?} after {after}");
    }
}

#[test]
fn rates_count_from_the_anchor_in_fixed_durations() {
    let utc = time_zone(None).unwrap();
    let five = ScheduleExpression::parse("rate(5 minutes)", Dialect::Events).unwrap();
    let anchor = ts("2026-01-15T10:00:00Z");
    // Before the anchor the first fire is the anchor itself (a rate starts at once).
    assert_eq!(
        five.next_after(ts("2026-01-15T09:00:00Z"), &utc, anchor),
        Some(anchor)
    );
    assert_eq!(
        five.next_after(ts("2026-01-15T10:30:00Z"), &utc, anchor),
        Some(ts("2026-01-15T10:35:00Z"))
    );
    assert_eq!(
        five.next_after(ts("2026-01-15T10:31:10Z"), &utc, anchor),
        Some(ts("2026-01-15T10:35:00Z"))
    );
    // A day is 24 hours even across New York's spring forward.
    let ny = time_zone(Some("America/New_York")).unwrap();
    let day = ScheduleExpression::parse("rate(1 day)", Dialect::Scheduler).unwrap();
    let anchor = ts("2026-03-07T12:00:00Z");
    assert_eq!(
        day.next_after(anchor, &ny, anchor),
        Some(ts("2026-03-08T12:00:00Z"))
    );
    let hour = ScheduleExpression::parse("rate(1 hour)", Dialect::Scheduler).unwrap();
    assert_eq!(hour.period_secs(), Some(3600));
}

#[test]
fn invalid_expressions_are_refused_in_each_services_words() {
    let bad = [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(-1 minutes)",
        "rate(05 minutes)",
        "rate(5 seconds)",
        "rate(5  minutes)",
        "rate(5)",
        "rate(5 Minutes)",
        "cron(* * * * * *)",
        "cron(0 10 ? * ? *)",
        "cron(0 10 * * ?)",
        "cron(0 10 * * ? * *)",
        "cron(60 * * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 0 32 * ? *)",
        "cron(0 0 0 * ? *)",
        "cron(0 0 ? 13 * *)",
        "cron(0 0 ? * 8 *)",
        "cron(0 0 ? * 0 *)",
        "cron(0 0 1 1 ? 1969)",
        "cron(0 0 1 1 ? 2200)",
        "cron(0 0 ? * 3#6 *)",
        "cron(0/0 * * * ? *)",
        "cron(0 0 ? FOO * *)",
        "cron(0 0 L,5 * ? *)",
        "at(2026-02-30T00:00:00)",
        "at(2026-05-01 08:00:00)",
        "at(2026-05-01T08:00)",
        "every 5 minutes",
        "",
        "rate(5 minutes",
    ];
    for text in bad {
        assert_eq!(
            ScheduleExpression::parse(text, Dialect::Events),
            Err(EventsError::InvalidSchedule(
                "Parameter ScheduleExpression is not valid.".into()
            )),
            "{text}"
        );
        assert_eq!(
            ScheduleExpression::parse(text, Dialect::Scheduler),
            Err(EventsError::InvalidSchedule(format!(
                "Invalid Schedule Expression {text}."
            ))),
            "{text}"
        );
    }
    // Rules have no one-time schedules.
    assert!(ScheduleExpression::parse("at(2026-05-01T08:00:00)", Dialect::Events).is_err());
    assert!(time_zone(Some("Mars/Olympus_Mons")).is_err());
}
