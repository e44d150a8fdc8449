//! The S3 `ObjectStore`. Objects live at `<prefix>/<key>`; each is written with
//! `Content-Type: application/json` and the configured `Cache-Control`, conditionally on the
//! version observed (`If-None-Match: *` to create, `If-Match: <ETag>` to replace), so two
//! publishers never lose each other's update. No ACL is ever set: public read comes from the
//! bucket policy (PROTOCOL.md §3).
//!
//! Endpoint, credentials and retries come from the AWS SDK's standard chain
//! (`AWS_ENDPOINT_URL_S3`, profiles, web identity…), configured in `crate::aws`.

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::{Error, ObjectStore};
use crate::plan::{ObjectMeta, ObservedObject, Precondition};

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    timeout_secs: u64,
}

impl S3Store {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
        timeout_secs: u64,
    ) -> S3Store {
        S3Store {
            client,
            bucket,
            prefix,
            timeout_secs,
        }
    }

    fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// Maps an SDK error to its meaning. `action` is the IAM action the call needs.
    fn classify<E, R>(
        &self,
        operation: &'static str,
        action: &'static str,
        key: &str,
        err: SdkError<E, R>,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let location = self.location(key);
        if matches!(err, SdkError::TimeoutError(_)) {
            return Error::Timeout {
                operation,
                location,
                seconds: self.timeout_secs,
            };
        }
        match err.code() {
            Some("NoSuchBucket") => Error::NoSuchBucket {
                bucket: self.bucket.clone(),
            },
            Some("AccessDenied")
            | Some("AllAccessDisabled")
            | Some("InvalidAccessKeyId")
            | Some("SignatureDoesNotMatch") => Error::AccessDenied { action, location },
            Some("PreconditionFailed") | Some("ConditionalRequestConflict") => {
                Error::PreconditionFailed { location }
            }
            // If-Match on an object someone deleted meanwhile.
            Some("NoSuchKey") if operation == "writing" => Error::PreconditionFailed { location },
            _ => Error::Service {
                operation,
                location,
                detail: DisplayErrorContext(&err).to_string(),
            },
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.object_key(key))
    }

    async fn get(&self, key: &str) -> Result<Option<ObservedObject>, Error> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key));
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None)
            }
            Err(err) => return Err(self.classify("reading", "s3:GetObject", key, err)),
        };
        let meta = ObjectMeta {
            content_type: response.content_type().unwrap_or_default().to_owned(),
            cache_control: response.cache_control().unwrap_or_default().to_owned(),
        };
        let etag = response.e_tag().map(str::to_owned);
        let body = response.body.collect().await.map_err(|e| Error::Service {
            operation: "reading",
            location: self.location(key),
            detail: DisplayErrorContext(&e).to_string(),
        })?;
        Ok(Some(ObservedObject {
            body: body.into_bytes().to_vec(),
            etag,
            meta: Some(meta),
        }))
    }

    async fn put(
        &self,
        key: &str,
        body: &[u8],
        meta: &ObjectMeta,
        precondition: &Precondition,
    ) -> Result<(), Error> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .content_type(&meta.content_type)
            .cache_control(&meta.cache_control)
            .body(ByteStream::from(body.to_vec()));
        request = match precondition {
            Precondition::IfNoneMatch => request.if_none_match("*"),
            Precondition::IfMatch(etag) => request.if_match(etag),
            Precondition::None => request,
        };
        request
            .send()
            .await
            .map_err(|err| self.classify("writing", "s3:PutObject", key, err))?;
        Ok(())
    }
}
