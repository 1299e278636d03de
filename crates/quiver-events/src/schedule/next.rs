//! The next fire of an expression after an instant.
//!
//! Cron and `at` are wall-clock rules: each candidate minute is a civil time in the
//! schedule's zone, turned into an instant. Scheduler's documented DST behaviour
//! follows from how the two ambiguous cases are resolved: a time inside a spring-forward
//! gap does not exist and is skipped; a time inside a fall-back fold happens twice and
//! fires once, at its first occurrence.

use super::ScheduleExpression;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

impl ScheduleExpression {
    /// The first fire strictly after `after`, or `None` when there is none left (an
    /// `at` in the past, a cron whose years are over).
    ///
    /// `anchor` is where a rate counts from (the schedule's StartDate, else its
    /// creation): rate fires are `anchor + k × period` for k ≥ 0.
    pub fn next_after(
        &self,
        after: Timestamp,
        tz: &TimeZone,
        anchor: Timestamp,
    ) -> Option<Timestamp> {
        match self {
            ScheduleExpression::Rate { .. } => {
                let period = self.period_secs()?;
                let anchor_s = anchor.as_second();
                let after_s = after.as_second();
                let k = if after < anchor {
                    0
                } else {
                    (after_s - anchor_s).div_euclid(period) + 1
                };
                Timestamp::from_second(anchor_s.checked_add(k.checked_mul(period)?)?).ok()
            }
            ScheduleExpression::At(dt) => {
                let ts = first_instant(tz, *dt)?;
                (ts > after).then_some(ts)
            }
            ScheduleExpression::Cron(cron) => {
                let start: Date = after.to_zoned(tz.clone()).date();
                let mut day = start;
                loop {
                    if day.year() > super::cron::YEAR_MAX {
                        return None;
                    }
                    if cron.matches_date(day) {
                        for hour in cron.hours.members() {
                            for minute in cron.minutes.members() {
                                let dt = day.at(hour as i8, minute as i8, 0, 0);
                                if let Some(ts) = first_instant(tz, dt) {
                                    if ts > after {
                                        return Some(ts);
                                    }
                                }
                            }
                        }
                    }
                    day = day.tomorrow().ok()?;
                }
            }
        }
    }
}

/// The instant a wall-clock time names in `tz`: `None` inside a gap (it never
/// happens), the earlier one inside a fold (it fires once).
fn first_instant(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    let amb = tz.to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            offset.to_timestamp(dt).ok()
        }
        AmbiguousOffset::Gap { .. } => None,
    }
}
