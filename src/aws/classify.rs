//! What a failed AWS call means, for every adapter: [`classify`] sorts an SDK error into a
//! [`Kind`] (no credentials, credentials refused, denied, not found, throttled, transient, ...),
//! by the service's error code, and [`describe_error`] says it in one line people can act on.
//! Each adapter turns a kind into its own error, naming the action and the resource. Which
//! "not found" answer means "not configured" (`NoSuchBucketPolicy` for GetBucketPolicy, ...)
//! stays with the call that knows ([`is_code`]).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// What a failed AWS call means, whatever the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No credentials at all: nothing in the provider chain.
    NoCredentials,
    /// Credentials that were refused: unknown, expired, or a bad signature.
    BadCredentials,
    /// The credentials are not allowed the action (or a 403 without an error code).
    Denied,
    /// The entity does not exist (`NoSuchEntity`, `NoSuchBucket`).
    NotFound,
    /// The entity exists already (`EntityAlreadyExists`).
    AlreadyExists,
    /// A quota is reached (`LimitExceeded`).
    LimitExceeded,
    /// The service asks callers to slow down.
    Throttled,
    /// A passing failure another attempt may get past: `ConcurrentModification`,
    /// `ServiceFailure`.
    Transient,
    /// The request was refused as malformed (a policy document, an argument, a name).
    Invalid,
    /// Anything else; [`describe_error`] says what.
    Other,
}

impl Kind {
    /// Whether another attempt, after a pause, may succeed.
    pub fn retryable(self) -> bool {
        matches!(self, Kind::Throttled | Kind::Transient)
    }
}

/// The [`Kind`] of an SDK error: missing credentials first, then the service's error code.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Kind
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if missing_credentials(err) {
        return Kind::NoCredentials;
    }
    match err.code() {
        Some(
            "InvalidAccessKeyId"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "TokenRefreshRequired",
        ) => Kind::BadCredentials,
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "AllAccessDisabled"
            | "UnauthorizedOperation",
        ) => Kind::Denied,
        None if err.raw_response().map(|r| r.status().as_u16()) == Some(403) => Kind::Denied,
        Some(
            "NoSuchEntity"
            | "NoSuchEntityException"
            | "NoSuchBucket"
            // CloudFront, ACM, Route 53.
            | "NoSuchDistribution"
            | "NoSuchInvalidation"
            | "NoSuchOriginAccessControl"
            | "ResourceNotFoundException"
            | "NoSuchHostedZone",
        ) => Kind::NotFound,
        Some(
            "EntityAlreadyExists"
            | "EntityAlreadyExistsException"
            // CloudFront: another distribution has the alias; an OAC of that name exists; a
            // caller reference reused with other paths.
            | "CNAMEAlreadyExists"
            | "OriginAccessControlAlreadyExists"
            | "InvalidationBatchAlreadyExists",
        ) => Kind::AlreadyExists,
        Some("LimitExceeded" | "LimitExceededException") => Kind::LimitExceeded,
        Some(
            "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException",
        ) => Kind::Throttled,
        Some(
            "ConcurrentModification"
            | "ConcurrentModificationException"
            | "ServiceFailure"
            | "ServiceFailureException",
        ) => Kind::Transient,
        Some(
            "MalformedPolicy"
            | "MalformedPolicyDocument"
            | "MalformedPolicyDocumentException"
            | "InvalidInput"
            | "InvalidInputException"
            | "ValidationError"
            | "ValidationException"
            | "InvalidRequest"
            | "InvalidArgument"
            | "InvalidBucketName"
            | "InvalidLocationConstraint"
            | "IllegalLocationConstraintException",
        ) => Kind::Invalid,
        _ => Kind::Other,
    }
}

/// A failed call, classified and described: what an adapter needs to build its own error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    /// [`describe_error`]'s line.
    pub detail: String,
    /// The service's own message when it gave one, else `detail`: for "invalid" answers, where
    /// the message says what is wrong.
    pub message: String,
}

/// [`classify`] and [`describe_error`] of one error.
pub fn failure<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = describe_error(err);
    Failure {
        kind: classify(err),
        message: err.message().unwrap_or(&detail).to_owned(),
        detail,
    }
}

/// Whether the service answered with one of these error codes.
pub fn is_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, codes: &[&str]) -> bool {
    err.code().is_some_and(|code| codes.contains(&code))
}

/// One line about an SDK error, for messages people read: the service's code and message when
/// it answered, else the chain of causes (`dispatch failure: …: connection closed before message
/// completed`). `DisplayErrorContext` adds the `Debug` form of the raw response (headers, body
/// bytes, type names), which buries the part people can act on.
pub fn describe_error<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_s3::error::ProvideErrorMetadata as _;
    if let Some(answer) = refused_web_identity(err) {
        return format!("{WEB_IDENTITY_REFUSED}: {answer}");
    }
    if let Some(code) = err.code() {
        return match err.message() {
            Some(message) => format!("{code}: {message}"),
            None => code.to_owned(),
        };
    }
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// How [`describe_error`] starts when STS refused the web identity token the credentials
/// provider presented; `publish::lockout` looks for it to check for a lock-out.
pub const WEB_IDENTITY_REFUSED: &str =
    "STS refused the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE) in exchange for AWS credentials";

/// STS's answer (`InvalidIdentityToken: <message>`) when the credentials provider's
/// AssumeRoleWithWebIdentity was refused because STS could not verify the token, the error
/// behind any S3/IAM call made with web identity credentials (AWS_ROLE_ARN +
/// AWS_WEB_IDENTITY_TOKEN_FILE). Found by walking the causes to STS's own typed error, so a
/// store or IAM answer that merely mentions the code does not count.
pub fn refused_web_identity<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> Option<String>
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_sts::error::ProvideErrorMetadata as _;
    use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(sts) = cause.downcast_ref::<AssumeRoleWithWebIdentityError>() {
            if !sts.is_invalid_identity_token_exception() {
                return None;
            }
            let code = sts.code().unwrap_or("InvalidIdentityToken");
            return Some(match sts.message() {
                Some(message) => format!("{code}: {message}"),
                None => code.to_owned(),
            });
        }
        source = cause.source();
    }
    None
}

/// Whether an SDK error means "there are no credentials" (nothing in the provider chain), as
/// opposed to credentials that were refused (those come back as service error codes).
pub fn missing_credentials<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_types::error::display::DisplayErrorContext;
    if matches!(err, aws_sdk_s3::error::SdkError::DispatchFailure(e) if e.is_user()) {
        return true;
    }
    let detail = DisplayErrorContext(err).to_string();
    detail.contains("no credentials") || detail.contains("credentials provider was not enabled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_smithy_types::body::SdkBody;

    #[test]
    fn describe_error_gives_the_code_and_message_without_the_raw_response() {
        let err: SdkError<PutObjectError, HttpResponse> = SdkError::service_error(
            PutObjectError::generic(
                ErrorMetadata::builder()
                    .code("SlowDown")
                    .message("Please reduce your request rate.")
                    .build(),
            ),
            HttpResponse::new(
                503.try_into().unwrap(),
                SdkBody::from("<Error><Code>SlowDown</Code></Error>"),
            ),
        );
        assert_eq!(
            describe_error(&err),
            "SlowDown: Please reduce your request rate."
        );
    }

    #[test]
    fn sts_refusing_the_web_identity_token_is_recognised_behind_the_credentials_error() {
        use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
        use aws_sdk_sts::types::error::InvalidIdentityTokenException;
        let message = "Couldn't retrieve verification key from your identity provider";
        let sts: SdkError<AssumeRoleWithWebIdentityError, HttpResponse> = SdkError::service_error(
            AssumeRoleWithWebIdentityError::InvalidIdentityTokenException(
                InvalidIdentityTokenException::builder()
                    .message(message)
                    .meta(
                        ErrorMetadata::builder()
                            .code("InvalidIdentityToken")
                            .message(message)
                            .build(),
                    )
                    .build(),
            ),
            HttpResponse::new(400.try_into().unwrap(), SdkBody::empty()),
        );
        let err: SdkError<PutObjectError, HttpResponse> = SdkError::dispatch_failure(
            aws_sdk_s3::error::ConnectorError::other(Box::new(sts), None),
        );
        let answer = format!("InvalidIdentityToken: {message}");
        assert_eq!(refused_web_identity(&err).as_deref(), Some(answer.as_str()));
        assert_eq!(
            describe_error(&err),
            format!("{WEB_IDENTITY_REFUSED}: {answer}")
        );
        // Any other dispatch failure is not.
        let other: SdkError<PutObjectError, HttpResponse> =
            SdkError::dispatch_failure(aws_sdk_s3::error::ConnectorError::io(Box::new(
                std::io::Error::other("InvalidIdentityToken in a message"),
            )));
        assert_eq!(refused_web_identity(&other), None);
    }

    #[test]
    fn describe_error_without_an_answer_gives_the_causes() {
        let err: SdkError<PutObjectError, HttpResponse> =
            SdkError::dispatch_failure(aws_sdk_s3::error::ConnectorError::io(Box::new(
                std::io::Error::other("connection closed before message completed"),
            )));
        let text = describe_error(&err);
        assert!(
            text.starts_with("dispatch failure")
                && text.ends_with("connection closed before message completed"),
            "{text}"
        );
        assert!(!text.contains("DispatchFailure("), "no Debug form: {text}");
    }
}
