//! Loading AWS configuration: the SDK's standard chain (environment, profiles, SSO, web
//! identity, `AWS_ENDPOINT_URL*`), with a rustls/ring HTTPS client and our timeouts. Loaded only
//! by commands that talk to AWS, so an offline run never touches it.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// Loads the shared configuration. `region` overrides the chain's region.
pub async fn load(region: Option<&str>, timeout: Duration) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout * 3)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(timeouts);
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    loader.load().await
}

/// An S3 client from the shared configuration; `path_style` for endpoints such as MinIO.
pub fn s3_client(config: &SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// An IAM client from the shared configuration (`AWS_ENDPOINT_URL_IAM` is honoured).
pub fn iam_client(config: &SdkConfig) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(config)
}

/// An STS client from the shared configuration (`AWS_ENDPOINT_URL_STS` is honoured).
pub fn sts_client(config: &SdkConfig) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(config)
}

/// An S3 Control client from the shared configuration. S3 Control requests go to
/// `<account id>.<endpoint host>`; `AWS_ENDPOINT_URL_S3_CONTROL` overrides the endpoint.
pub fn s3control_client(config: &SdkConfig) -> aws_sdk_s3control::Client {
    aws_sdk_s3control::Client::new(config)
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

/// IAM answers policy documents (GetRole, GetRolePolicy) URL-encoded (RFC 3986); decode them
/// once. Text that already parses as JSON, or would not decode to UTF-8, is returned as it is.
pub fn decode_policy_document(text: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(text).is_ok() {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_or_else(|_| text.to_owned(), |decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_documents_are_url_decoded_unless_already_json() {
        let json = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(decode_policy_document(json), json);
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(decode_policy_document(encoded), json);
        // A stray '%' is kept as it is.
        assert_eq!(decode_policy_document("100%"), "100%");
    }

    #[test]
    fn policy_documents_are_url_decoded_once() {
        assert_eq!(decode_policy_document("{\"a\":1}"), "{\"a\":1}");
        assert_eq!(
            decode_policy_document("%7B%22Version%22%3A%222012-10-17%22%7D"),
            "{\"Version\":\"2012-10-17\"}"
        );
        assert_eq!(decode_policy_document("100%"), "100%");
        assert_eq!(decode_policy_document("%7"), "%7");
    }
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::{ErrorMetadata, SdkError};
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
