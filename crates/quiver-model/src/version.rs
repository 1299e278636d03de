//! A stored function version: `$LATEST` (mutable) or a published number (frozen).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::function::FunctionConfig;

/// `$LATEST` or a published version number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Version {
    Latest,
    Published(u64),
}

impl Version {
    /// The integer the store sorts by: `$LATEST` first.
    pub fn ordinal(self) -> u64 {
        match self {
            Version::Latest => 0,
            Version::Published(n) => n,
        }
    }
    pub fn from_ordinal(n: u64) -> Self {
        if n == 0 {
            Version::Latest
        } else {
            Version::Published(n)
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Version::Latest => f.write_str("$LATEST"),
            Version::Published(n) => write!(f, "{n}"),
        }
    }
}

/// A code package, content-addressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    /// Hex SHA-256 of the zip: the blob's and the extracted tree's name on disk.
    pub sha256_hex: String,
    /// Base64 SHA-256: Lambda's `CodeSha256`.
    pub sha256_b64: String,
    /// Zip size in bytes: Lambda's `CodeSize`.
    pub size: u64,
}

/// One version of one function, exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionVersion {
    pub name: String,
    pub version: Version,
    pub config: FunctionConfig,
    pub code: CodeRef,
    pub revision_id: String,
    /// Lambda's string format, e.g. `2020-04-10T19:06:32.563+0000`.
    pub last_modified: String,
    /// Pending / update in progress / settled (see [`crate::lifecycle`]).
    pub lifecycle: crate::Lifecycle,
}

/// Formats a timestamp the way `FunctionConfiguration.LastModified` is written.
pub fn format_last_modified(t: OffsetDateTime) -> String {
    // Same fields as the ISO form, with Lambda's `+0000` instead of `Z`.
    let iso = format_iso_millis(t);
    format!("{}+0000", iso.trim_end_matches('Z'))
}

/// `2020-11-10T05:46:57.874Z`: UTC, always exactly three fraction digits (RFC 3339
/// formatting trims trailing zeros). Lambda uses it in timeout messages, invocation
/// records and log timestamps.
pub fn format_iso_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_modified_uses_lambdas_format() {
        let t = time::macros::datetime!(2020-04-10 19:06:32.563 UTC);
        assert_eq!(format_last_modified(t), "2020-04-10T19:06:32.563+0000");
        let t = time::macros::datetime!(2021-01-02 03:04:05.000_9 +02:00);
        assert_eq!(format_last_modified(t), "2021-01-02T01:04:05.000+0000");
    }

    #[test]
    fn versions_order_latest_first() {
        assert_eq!(Version::Latest.to_string(), "$LATEST");
        assert_eq!(Version::Published(3).to_string(), "3");
        assert_eq!(Version::from_ordinal(0), Version::Latest);
        assert!(Version::Latest < Version::Published(1));
    }
}
