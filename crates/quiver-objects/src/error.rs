//! The one error type of the object store; each variant is one of S3's error codes
//! (the wire layer maps them by name).

/// Why an object-store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error("The specified bucket is not valid.")]
    InvalidBucketName,
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")]
    NoSuchUpload,
    #[error("One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")]
    InvalidPart,
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    #[error("You must specify at least one part")]
    MalformedXml,
    #[error("object store I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("object store metadata: {0}")]
    Json(#[from] serde_json::Error),
}
