//! `doctor`'s flags turned into a validated configuration, without I/O. The issuer itself is
//! deliberately *not* validated here: a malformed issuer is the first finding, not a usage
//! error, because it is exactly what doctor is asked to diagnose.

use std::path::PathBuf;
use std::time::Duration;

use super::facts::ServiceAccountRef;
use crate::cli::{DoctorArgs, OutputFormat};
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
    pub output: OutputFormat,
    /// For the API server and AWS; the anonymous GETs keep STS's own budget.
    pub timeout: Duration,
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
}

impl DoctorConfig {
    pub fn from_args(args: &DoctorArgs) -> Result<DoctorConfig, DoctorConfigError> {
        let store = args.store.as_deref().map(Location::parse).transpose()?;
        let issuer = match (&args.issuer, &store) {
            (Some(raw), _) if raw.is_empty() => return Err(DoctorConfigError::EmptyIssuer),
            (Some(raw), _) => IssuerSource::Given(raw.clone()),
            (None, Some(Location::S3 { .. })) => IssuerSource::FromBucket,
            (None, Some(Location::Dir(_))) => {
                return Err(DoctorConfigError::DirectoryNeedsIssuer(
                    args.store.clone().unwrap_or_default(),
                ))
            }
            (None, None) => unreachable!("clap requires --issuer or --store"),
        };
        let service_account = args
            .service_account
            .as_deref()
            .map(parse_service_account)
            .transpose()?;
        if args.audience.is_empty() || args.audience.chars().count() > 255 {
            return Err(DoctorConfigError::Audience(args.audience.clone()));
        }
        let role_arn = args.role_arn.as_deref().map(RoleArn::parse).transpose()?;
        let connect_to = args
            .connect_to
            .iter()
            .map(|raw| {
                raw.parse::<ConnectTo>()
                    .map_err(DoctorConfigError::ConnectTo)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DoctorConfig {
            issuer,
            store,
            token_file: args.token.clone(),
            service_account,
            audience: args.audience.clone(),
            role_arn,
            ca_files: args.ca_files.clone(),
            connect_to,
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            region: args.region.clone(),
            s3_path_style: args.s3_path_style,
            output: args.output,
            timeout: Duration::from_secs(args.timeout),
        })
    }
}

/// `NAMESPACE/NAME`, each a Kubernetes name (no wildcards: doctor checks one ServiceAccount).
fn parse_service_account(raw: &str) -> Result<ServiceAccountRef, DoctorConfigError> {
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
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<DoctorConfig, DoctorConfigError> {
        let mut argv = vec!["kube-oidc-publisher", "doctor"];
        argv.extend_from_slice(args);
        let Command::Doctor(doctor) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!("argv starts with `doctor`")
        };
        DoctorConfig::from_args(&doctor)
    }

    #[test]
    fn issuer_or_store_is_required_and_the_issuer_is_kept_as_given() {
        let argv = ["kube-oidc-publisher", "doctor"];
        assert!(Cli::try_parse_from(argv).is_err());
        let c = parse(&["--issuer", "https://oidc.example.test/c1/"]).unwrap();
        assert_eq!(
            c.issuer,
            IssuerSource::Given("https://oidc.example.test/c1/".into()),
            "a trailing slash is a finding, not a usage error"
        );
        assert_eq!(c.audience, "sts.amazonaws.com");
        assert_eq!(c.timeout, Duration::from_secs(10));
        let c = parse(&["--store", "s3://acme-oidc/c1"]).unwrap();
        assert_eq!(c.issuer, IssuerSource::FromBucket);
        assert_eq!(
            parse(&["--store", "./public"]).unwrap_err(),
            DoctorConfigError::DirectoryNeedsIssuer("./public".into())
        );
    }

    #[test]
    fn service_account_is_namespace_slash_name() {
        let c = parse(&[
            "--issuer",
            "https://o.example/c1",
            "--service-account",
            "shop/api",
        ])
        .unwrap();
        let sa = c.service_account.unwrap();
        assert_eq!(sa.subject(), "system:serviceaccount:shop:api");
        for bad in ["shop", "shop/", "/api", "Shop/api", "shop/a*", "sh.op/api"] {
            assert!(
                matches!(
                    parse(&["--issuer", "https://o.example/c1", "--service-account", bad]),
                    Err(DoctorConfigError::ServiceAccount(_))
                ),
                "{bad}"
            );
        }
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

    #[test]
    fn connect_to_and_timeout_are_validated() {
        let c = parse(&[
            "--issuer",
            "https://o.example/c1",
            "--connect-to",
            "o.example:443:127.0.0.1:8443",
        ])
        .unwrap();
        assert_eq!(c.connect_to[0].to_port, 8443);
        assert!(matches!(
            parse(&["--issuer", "https://o.example/c1", "--connect-to", "x"]),
            Err(DoctorConfigError::ConnectTo(_))
        ));
        let argv = [
            "kube-oidc-publisher",
            "doctor",
            "--issuer",
            "https://o.example",
            "--timeout",
            "0",
        ];
        assert!(Cli::try_parse_from(argv).is_err());
    }
}
