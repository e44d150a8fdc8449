//! `doctor`'s validated configuration and the rules for its values, without I/O; `config`
//! builds it from the flags. The issuer itself is deliberately *not* validated: a malformed
//! issuer is the first finding, not a usage error, because it is exactly what doctor is asked
//! to diagnose.

use std::path::PathBuf;
use std::time::Duration;

use super::facts::ServiceAccountRef;
use crate::store::{Location, LocationError};
use crate::tls::ConnectTo;

/// Where the issuer comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerSource {
    /// `--issuer`, exactly as given.
    Given(String),
    /// The default issuer of an S3 `--store`, once the region is known.
    FromBucket,
}

/// `arn:<partition>:iam::<account>:role/[<path>/]<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleArn {
    pub arn: String,
    pub partition: String,
    pub account: String,
    /// The role name (the last path segment), what GetRole takes.
    pub name: String,
}

impl RoleArn {
    pub fn parse(raw: &str) -> Result<RoleArn, DoctorConfigError> {
        let bad = || DoctorConfigError::RoleArn(raw.to_owned());
        let rest = raw.strip_prefix("arn:").ok_or_else(bad)?;
        let (partition, rest) = rest.split_once(":iam::").ok_or_else(bad)?;
        let (account, resource) = rest.split_once(":role/").ok_or_else(bad)?;
        let name = resource.rsplit('/').next().unwrap_or_default();
        let partition_ok = partition == "aws"
            || partition.strip_prefix("aws-").is_some_and(|p| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            });
        if !partition_ok
            || account.len() != 12
            || !account.bytes().all(|b| b.is_ascii_digit())
            || name.is_empty()
            || name.len() > 64
        {
            return Err(bad());
        }
        Ok(RoleArn {
            arn: raw.to_owned(),
            partition: partition.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// The validated flags.
#[derive(Clone, Debug)]
pub struct DoctorConfig {
    pub issuer: IssuerSource,
    pub store: Option<Location>,
    pub token_file: Option<PathBuf>,
    pub service_account: Option<ServiceAccountRef>,
    pub audience: String,
    pub role_arn: Option<RoleArn>,
    pub ca_files: Vec<PathBuf>,
    pub connect_to: Vec<ConnectTo>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub region: Option<String>,
    pub s3_path_style: bool,
    /// `--cloudfront-distribution`.
    pub cloudfront_distribution: Option<String>,
    /// `--hosted-zone-id`, without a `/hostedzone/` prefix.
    pub hosted_zone_id: Option<String>,
    /// For the API server and AWS; the anonymous GETs keep STS's own budget.
    pub timeout: Duration,
    /// `--token-lifetime`: during a migration, how long tokens of the old issuer live after
    /// the switch.
    pub token_lifetime: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DoctorConfigError {
    #[error("--store")]
    Store(#[from] LocationError),
    #[error("--store {0:?} is a directory, which has no default issuer; pass --issuer with the URL the directory is served at")]
    DirectoryNeedsIssuer(String),
    #[error("--issuer is empty; pass the issuer URL exactly as the API server's first --service-account-issuer")]
    EmptyIssuer,
    #[error(
        "--service-account {0:?} is not NAMESPACE/NAME (for example --service-account shop/api)"
    )]
    ServiceAccount(String),
    #[error("--role-arn {0:?} is not an IAM role ARN; pass it as arn:aws:iam::123456789012:role/NAME (`aws iam get-role --role-name NAME --query Role.Arn`)")]
    RoleArn(String),
    #[error("--audience {0:?} is not a valid client ID: IAM accepts 1 to 255 characters")]
    Audience(String),
    #[error("{0}")]
    ConnectTo(String),
    #[error("--token-lifetime {0:?} is not a duration; write it like 24h or 90m")]
    TokenLifetime(String),
    #[error("--cloudfront-distribution {0:?} is not a distribution id; pass the Id CloudFront reports (for example E2ABCDEF123456: `aws cloudfront list-distributions --query 'DistributionList.Items[].[Id,DomainName]'`)")]
    DistributionId(String),
    #[error("--hosted-zone-id {0:?} is not a Route 53 hosted zone id; pass it as Z0123456789ABC (`aws route53 list-hosted-zones-by-name --dns-name NAME`)")]
    HostedZoneId(String),
}

/// A CloudFront distribution id: upper-case letters and digits.
pub fn parse_distribution_id(raw: &str) -> Result<String, DoctorConfigError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    ok.then(|| raw.to_owned())
        .ok_or_else(|| DoctorConfigError::DistributionId(raw.to_owned()))
}

/// A Route 53 hosted zone id, `Z…` or `/hostedzone/Z…` as the API prints it.
pub fn parse_hosted_zone_id(raw: &str) -> Result<String, DoctorConfigError> {
    let id = raw.strip_prefix("/hostedzone/").unwrap_or(raw);
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    ok.then(|| id.to_owned())
        .ok_or_else(|| DoctorConfigError::HostedZoneId(raw.to_owned()))
}

/// `NAMESPACE/NAME`, each a Kubernetes name (no wildcards: doctor checks one ServiceAccount).
pub fn parse_service_account(raw: &str) -> Result<ServiceAccountRef, DoctorConfigError> {
    let bad = || DoctorConfigError::ServiceAccount(raw.to_owned());
    let (namespace, name) = raw.split_once('/').ok_or_else(bad)?;
    let valid = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if !valid(namespace, 63) || namespace.contains('.') || !valid(name, 253) {
        return Err(bad());
    }
    Ok(ServiceAccountRef {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_and_zone_ids_are_checked() {
        assert_eq!(
            parse_distribution_id("E2ABCDEF123456").unwrap(),
            "E2ABCDEF123456"
        );
        assert!(parse_distribution_id("e2abc").is_err());
        assert!(parse_distribution_id("").is_err());
        assert_eq!(
            parse_hosted_zone_id("/hostedzone/Z0123ABC").unwrap(),
            "Z0123ABC"
        );
        assert_eq!(parse_hosted_zone_id("Z0123ABC").unwrap(), "Z0123ABC");
        assert!(parse_hosted_zone_id("zone.example.com").is_err());
    }

    #[test]
    fn role_arn_is_parsed_for_its_partition_account_and_name() {
        let r = RoleArn::parse("arn:aws-cn:iam::123456789012:role/team/app-reader").unwrap();
        assert_eq!(r.partition, "aws-cn");
        assert_eq!(r.account, "123456789012");
        assert_eq!(r.name, "app-reader");
        for bad in [
            "app-reader",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:AWS:iam::123456789012:role/x",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
    }
}
