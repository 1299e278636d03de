//! The checksums SQS returns: MD5 of the body, and MD5 of the message attributes in
//! SQS's documented encoding (names sorted; for each: length-prefixed name, length-prefixed
//! data type, a transport byte 1 = string / 2 = binary, length-prefixed value; lengths
//! are 4-byte big-endian). SDKs that verify them reject any other encoding.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use crate::model::{AttrValue, MessageAttribute};
use md5::{Digest, Md5};

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

fn put(h: &mut Md5, b: &[u8]) {
    h.update((b.len() as u32).to_be_bytes());
    h.update(b);
}

/// `None` when there are no attributes (SQS then omits the member). Owned or borrowed
/// attributes alike: the SQS API answers with it, and Lambda's SQS event carries it.
pub fn md5_of_attributes<A: Borrow<MessageAttribute>>(
    attrs: &BTreeMap<String, A>,
) -> Option<String> {
    if attrs.is_empty() {
        return None;
    }
    let mut h = Md5::new();
    // BTreeMap iterates in byte order of the names, which is SQS's sort order.
    for (name, a) in attrs {
        let a: &MessageAttribute = a.borrow();
        put(&mut h, name.as_bytes());
        put(&mut h, a.data_type.as_bytes());
        match &a.value {
            AttrValue::String(s) => {
                h.update([1u8]);
                put(&mut h, s.as_bytes());
            }
            AttrValue::Binary(b) => {
                h.update([2u8]);
                put(&mut h, b);
            }
        }
    }
    Some(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_and_attribute_digests() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(
            md5_of_attributes::<MessageAttribute>(&BTreeMap::new()),
            None
        );
        let mut a = BTreeMap::new();
        a.insert(
            "a".to_string(),
            MessageAttribute {
                data_type: "String".into(),
                value: AttrValue::String("b".into()),
            },
        );
        // Hand-built encoding of the same attribute.
        let mut raw = Vec::new();
        raw.extend_from_slice(&[0, 0, 0, 1, b'a', 0, 0, 0, 6]);
        raw.extend_from_slice(b"String");
        raw.extend_from_slice(&[1, 0, 0, 0, 1, b'b']);
        assert_eq!(md5_of_attributes(&a).unwrap(), md5_hex(&raw));
    }
}
