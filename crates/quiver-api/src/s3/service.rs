//! Quiver's storage behind s3s's `S3` trait: wire values in, [`quiver_objects`] calls,
//! wire values out. Bodies stream to temp files (never whole in memory); the store's
//! errors become S3's codes here and nowhere else.
use std::sync::Arc;

use futures_util::StreamExt;
use md5::{Digest, Md5};
use quiver_objects::{ListParams, ObjectMeta, ObjectStore, ObjectsError};
use s3s::dto::*;
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, S3};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// The object store as an s3s service.
#[derive(Clone)]
pub struct QuiverS3 {
    store: Arc<ObjectStore>,
}

impl QuiverS3 {
    pub fn new(store: Arc<ObjectStore>) -> Self {
        Self { store }
    }
}

fn s3_err(e: ObjectsError) -> S3Error {
    let code = match &e {
        ObjectsError::InvalidBucketName => S3ErrorCode::InvalidBucketName,
        ObjectsError::NoSuchBucket => S3ErrorCode::NoSuchBucket,
        ObjectsError::BucketAlreadyOwnedByYou => S3ErrorCode::BucketAlreadyOwnedByYou,
        ObjectsError::BucketNotEmpty => S3ErrorCode::BucketNotEmpty,
        ObjectsError::NoSuchKey => S3ErrorCode::NoSuchKey,
        ObjectsError::KeyTooLong => S3ErrorCode::KeyTooLongError,
        ObjectsError::NoSuchUpload => S3ErrorCode::NoSuchUpload,
        ObjectsError::InvalidPart => S3ErrorCode::InvalidPart,
        ObjectsError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
        ObjectsError::EntityTooSmall => S3ErrorCode::EntityTooSmall,
        ObjectsError::MalformedXml => S3ErrorCode::MalformedXML,
        ObjectsError::Io(_) | ObjectsError::Db(_) | ObjectsError::Json(_) => {
            tracing::error!(error = %e, "object store failure");
            S3ErrorCode::InternalError
        }
    };
    S3Error::with_message(code, e.to_string())
}

fn blocking_err(e: tokio::task::JoinError) -> S3Error {
    s3_error!(InternalError, "{e}")
}

fn ts(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // HTTP dates have second precision; conditional requests compare at that precision.
    Timestamp::from(t.replace_nanosecond(0).unwrap_or(t))
}

fn etag(s: &str) -> ETag {
    ETag::Strong(s.to_string())
}

/// A body received into a fsynced temp file: its size and MD5.
struct Received {
    path: std::path::PathBuf,
    size: u64,
    md5: Vec<u8>,
}

/// Streams a body to a temp file, checks Content-MD5 (`BadDigest`) and the declared
/// length (`IncompleteBody`), and fsyncs it. On error the temp file is removed.
async fn receive(
    store: &ObjectStore,
    body: Option<StreamingBlob>,
    content_md5: Option<&str>,
    expected: Option<i64>,
) -> S3Result<Received> {
    let path = store.temp_path();
    let r = receive_into(&path, body, content_md5, expected).await;
    if r.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
    }
    r.map(|(size, md5)| Received { path, size, md5 })
}

async fn receive_into(
    path: &std::path::Path,
    body: Option<StreamingBlob>,
    content_md5: Option<&str>,
    expected: Option<i64>,
) -> S3Result<(u64, Vec<u8>)> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| s3_error!(InternalError, "{e}"))?;
    let mut h = Md5::new();
    let mut size = 0u64;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
            h.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| s3_error!(InternalError, "{e}"))?;
        }
    }
    if let Some(n) = expected {
        if n >= 0 && size != n as u64 {
            return Err(s3_error!(IncompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header."));
        }
    }
    let md5 = h.finalize().to_vec();
    if let Some(want) = content_md5 {
        use base64::Engine;
        let ok = base64::engine::general_purpose::STANDARD
            .decode(want)
            .ok()
            .is_some_and(|w| w == md5);
        if !ok {
            return Err(s3_error!(
                BadDigest,
                "The Content-MD5 you specified did not match what we received."
            ));
        }
    }
    file.sync_all()
        .await
        .map_err(|e| s3_error!(InternalError, "{e}"))?;
    Ok((size, md5))
}

fn meta_of(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    metadata: Option<Metadata>,
) -> ObjectMeta {
    ObjectMeta {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        user: metadata
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
    }
}

/// If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since, in S3's order of
/// precedence (RFC 7232 §6): a failed If-Match or If-Unmodified-Since is 412; a matched
/// If-None-Match or an unmodified If-Modified-Since is 304.
fn check_conditions(
    info: &quiver_objects::ObjectInfo,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let ours = etag(&info.etag);
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(t) => t.value() == ours.value(),
    };
    let modified = time::OffsetDateTime::from(ts(info.last_modified_ms));
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    } else if let Some(t) = if_unmodified_since {
        if modified > time::OffsetDateTime::from(t.clone()) {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(S3Error::new(S3ErrorCode::NotModified));
        }
    } else if let Some(t) = if_modified_since {
        if modified <= time::OffsetDateTime::from(t.clone()) {
            return Err(S3Error::new(S3ErrorCode::NotModified));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl S3 for QuiverS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = req.input.bucket;
        self.store.create_bucket(&name).map_err(s3_err)?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.store.head_bucket(&req.input.bucket).map_err(s3_err)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.store
            .delete_bucket(&req.input.bucket)
            .map_err(s3_err)?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self.store.list_buckets().map_err(s3_err)?;
        let buckets = buckets
            .into_iter()
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(ts(b.created_ms)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.store.head_bucket(&req.input.bucket).map_err(s3_err)?;
        // us-east-1 answers an empty LocationConstraint, as S3 does.
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let i = req.input;
        quiver_objects::rules::validate_key(&i.key).map_err(s3_err)?;
        self.store.head_bucket(&i.bucket).map_err(s3_err)?;
        let got = receive(
            &self.store,
            i.body,
            i.content_md5.as_deref(),
            i.content_length,
        )
        .await?;
        let meta = meta_of(
            i.content_type,
            i.content_encoding,
            i.content_disposition,
            i.content_language,
            i.cache_control,
            i.metadata,
        );
        let tag = quiver_objects::rules::etag(&got.md5);
        let store = self.store.clone();
        let (bucket, key) = (i.bucket, i.key);
        let t = tag.clone();
        tokio::task::spawn_blocking(move || {
            store.commit_object(&bucket, &key, &got.path, got.size, &t, &meta)
        })
        .await
        .map_err(blocking_err)?
        .map_err(s3_err)?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&tag)),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let i = req.input;
        let info = self.store.get_object(&i.bucket, &i.key).map_err(s3_err)?;
        check_conditions(
            &info,
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        )?;
        let mut file = tokio::fs::File::open(&info.path)
            .await
            .map_err(|e| s3_error!(InternalError, "{e}"))?;
        let (start, len, content_range) = match &i.range {
            Some(r) => {
                let span = r.check(info.size).map_err(|_| {
                    s3_error!(InvalidRange, "The requested range is not satisfiable")
                })?;
                let cr = format!(
                    "bytes {}-{}/{}",
                    span.start,
                    span.end.saturating_sub(1),
                    info.size
                );
                (span.start, span.end - span.start, Some(cr))
            }
            None => (0, info.size, None),
        };
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| s3_error!(InternalError, "{e}"))?;
        let reader = tokio::io::AsyncReadExt::take(file, len);
        let stream = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024);
        let m = info.meta;
        let out = GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some(len as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(ts(info.last_modified_ms)),
            content_type: i
                .response_content_type
                .or(m.content_type)
                .or_else(|| Some("binary/octet-stream".into())),
            content_encoding: i.response_content_encoding.or(m.content_encoding),
            content_disposition: i.response_content_disposition.or(m.content_disposition),
            content_language: i.response_content_language.or(m.content_language),
            cache_control: i.response_cache_control.or(m.cache_control),
            metadata: (!m.user.is_empty()).then(|| m.user.into_iter().collect()),
            ..Default::default()
        };
        Ok(S3Response::new(out))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = req.input;
        let info = self.store.get_object(&i.bucket, &i.key).map_err(s3_err)?;
        check_conditions(
            &info,
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        )?;
        let m = info.meta;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(info.size as i64),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(ts(info.last_modified_ms)),
            content_type: m
                .content_type
                .or_else(|| Some("binary/octet-stream".into())),
            content_encoding: m.content_encoding,
            content_disposition: m.content_disposition,
            content_language: m.content_language,
            cache_control: m.cache_control,
            metadata: (!m.user.is_empty()).then(|| m.user.into_iter().collect()),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.store
            .delete_object(&req.input.bucket, &req.input.key)
            .map_err(s3_err)?;
        Ok(S3Response::with_status(
            DeleteObjectOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let i = req.input;
        let max_keys = i.max_keys.unwrap_or(1000).clamp(0, 1000);
        let token = match &i.continuation_token {
            Some(t) => Some(
                String::from_utf8(hex::decode(t).map_err(|_| {
                    s3_error!(
                        InvalidArgument,
                        "The continuation token provided is incorrect"
                    )
                })?)
                .map_err(|_| {
                    s3_error!(
                        InvalidArgument,
                        "The continuation token provided is incorrect"
                    )
                })?,
            ),
            None => None,
        };
        let p = ListParams {
            prefix: i.prefix.clone().unwrap_or_default(),
            delimiter: i.delimiter.clone(),
            after: token.or_else(|| i.start_after.clone()),
            max_keys: max_keys as usize,
        };
        let page = self.store.list_objects(&i.bucket, &p).map_err(s3_err)?;
        let key_count = (page.contents.len() + page.common_prefixes.len()) as i32;
        let contents = page
            .contents
            .into_iter()
            .map(|(k, o)| Object {
                key: Some(k),
                size: Some(o.size as i64),
                e_tag: Some(etag(&o.etag)),
                last_modified: Some(ts(o.last_modified_ms)),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                ..Default::default()
            })
            .collect();
        let common_prefixes = page
            .common_prefixes
            .into_iter()
            .map(|p| CommonPrefix { prefix: Some(p) })
            .collect();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: i.prefix,
            delimiter: i.delimiter,
            max_keys: Some(max_keys),
            key_count: Some(key_count),
            is_truncated: Some(page.truncated),
            continuation_token: i.continuation_token,
            next_continuation_token: page.next_marker.map(hex::encode),
            start_after: i.start_after,
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let i = req.input;
        let meta = meta_of(
            i.content_type,
            i.content_encoding,
            i.content_disposition,
            i.content_language,
            i.cache_control,
            i.metadata,
        );
        let id = self
            .store
            .create_upload(&i.bucket, &i.key, &meta)
            .map_err(s3_err)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let i = req.input;
        if !(1..=quiver_objects::rules::MAX_PART_NUMBER).contains(&i.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        self.store
            .list_parts(&i.bucket, &i.key, &i.upload_id)
            .map_err(s3_err)?;
        let got = receive(
            &self.store,
            i.body,
            i.content_md5.as_deref(),
            i.content_length,
        )
        .await?;
        let store = self.store.clone();
        let md5 = got.md5.clone();
        tokio::task::spawn_blocking(move || {
            store.commit_part(
                &i.bucket,
                &i.key,
                &i.upload_id,
                i.part_number,
                &got.path,
                got.size,
                &got.md5,
            )
        })
        .await
        .map_err(blocking_err)?
        .map_err(s3_err)?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&hex::encode(md5))),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = req.input;
        let parts = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        let listed: Vec<(i32, String)> = parts
            .into_iter()
            .map(|p| {
                (
                    p.part_number.unwrap_or(0),
                    p.e_tag.map(|t| t.value().to_string()).unwrap_or_default(),
                )
            })
            .collect();
        let store = self.store.clone();
        let (bucket, key, id) = (i.bucket.clone(), i.key.clone(), i.upload_id);
        let info =
            tokio::task::spawn_blocking(move || store.complete_upload(&bucket, &key, &id, &listed))
                .await
                .map_err(blocking_err)?
                .map_err(s3_err)?;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            location: Some(format!("/{}/{}", i.bucket, i.key)),
            bucket: Some(i.bucket),
            key: Some(i.key),
            e_tag: Some(etag(&info.etag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        self.store
            .abort_upload(&i.bucket, &i.key, &i.upload_id)
            .map_err(s3_err)?;
        Ok(S3Response::with_status(
            AbortMultipartUploadOutput::default(),
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let parts = self
            .store
            .list_parts(&i.bucket, &i.key, &i.upload_id)
            .map_err(s3_err)?;
        let parts = parts
            .into_iter()
            .map(|p| Part {
                part_number: Some(p.number),
                size: Some(p.size as i64),
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.last_modified_ms)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(i.upload_id),
            parts: Some(parts),
            is_truncated: Some(false),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        let ups = self.store.list_uploads(&i.bucket).map_err(s3_err)?;
        let uploads = ups
            .into_iter()
            .map(|u| MultipartUpload {
                key: Some(u.key),
                upload_id: Some(u.upload_id),
                initiated: Some(ts(u.initiated_ms)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            uploads: Some(uploads),
            is_truncated: Some(false),
            ..Default::default()
        }))
    }
}
