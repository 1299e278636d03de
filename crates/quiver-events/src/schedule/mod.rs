//! Schedule expressions (`rate(...)`, `cron(...)`, `at(...)`) and their fire times.
//!
//! EventBridge rules take `rate` and `cron`; EventBridge Scheduler also takes the
//! one-time `at(yyyy-mm-ddThh:mm:ss)` and evaluates `cron`/`at` in an IANA time zone
//! (`ScheduleExpressionTimezone`). The two services word a refusal differently, hence
//! [`Dialect`]. Fire times have whole-minute precision, as both services document.

pub mod cron;
mod event;
mod next;
#[cfg(test)]
mod tests;

use crate::EventsError;
pub use cron::Cron;
pub use event::scheduled_event;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Which service's rules and wording apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// EventBridge rules (PutRule): no `at()`.
    Events,
    /// EventBridge Scheduler (CreateSchedule/UpdateSchedule).
    Scheduler,
}

/// The unit of a `rate(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Minutes,
    Hours,
    Days,
}

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    /// Every `value` units, counted from the schedule's start (a day is 24 hours,
    /// whatever DST does to the wall clock, as Scheduler documents).
    Rate { value: u32, unit: RateUnit },
    /// A cron expression, evaluated on the wall clock of the time zone.
    Cron(Box<Cron>),
    /// Once, at this wall-clock time of the time zone.
    At(DateTime),
}

impl ScheduleExpression {
    /// Parses `text` as `dialect` accepts it, or refuses it with that service's words.
    pub fn parse(text: &str, dialect: Dialect) -> Result<Self, EventsError> {
        parse_inner(text, dialect).ok_or_else(|| invalid(text, dialect))
    }

    /// The period of a rate expression, in seconds.
    pub fn period_secs(&self) -> Option<i64> {
        match self {
            ScheduleExpression::Rate { value, unit } => Some(
                i64::from(*value)
                    * match unit {
                        RateUnit::Minutes => 60,
                        RateUnit::Hours => 3_600,
                        RateUnit::Days => 86_400,
                    },
            ),
            _ => None,
        }
    }

    /// Whether this is a one-time (`at`) schedule.
    pub fn is_one_time(&self) -> bool {
        matches!(self, ScheduleExpression::At(_))
    }
}

fn invalid(text: &str, dialect: Dialect) -> EventsError {
    EventsError::InvalidSchedule(match dialect {
        Dialect::Events => "Parameter ScheduleExpression is not valid.".to_string(),
        Dialect::Scheduler => format!("Invalid Schedule Expression {text}."),
    })
}

fn parse_inner(text: &str, dialect: Dialect) -> Option<ScheduleExpression> {
    if let Some(body) = inside(text, "rate") {
        return rate(body);
    }
    if let Some(body) = inside(text, "cron") {
        return cron::parse(body).map(|c| ScheduleExpression::Cron(Box::new(c)));
    }
    if dialect == Dialect::Scheduler {
        if let Some(body) = inside(text, "at") {
            return at(body).map(ScheduleExpression::At);
        }
    }
    None
}

fn inside<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    text.strip_prefix(word)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// `rate(value unit)`: a positive integer and a unit, singular exactly for 1.
fn rate(body: &str) -> Option<ScheduleExpression> {
    let (value, unit) = body.split_once(' ')?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || value.starts_with('0') {
        return None;
    }
    let value: u32 = value.parse().ok()?;
    let (unit, singular) = match unit {
        "minute" => (RateUnit::Minutes, true),
        "minutes" => (RateUnit::Minutes, false),
        "hour" => (RateUnit::Hours, true),
        "hours" => (RateUnit::Hours, false),
        "day" => (RateUnit::Days, true),
        "days" => (RateUnit::Days, false),
        _ => return None,
    };
    if singular != (value == 1) {
        return None;
    }
    Some(ScheduleExpression::Rate { value, unit })
}

/// `at(yyyy-mm-ddThh:mm:ss)`, exactly that shape.
fn at(body: &str) -> Option<DateTime> {
    let b = body.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let n = |r: std::ops::Range<usize>| body[r].parse::<i16>().ok();
    DateTime::new(
        n(0..4)?,
        n(5..7)? as i8,
        n(8..10)? as i8,
        n(11..13)? as i8,
        n(14..16)? as i8,
        n(17..19)? as i8,
        0,
    )
    .ok()
}

/// Looks up an IANA time zone name in the bundled database (`None` in the API means
/// UTC). The message is Scheduler's.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, EventsError> {
    match name {
        None => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name)
            .map_err(|_| EventsError::InvalidSchedule(format!("Invalid time zone {name}."))),
    }
}
