//! S3-compatible buckets and objects.
//!
//! - [`rules`]: S3's pure rules (bucket names, key length, ETags, multipart part checks),
//!   with S3's documented values as their tests.
//! - [`listing`]: ListObjects / ListObjectsV2 paging (prefix, delimiter, common prefixes,
//!   markers) over keys in order.
//! - [`store`]: the storage: object bodies as files under `<data-dir>/objects/`, their
//!   metadata in `objects.db`; a body is written to a temp file, fsynced and renamed
//!   before its row is committed, so no object is ever half visible.
#![forbid(unsafe_code)]

pub mod error;
pub mod listing;
pub mod rules;
pub mod store;

pub use error::ObjectsError;
pub use listing::{ListPage, ListParams};
pub use store::{Bucket, ObjectInfo, ObjectMeta, ObjectStore, PartInfo, UploadInfo};
