//! The conditions one field's value list holds, and how each tests one leaf value.

use serde_json::{Number, Value};
use std::net::IpAddr;

use super::wildcard::Wildcard;

/// One entry of a field's list: the field matches when any entry matches any of the
/// event's values for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    /// A plain string, number, boolean or null: equal values match; numbers compare as
    /// numbers (300 matches 300.0), never as text, and never match a string.
    Exact(Value),
    Prefix {
        text: String,
        ignore_case: bool,
    },
    Suffix {
        text: String,
        ignore_case: bool,
    },
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    /// Matches a value none of the inner conditions match (the field must be present).
    AnythingBut(Vec<Cond>),
    Numeric(Range),
    /// `exists: true` matches any present leaf; `exists: false` is decided by the
    /// field's absence (see `matcher`), so it never matches a present value.
    Exists(bool),
    Cidr(Cidr),
}

/// A numeric interval; either end may be open (excluded) or missing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Range {
    pub low: Option<(f64, bool)>,
    pub high: Option<(f64, bool)>,
}

impl Range {
    fn contains(&self, x: f64) -> bool {
        let above = match self.low {
            None => true,
            Some((v, inclusive)) => x > v || (inclusive && x == v),
        };
        let below = match self.high {
            None => true,
            Some((v, inclusive)) => x < v || (inclusive && x == v),
        };
        above && below
    }
}

/// An address block: the network's bits and how many of them count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cidr {
    pub network: IpAddr,
    pub bits: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or an IPv6 block; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, bits) = text.split_once('/')?;
        let network: IpAddr = addr.parse().ok()?;
        if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || bits.len() > 3 {
            return None;
        }
        let bits: u8 = bits.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Cidr { network, bits })
    }

    fn contains(&self, text: &str) -> bool {
        let Ok(ip) = text.parse::<IpAddr>() else {
            return false;
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix_equal(&n.octets(), &a.octets(), usize::from(self.bits))
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                prefix_equal(&n.octets(), &a.octets(), usize::from(self.bits))
            }
            _ => false,
        }
    }
}

fn prefix_equal(a: &[u8], b: &[u8], bits: usize) -> bool {
    let whole = bits / 8;
    if a[..whole] != b[..whole] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[whole] & mask) == (b[whole] & mask)
}

/// Numbers are equal when their values are: exactly for integers (account ids do not
/// survive a trip through f64), by value otherwise.
pub(crate) fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

impl Cond {
    /// Whether this condition accepts one present, non-object value of the event.
    pub fn matches_leaf(&self, leaf: &Value) -> bool {
        match self {
            Cond::Exact(want) => match (want, leaf) {
                (Value::Number(a), Value::Number(b)) => numbers_equal(a, b),
                (a, b) => a == b,
            },
            Cond::Prefix { text, ignore_case } => leaf.as_str().is_some_and(|s| {
                if *ignore_case {
                    lower(s).starts_with(text.as_str())
                } else {
                    s.starts_with(text.as_str())
                }
            }),
            Cond::Suffix { text, ignore_case } => leaf.as_str().is_some_and(|s| {
                if *ignore_case {
                    lower(s).ends_with(text.as_str())
                } else {
                    s.ends_with(text.as_str())
                }
            }),
            Cond::EqualsIgnoreCase(text) => leaf.as_str().is_some_and(|s| lower(s) == *text),
            Cond::Wildcard(w) => leaf.as_str().is_some_and(|s| w.matches(s)),
            Cond::AnythingBut(inner) => !inner.iter().any(|c| c.matches_leaf(leaf)),
            Cond::Numeric(range) => leaf.as_f64().is_some_and(|x| range.contains(x)),
            Cond::Exists(present) => *present,
            Cond::Cidr(block) => leaf.as_str().is_some_and(|s| block.contains(s)),
        }
    }
}
