//! EventBridge's six-field cron: `cron(minutes hours day-of-month month day-of-week year)`.
//!
//! The grammar is Quartz's less seconds, as EventBridge documents it: `,` lists, `-`
//! ranges, `*` all, `/` steps, `?` "no specific value" (exactly one of the two day
//! fields), `L` (last day of the month; `5L` the last Thursday), `W` (`15W` the weekday
//! nearest the 15th, `LW` the last weekday), `#` (`3#2` the second Tuesday). Days of
//! the week run 1-7 from Sunday, as in Quartz, not 0-6 as in Unix cron.

use jiff::civil::Date;

/// Years a cron expression may name (EventBridge's documented range).
pub const YEAR_MIN: i16 = 1970;
pub const YEAR_MAX: i16 = 2199;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A set of small integers (minutes, hours, days, months, weekdays, year offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set(Vec<bool>);

impl Set {
    fn new(max: usize) -> Self {
        Set(vec![false; max + 1])
    }
    /// Whether `v` is in the set.
    pub fn has(&self, v: usize) -> bool {
        self.0.get(v).copied().unwrap_or(false)
    }
    /// The members in increasing order.
    pub fn members(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
    }
}

/// The day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayOfMonth {
    /// `?`: the day-of-week field decides.
    NoSpec,
    /// Plain values (`*`, lists, ranges, steps).
    Days(Set),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekday,
    /// `15W`: the weekday nearest the 15th, never leaving the month.
    NearestWeekday(i8),
}

/// The day-of-week field (1 = Sunday ... 7 = Saturday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayOfWeek {
    /// `?`: the day-of-month field decides.
    NoSpec,
    /// Plain values.
    Days(Set),
    /// `5L`: the last such weekday of the month.
    Last(i8),
    /// `3#2`: the n-th (1-5) such weekday of the month.
    Nth(i8, i8),
}

/// A parsed cron expression. `None` from [`parse`] means EventBridge would refuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub minutes: Set,
    pub hours: Set,
    pub day_of_month: DayOfMonth,
    pub months: Set,
    pub day_of_week: DayOfWeek,
    /// Offsets from [`YEAR_MIN`].
    pub years: Set,
}

/// Parses the inside of `cron(...)`; `None` when it is not a valid expression.
pub fn parse(body: &str) -> Option<Cron> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    let [min, hour, dom, month, dow, year] = fields.as_slice() else {
        return None;
    };
    let minutes = values(min, 0, 59, &[])?;
    let hours = values(hour, 0, 23, &[])?;
    let months = values(month, 1, 12, &MONTHS)?;
    let years = years(year)?;
    let day_of_month = day_of_month(dom)?;
    let day_of_week = day_of_week(dow)?;
    // Exactly one of the two day fields is `?`.
    let dom_none = day_of_month == DayOfMonth::NoSpec;
    let dow_none = day_of_week == DayOfWeek::NoSpec;
    if dom_none == dow_none {
        return None;
    }
    Some(Cron {
        minutes,
        hours,
        day_of_month,
        months,
        day_of_week,
        years,
    })
}

fn years(field: &str) -> Option<Set> {
    let abs = values(field, YEAR_MIN as usize, YEAR_MAX as usize, &[])?;
    let mut set = Set::new((YEAR_MAX - YEAR_MIN) as usize);
    for y in abs.members() {
        set.0[y - YEAR_MIN as usize] = true;
    }
    Some(set)
}

fn day_of_month(field: &str) -> Option<DayOfMonth> {
    match field {
        "?" => return Some(DayOfMonth::NoSpec),
        "L" => return Some(DayOfMonth::Last),
        "LW" => return Some(DayOfMonth::LastWeekday),
        _ => {}
    }
    if let Some(day) = field.strip_suffix('W') {
        let day = number(day)?;
        return (1..=31)
            .contains(&day)
            .then_some(DayOfMonth::NearestWeekday(day as i8));
    }
    values(field, 1, 31, &[]).map(DayOfMonth::Days)
}

fn day_of_week(field: &str) -> Option<DayOfWeek> {
    match field {
        "?" => return Some(DayOfWeek::NoSpec),
        // Quartz: a bare `L` in the day-of-week field is its last day, Saturday.
        "L" => {
            let mut set = Set::new(7);
            set.0[7] = true;
            return Some(DayOfWeek::Days(set));
        }
        _ => {}
    }
    if let Some(day) = field.strip_suffix('L') {
        return Some(DayOfWeek::Last(one_value(day, 1, 7, &WEEKDAYS)? as i8));
    }
    if let Some((day, nth)) = field.split_once('#') {
        let day = one_value(day, 1, 7, &WEEKDAYS)?;
        let nth = number(nth)?;
        return (1..=5)
            .contains(&nth)
            .then_some(DayOfWeek::Nth(day as i8, nth as i8));
    }
    values(field, 1, 7, &WEEKDAYS).map(DayOfWeek::Days)
}

/// A comma list of `*`, `a`, `a-b`, each optionally `/step`.
fn values(field: &str, lo: usize, hi: usize, names: &[&str]) -> Option<Set> {
    let mut set = Set::new(hi);
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step = number(step)?;
                if step == 0 {
                    return None;
                }
                (range, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (one_value(a, lo, hi, names)?, one_value(b, lo, hi, names)?)
        } else {
            let a = one_value(range, lo, hi, names)?;
            // `a/step` runs from a to the end of the field.
            (a, if step.is_some() { hi } else { a })
        };
        let step = step.unwrap_or(1);
        // A range may wrap (`FRI-MON`, `22-2`), as in Quartz.
        let span = if end >= start {
            end - start
        } else {
            hi - start + 1 + end - lo
        };
        let mut offset = 0;
        while offset <= span {
            let mut v = start + offset;
            if v > hi {
                v = v - hi - 1 + lo;
            }
            set.0[v] = true;
            offset += step;
        }
    }
    Some(set)
}

fn one_value(text: &str, lo: usize, hi: usize, names: &[&str]) -> Option<usize> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Some(i + lo);
    }
    let v = number(text)?;
    (lo..=hi).contains(&v).then_some(v)
}

fn number(text: &str) -> Option<usize> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl Cron {
    /// Whether the expression runs on this calendar day (hours and minutes aside).
    pub fn matches_date(&self, date: Date) -> bool {
        let year = date.year();
        if !(YEAR_MIN..=YEAR_MAX).contains(&year) || !self.years.has((year - YEAR_MIN) as usize) {
            return false;
        }
        if !self.months.has(date.month() as usize) {
            return false;
        }
        let day = date.day();
        let last = date.days_in_month();
        let weekday = date.weekday().to_sunday_one_offset();
        let dom_ok = match &self.day_of_month {
            DayOfMonth::NoSpec => true,
            DayOfMonth::Days(set) => set.has(day as usize),
            DayOfMonth::Last => day == last,
            DayOfMonth::LastWeekday => day == last_weekday(date),
            DayOfMonth::NearestWeekday(n) => nearest_weekday(date, *n) == Some(day),
        };
        let dow_ok = match &self.day_of_week {
            DayOfWeek::NoSpec => true,
            DayOfWeek::Days(set) => set.has(weekday as usize),
            DayOfWeek::Last(w) => weekday == *w && day + 7 > last,
            DayOfWeek::Nth(w, n) => weekday == *w && (day - 1) / 7 + 1 == *n,
        };
        dom_ok && dow_ok
    }
}

/// The last Monday-to-Friday day of `date`'s month.
fn last_weekday(date: Date) -> i8 {
    let last = date.last_of_month();
    match last.weekday().to_sunday_one_offset() {
        7 => last.day() - 1, // Saturday → Friday
        1 => last.day() - 2, // Sunday → Friday
        _ => last.day(),
    }
}

/// Quartz's `nW`: the weekday nearest the n-th, staying inside the month; `None` when
/// the month has no n-th day (`30W` in February).
fn nearest_weekday(date: Date, n: i8) -> Option<i8> {
    let last = date.days_in_month();
    if n > last {
        return None;
    }
    let target = date
        .first_of_month()
        .checked_add(jiff::Span::new().days(n as i64 - 1))
        .ok()?;
    Some(match target.weekday().to_sunday_one_offset() {
        7 if n == 1 => 3,        // Saturday the 1st → Monday the 3rd
        7 => n - 1,              // Saturday → Friday
        1 if n == last => n - 2, // Sunday the last → Friday
        1 => n + 1,              // Sunday → Monday
        _ => n,
    })
}
