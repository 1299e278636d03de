//! S3's pure naming and integrity rules, each cited from S3's documentation.
use md5::{Digest, Md5};

use crate::ObjectsError;

/// Longest object key S3 accepts, in UTF-8 bytes ("Object key names", S3 User Guide).
pub const MAX_KEY_BYTES: usize = 1024;
/// Smallest part of a multipart upload other than the last (S3's multipart limits: 5 MiB).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Part numbers run from 1 to 10,000 (S3's multipart limits).
pub const MAX_PART_NUMBER: i32 = 10_000;

/// General purpose bucket naming rules ("Bucket naming rules", S3 User Guide): 3–63
/// characters of lowercase letters, digits, dots and hyphens; a letter or digit first and
/// last; no two adjacent dots; not an IP address; not the reserved prefixes and suffixes.
pub fn validate_bucket_name(name: &str) -> Result<(), ObjectsError> {
    let b = name.as_bytes();
    let ok_char = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-';
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let reserved_prefix = ["xn--", "sthree-", "amzn-s3-demo-"];
    let reserved_suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    let valid = (3..=63).contains(&b.len())
        && b.iter().all(ok_char)
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !reserved_prefix.iter().any(|p| name.starts_with(p))
        && !reserved_suffix.iter().any(|s| name.ends_with(s));
    if valid {
        Ok(())
    } else {
        Err(ObjectsError::InvalidBucketName)
    }
}

/// A key is 1 to 1024 bytes of UTF-8 (longer: `KeyTooLongError`).
pub fn validate_key(key: &str) -> Result<(), ObjectsError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(ObjectsError::KeyTooLong);
    }
    Ok(())
}

/// A single-part object's ETag: the hex MD5 of its body.
pub fn etag(md5: &[u8]) -> String {
    hex::encode(md5)
}

/// A multipart object's ETag: the MD5 of the concatenated binary MD5s of its parts,
/// then `-<number of parts>` (what S3 returns and clients such as the AWS CLI expect).
pub fn multipart_etag(part_md5s: &[Vec<u8>]) -> String {
    let mut h = Md5::new();
    for m in part_md5s {
        h.update(m);
    }
    format!("{}-{}", hex::encode(h.finalize()), part_md5s.len())
}

/// The checks of CompleteMultipartUpload over the listed parts, in the order given: part
/// numbers strictly ascending (`InvalidPartOrder`), and every part but the last at least
/// 5 MiB (`EntityTooSmall`). `sizes` are the stored sizes of the listed parts.
pub fn check_part_list(numbers: &[i32], sizes: &[u64]) -> Result<(), ObjectsError> {
    if numbers.is_empty() {
        return Err(ObjectsError::MalformedXml);
    }
    if numbers.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ObjectsError::InvalidPartOrder);
    }
    if let Some((_, init)) = sizes.split_last() {
        if init.iter().any(|s| *s < MIN_PART_SIZE) {
            return Err(ObjectsError::EntityTooSmall);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_from_s3_docs() {
        // "Example general purpose bucket names" (S3 User Guide).
        for good in [
            "docexamplebucket1",
            "log-delivery-march-2020",
            "my-hosted-content",
            "docexamplewebsite.com",
            "www.docexamplewebsite.com",
            "my.example.s3.bucket",
            "abc",
        ] {
            assert!(validate_bucket_name(good).is_ok(), "{good}");
        }
        // "The following example bucket names are not valid".
        for bad in [
            "doc_example_bucket",
            "DocExampleBucket",
            "doc-example-bucket-",
            "ab",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "sthree-x",
            "abc-s3alias",
            ".abc",
            &"a".repeat(64),
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_up_to_1024_bytes() {
        assert!(validate_key(&"k".repeat(1024)).is_ok());
        assert!(matches!(
            validate_key(&"k".repeat(1025)),
            Err(ObjectsError::KeyTooLong)
        ));
        // Bytes, not characters: 512 two-byte characters are 1024 bytes.
        assert!(validate_key(&"é".repeat(512)).is_ok());
        assert!(validate_key(&"é".repeat(513)).is_err());
    }

    #[test]
    fn etags() {
        // The MD5 of the empty body: S3's ETag of an empty object.
        assert_eq!(etag(&Md5::digest(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        let a = Md5::digest(b"a").to_vec();
        let b = Md5::digest(b"b").to_vec();
        let mut both = a.clone();
        both.extend_from_slice(&b);
        assert_eq!(
            multipart_etag(&[a, b]),
            format!("{}-2", hex::encode(Md5::digest(&both)))
        );
    }

    #[test]
    fn part_lists() {
        let mib5 = MIN_PART_SIZE;
        assert!(check_part_list(&[1, 2, 3], &[mib5, mib5, 1]).is_ok());
        assert!(check_part_list(&[1], &[1]).is_ok());
        assert!(matches!(
            check_part_list(&[2, 1], &[mib5, mib5]),
            Err(ObjectsError::InvalidPartOrder)
        ));
        assert!(matches!(
            check_part_list(&[1, 1], &[mib5, mib5]),
            Err(ObjectsError::InvalidPartOrder)
        ));
        assert!(matches!(
            check_part_list(&[1, 2], &[mib5 - 1, 1]),
            Err(ObjectsError::EntityTooSmall)
        ));
        assert!(matches!(
            check_part_list(&[], &[]),
            Err(ObjectsError::MalformedXml)
        ));
    }
}
