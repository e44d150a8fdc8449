//! Loading AWS configuration: the SDK's standard chain (environment, profiles, SSO, web
//! identity, `AWS_ENDPOINT_URL*`), with a rustls/ring HTTPS client and our timeouts. Loaded only
//! by commands that talk to AWS, so an offline run never touches it.
//!
//! What every AWS adapter (`store::s3`, `iam::aws`, `bootstrap::aws`, doctor) shares, one file
//! per concern: loading the configuration and building clients (here), what an SDK error means
//! ([`classify`], `classify.rs`), and IAM's URL-encoded policy documents
//! ([`decode_policy_document`], `policy_document.rs`).

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

mod classify;
mod policy_document;

pub use classify::{
    classify, describe_error, failure, is_code, missing_credentials, refused_web_identity, Failure,
    Kind, WEB_IDENTITY_REFUSED,
};
pub use policy_document::decode_policy_document;

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

/// A CloudFront client from the shared configuration (`AWS_ENDPOINT_URL_CLOUDFRONT` is
/// honoured). CloudFront is global: the SDK signs for us-east-1 whatever the region.
pub fn cloudfront_client(config: &SdkConfig) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(config)
}

/// An ACM client in us-east-1, whatever the shared configuration's region: CloudFront takes
/// its certificates from there only (`AWS_ENDPOINT_URL_ACM` is honoured).
pub fn acm_client(config: &SdkConfig) -> aws_sdk_acm::Client {
    let acm = aws_sdk_acm::config::Builder::from(config)
        .region(Region::new(crate::model::cloudfront::CERTIFICATE_REGION))
        .build();
    aws_sdk_acm::Client::from_conf(acm)
}

/// A Route 53 client from the shared configuration (`AWS_ENDPOINT_URL_ROUTE_53` is honoured).
pub fn route53_client(config: &SdkConfig) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(config)
}
