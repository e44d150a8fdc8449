//! `ObjectStore`: where the documents are published. The store's location is the issuer root:
//! keys are relative to it (`openid/v1/jwks`, `.well-known/openid-configuration`).
//!
//! Semantics callers rely on:
//! - `get` returns `Ok(None)` only when the object does not exist; a missing bucket is an
//!   error, never "empty". A missing directory root whose parent exists is "empty" (the first
//!   write creates it, like `mkdir`); a missing parent is an error.
//! - `put` is conditional: with [`Precondition::IfNoneMatch`] it fails with
//!   [`Error::PreconditionFailed`] if the object exists; with [`Precondition::IfMatch`] if the
//!   object is no longer the observed version. A failed `put` leaves the object as it was.
//! - Stores never decide about dry runs: `reconcile` simply does not call `put`.

use async_trait::async_trait;

use crate::plan::{ObjectMeta, ObservedObject, Precondition};

pub mod dir;
pub mod memory;
pub mod s3;

/// What went wrong in a store, by meaning. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bucket {bucket:?} does not exist (or is in another partition); create it first (`kube-oidc-publisher bootstrap` will, or `aws s3api create-bucket`), or fix --store")]
    NoSuchBucket { bucket: String },
    #[error("access denied: {action} on {location}; grant the credentials in use (see `aws sts get-caller-identity`) {action} on this resource, for example with the publisher policy in templates/{}", if *.action == "s3:GetObject" { " (S3 also answers 403 instead of 404 for a missing object when s3:ListBucket on the bucket is not granted)" } else { "" })]
    AccessDenied {
        action: &'static str,
        location: String,
    },
    #[error("bucket {bucket:?} is in region {actual}, not {expected}; pass --region {actual} (the default issuer names the bucket's region, and STS could not fetch documents published under another one)")]
    WrongRegion {
        bucket: String,
        expected: String,
        actual: String,
    },
    #[error("{location} changed while this run was writing it (another publisher?)")]
    PreconditionFailed { location: String },
    #[error("{operation} {location} timed out ({seconds} s per attempt, up to 3 attempts); check the network path to the store, or raise --timeout")]
    Timeout {
        operation: &'static str,
        location: String,
        seconds: u64,
    },
    #[error("{operation} {location} failed: S3 answered {answer}, also on the SDK's retries; S3 is busy or failing: run sync again later (a CronJob's next run will)")]
    Unavailable {
        operation: &'static str,
        location: String,
        answer: String,
    },
    #[error("{operation} {location} failed: {detail}, also on the SDK's retries; check the network path to the store (and AWS_ENDPOINT_URL, if set), then run sync again")]
    Connection {
        operation: &'static str,
        location: String,
        detail: String,
    },
    #[error("{operation} {location} failed: {detail}")]
    Service {
        operation: &'static str,
        location: String,
        detail: String,
    },
    /// The directory store's root cannot be used (missing parent, dangling link, a file).
    #[error("the directory store {root} {problem}")]
    DirRoot { root: String, problem: String },
    #[error("{operation} {location} failed: {error}")]
    Io {
        operation: &'static str,
        location: String,
        error: std::io::Error,
    },
}

/// The effect trait for publishing.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Where the store is, as the user gave it (`s3://bucket/prefix`, `/srv/oidc`).
    fn describe(&self) -> String;

    /// Where one key lives, for messages (`s3://bucket/prefix/openid/v1/jwks`).
    fn location(&self, key: &str) -> String;

    /// The Region the store reports itself in (S3: HeadBucket's `x-amz-bucket-region`);
    /// `None` for a store that has none or does not say. One request at most.
    async fn region(&self) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// Reads one object, body and metadata, or `None` if it does not exist.
    async fn get(&self, key: &str) -> Result<Option<ObservedObject>, Error>;

    /// Writes one object if `precondition` still holds.
    async fn put(
        &self,
        key: &str,
        body: &[u8],
        meta: &ObjectMeta,
        precondition: &Precondition,
    ) -> Result<(), Error>;

    /// Deletes one object; a missing one counts as deleted. Only `issuer finish` deletes (the
    /// old issuer's documents and state, once no token of it can still be in use).
    async fn delete(&self, key: &str) -> Result<(), Error>;
}

/// Where documents go, parsed from `--store` with no I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    S3 { bucket: String, prefix: String },
    Dir(std::path::PathBuf),
}

/// Why `--store` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocationError {
    #[error("--store is empty; pass s3://BUCKET[/PREFIX] or a directory")]
    Empty,
    #[error("--store {0:?} has no bucket name; pass s3://BUCKET[/PREFIX]")]
    NoBucket(String),
    #[error("bucket name {0:?} is not valid: S3 bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit")]
    BadBucket(String),
    #[error(transparent)]
    BadPrefix(#[from] crate::model::prefix::PrefixError),
    #[error("--store {0:?} uses a scheme this tool does not publish to; pass s3://BUCKET[/PREFIX], file://DIR or a directory path")]
    UnknownScheme(String),
}

impl Location {
    pub fn parse(raw: &str) -> Result<Location, LocationError> {
        if raw.is_empty() {
            return Err(LocationError::Empty);
        }
        if let Some(rest) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(LocationError::NoBucket(raw.into()));
            }
            let valid = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                })
                && bucket.as_bytes()[0].is_ascii_alphanumeric()
                && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric()
                && !bucket.contains("..");
            if !valid {
                return Err(LocationError::BadBucket(bucket.into()));
            }
            let prefix = prefix.trim_matches('/');
            crate::model::prefix::check(prefix)?;
            return Ok(Location::S3 {
                bucket: bucket.into(),
                prefix: prefix.into(),
            });
        }
        if let Some(path) = raw.strip_prefix("file://") {
            if path.is_empty() {
                return Err(LocationError::Empty);
            }
            return Ok(Location::Dir(path.into()));
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            if !scheme.contains('/') {
                return Err(LocationError::UnknownScheme(raw.into()));
            }
        }
        Ok(Location::Dir(raw.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_store_form() {
        assert_eq!(
            Location::parse("s3://my-oidc").unwrap(),
            Location::S3 {
                bucket: "my-oidc".into(),
                prefix: "".into()
            }
        );
        assert_eq!(
            Location::parse("s3://my-oidc/c1/").unwrap(),
            Location::S3 {
                bucket: "my-oidc".into(),
                prefix: "c1".into()
            }
        );
        assert_eq!(
            Location::parse("s3://b0b/a/b").unwrap(),
            Location::S3 {
                bucket: "b0b".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            Location::parse("./public").unwrap(),
            Location::Dir("./public".into())
        );
        assert_eq!(
            Location::parse("file:///srv/oidc").unwrap(),
            Location::Dir("/srv/oidc".into())
        );
    }

    #[test]
    fn rejects_bad_stores() {
        assert_eq!(Location::parse(""), Err(LocationError::Empty));
        assert_eq!(
            Location::parse("s3://"),
            Err(LocationError::NoBucket("s3://".into()))
        );
        assert!(matches!(
            Location::parse("s3://My_Bucket"),
            Err(LocationError::BadBucket(_))
        ));
        assert!(matches!(
            Location::parse("s3://ab"),
            Err(LocationError::BadBucket(_))
        ));
        assert!(matches!(
            Location::parse("s3://bucket/a//b"),
            Err(LocationError::BadPrefix(_))
        ));
        assert!(matches!(
            Location::parse("s3://bucket/../x"),
            Err(LocationError::BadPrefix(_))
        ));
        assert!(matches!(
            Location::parse("gs://bucket"),
            Err(LocationError::UnknownScheme(_))
        ));
    }
}
