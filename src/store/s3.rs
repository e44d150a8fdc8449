//! The S3 `ObjectStore`. Objects live at `<prefix>/<key>`; each is written with
//! `Content-Type: application/json` and the configured `Cache-Control`, conditionally on the
//! version observed (`If-None-Match: *` to create, `If-Match: <ETag>` to replace), so two
//! publishers never lose each other's update. No ACL is ever set: public read comes from the
//! bucket policy (PROTOCOL.md §3).
//!
//! Endpoint, credentials and retries come from the AWS SDK's standard chain
//! (`AWS_ENDPOINT_URL_S3`, profiles, web identity…), configured in `crate::aws`.

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
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

    /// Maps an SDK error to its meaning. `action` is the IAM action the call needs. Errors
    /// the SDK retries (5xx, SlowDown, broken connections, timeouts) reach here only once its
    /// attempts are used up.
    fn classify<E>(
        &self,
        operation: &'static str,
        action: &'static str,
        key: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let location = self.location(key);
        let timed_out = match &err {
            SdkError::TimeoutError(_) => true,
            SdkError::DispatchFailure(e) => e.is_timeout(),
            _ => false,
        };
        if timed_out {
            return Error::Timeout {
                operation,
                location,
                seconds: self.timeout_secs,
            };
        }
        if let SdkError::DispatchFailure(e) = &err {
            // STS refusing the web identity token also arrives as a dispatch failure (the
            // credentials are resolved before sending), but it is not the network's fault.
            if !e.is_user() && crate::aws::refused_web_identity(&err).is_none() {
                return Error::Connection {
                    operation,
                    location,
                    detail: crate::aws::describe_error(&err),
                };
            }
        }
        let status = err.raw_response().map(|r| r.status().as_u16());
        let bucket_region = err
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_owned);
        if let (Some(301), Some(actual)) = (status, bucket_region) {
            return Error::WrongRegion {
                bucket: self.bucket.clone(),
                expected: self
                    .client
                    .config()
                    .region()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
                actual,
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
            code if is_unavailable(status, code) => Error::Unavailable {
                operation,
                location,
                answer: match status {
                    Some(status) => format!("{status} {}", crate::aws::describe_error(&err)),
                    None => crate::aws::describe_error(&err),
                },
            },
            _ => Error::Service {
                operation,
                location,
                detail: crate::aws::describe_error(&err),
            },
        }
    }
}

/// What HeadBucket says about a bucket, by meaning. S3 names the bucket's Region in the
/// `x-amz-bucket-region` header on a 200, on the 301 of a request sent to another Region's
/// endpoint, and on a 403 (so even credentials that may not list the bucket learn its Region).
/// One copy for `bootstrap` and `sync`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadBucket {
    /// 200: it exists and the caller may list it.
    Present { region: Option<String> },
    /// 404.
    Missing,
    /// 403: it exists, but belongs to another account or the caller lacks `s3:ListBucket`.
    Forbidden { region: Option<String> },
    /// 301: the request went to another Region's endpoint than the bucket's.
    InAnotherRegion { region: Option<String> },
}

/// HeadBucket; an answer other than those of [`HeadBucket`] is returned as the SDK's error.
pub async fn head_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<HeadBucket, SdkError<aws_sdk_s3::operation::head_bucket::HeadBucketError, HttpResponse>>
{
    match client.head_bucket().bucket(bucket).send().await {
        Ok(output) => Ok(HeadBucket::Present {
            region: output.bucket_region().map(str::to_owned),
        }),
        Err(err) => {
            let response = err.raw_response();
            let region = response
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_owned);
            // HeadBucket answers without a body, so only the status tells.
            match response.map(|r| r.status().as_u16()) {
                Some(404) => Ok(HeadBucket::Missing),
                Some(403) => Ok(HeadBucket::Forbidden { region }),
                Some(301) => Ok(HeadBucket::InAnotherRegion { region }),
                _ => Err(err),
            }
        }
    }
}

/// S3's answers for "busy or failing, try later": the statuses and codes the SDK's standard
/// retry mode treats as transient or throttling.
fn is_unavailable(status: Option<u16>, code: Option<&str>) -> bool {
    matches!(status, Some(500 | 502 | 503 | 504))
        || matches!(
            code,
            Some("InternalError" | "ServiceUnavailable" | "SlowDown" | "RequestTimeout")
        )
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

    /// One HeadBucket. The Region comes from `x-amz-bucket-region`, which S3 sends on a 200, a
    /// 301 and a 403 alike; `None` when the endpoint sends none (S3-compatible stores).
    async fn region(&self) -> Result<Option<String>, Error> {
        let bucket = || format!("s3://{}", self.bucket);
        match head_bucket(&self.client, &self.bucket).await {
            Ok(HeadBucket::Present { region }) | Ok(HeadBucket::InAnotherRegion { region }) => {
                Ok(region)
            }
            Ok(HeadBucket::Forbidden {
                region: Some(region),
            }) => Ok(Some(region)),
            Ok(HeadBucket::Forbidden { region: None }) => Err(Error::AccessDenied {
                action: "s3:ListBucket",
                location: bucket(),
            }),
            Ok(HeadBucket::Missing) => Err(Error::NoSuchBucket {
                bucket: self.bucket.clone(),
            }),
            Err(err) => Err(match self.classify("locating", "s3:ListBucket", "", err) {
                Error::Service { detail, .. } => Error::Service {
                    operation: "locating",
                    location: bucket(),
                    detail,
                },
                other => other,
            }),
        }
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

    async fn delete(&self, key: &str) -> Result<(), Error> {
        // S3 answers 204 for a missing key too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(|err| self.classify("deleting", "s3:DeleteObject", key, err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_smithy_types::body::SdkBody;

    fn store() -> S3Store {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build();
        S3Store::new(
            aws_sdk_s3::Client::from_conf(config),
            "oidc".into(),
            "c1".into(),
            10,
        )
    }

    fn answered(status: u16, code: &str, message: &str) -> SdkError<PutObjectError, HttpResponse> {
        let body = format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>");
        SdkError::service_error(
            PutObjectError::generic(ErrorMetadata::builder().code(code).message(message).build()),
            HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body)),
        )
    }

    fn classify(err: SdkError<PutObjectError, HttpResponse>) -> String {
        store()
            .classify("writing", "s3:PutObject", "openid/v1/jwks", err)
            .to_string()
    }

    // Regression: a 5xx or SlowDown that outlasted the SDK's retries was printed as the SDK's
    // whole Debug dump (raw headers, body bytes, type names), with no word on what to do.
    #[test]
    fn s3_busy_or_failing_names_the_answer_and_says_to_run_again_later() {
        for (status, code, message) in [
            (
                500,
                "InternalError",
                "We encountered an internal error. Please try again.",
            ),
            (
                503,
                "ServiceUnavailable",
                "Service is unable to handle request.",
            ),
            (503, "SlowDown", "Please reduce your request rate."),
        ] {
            let text = classify(answered(status, code, message));
            assert_eq!(
                text,
                format!("writing s3://oidc/c1/openid/v1/jwks failed: S3 answered {status} {code}: {message}, also on the SDK's retries; S3 is busy or failing: run sync again later (a CronJob's next run will)")
            );
        }
    }

    #[test]
    fn a_broken_connection_says_to_check_the_network_path() {
        let err = SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::other(
            "connection closed before message completed",
        ))));
        let text = classify(err);
        assert!(
            text.starts_with("writing s3://oidc/c1/openid/v1/jwks failed: dispatch failure")
                && text.contains("connection closed before message completed, also on the SDK's retries; check the network path"),
            "{text}"
        );
    }

    #[test]
    fn a_request_to_another_regions_endpoint_names_the_buckets_region() {
        let mut response = HttpResponse::new(301.try_into().unwrap(), SdkBody::from(""));
        response
            .headers_mut()
            .insert("x-amz-bucket-region", "eu-west-1");
        let err = SdkError::service_error(
            PutObjectError::generic(ErrorMetadata::builder().code("PermanentRedirect").build()),
            response,
        );
        let text = classify(err);
        assert!(text.contains("pass --region eu-west-1"), "{text}");
    }

    #[test]
    fn other_answers_keep_their_meaning() {
        assert!(classify(answered(412, "PreconditionFailed", "no")).contains("changed while"));
        assert!(classify(answered(403, "AccessDenied", "no"))
            .starts_with("access denied: s3:PutObject"));
        assert_eq!(
            classify(answered(400, "InvalidRequest", "bad header")),
            "writing s3://oidc/c1/openid/v1/jwks failed: InvalidRequest: bad header"
        );
    }
}
