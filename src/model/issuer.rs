//! The issuer URL: one string that must be byte-identical in the API server's
//! `--service-account-issuer`, the discovery document, every token's `iss` and the IAM OIDC
//! provider URL (PROTOCOL.md §1). This module validates it and derives the S3 default.

use std::fmt;

use super::{DISCOVERY_PATH, JWKS_PATH};

/// A validated issuer: `https://host[/path]`, no port, query, fragment or trailing slash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Issuer(String);

/// Why an issuer string cannot be used. Each message says what to do instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IssuerError {
    #[error("issuer {0:?} is not a URL ({1}); pass an https:// URL such as https://oidc.example.com/cluster-1")]
    NotUrl(String, String),
    #[error("issuer {0:?} must use https:// (STS fetches the documents only over HTTPS and IAM rejects other schemes); serve them over HTTPS and pass https://…")]
    NotHttps(String),
    #[error("issuer {issuer:?} has a port ({port}); IAM OIDC provider URLs cannot carry one: serve the documents on port 443 and pass {suggestion:?}")]
    Port {
        issuer: String,
        port: String,
        suggestion: String,
    },
    #[error("issuer {0:?} has a query string; IAM OIDC provider URLs cannot carry one: remove everything from '?'")]
    Query(String),
    #[error("issuer {0:?} has a fragment; remove everything from '#'")]
    Fragment(String),
    #[error(
        "issuer {issuer:?} has user information before the host; remove it and pass {suggestion:?}"
    )]
    UserInfo { issuer: String, suggestion: String },
    #[error("issuer {issuer:?} ends with a trailing slash; STS compares issuers byte for byte, so a trailing slash makes it a different issuer (\"No OpenIDConnect provider found\"): pass {suggestion:?}")]
    TrailingSlash { issuer: String, suggestion: String },
    #[error("issuer {issuer:?} is not in canonical form (URLs normalise it to {canonical:?}); tokens would carry one and IAM the other: pass {canonical:?} and set the same string as the API server's --service-account-issuer")]
    NotCanonical { issuer: String, canonical: String },
    #[error("bucket name {bucket:?} contains dots: its virtual-hosted URL https://{bucket}.s3.{region}.{suffix} does not match S3's wildcard TLS certificate, so STS could not fetch the documents; pass --issuer with an HTTPS URL that serves this bucket (for example a CloudFront distribution) or use a bucket name without dots")]
    BucketWithDots {
        bucket: String,
        region: String,
        suffix: String,
    },
    #[error("region {0:?} is not a valid AWS region name; pass --region such as eu-west-1")]
    BadRegion(String),
}

impl Issuer {
    /// Validates `raw` exactly as given: no normalisation is applied, because the same bytes
    /// must appear in tokens and in IAM.
    pub fn parse(raw: &str) -> Result<Issuer, IssuerError> {
        let url =
            url::Url::parse(raw).map_err(|e| IssuerError::NotUrl(raw.into(), e.to_string()))?;
        if url.scheme() != "https" || !raw.starts_with("https://") {
            return Err(IssuerError::NotHttps(raw.into()));
        }
        let authority = raw["https://".len()..]
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        if authority.contains('@') {
            let host = authority.rsplit('@').next().unwrap_or_default();
            return Err(IssuerError::UserInfo {
                issuer: raw.into(),
                suggestion: raw.replacen(authority, host, 1),
            });
        }
        // A port, even :443 (which URL parsers silently drop), is a different string for IAM.
        let host_part = authority.rsplit(']').next().unwrap_or(authority);
        if let Some((_, port)) = host_part.split_once(':') {
            let host = &authority[..authority.len() - port.len() - 1];
            return Err(IssuerError::Port {
                issuer: raw.into(),
                port: port.into(),
                suggestion: raw.replacen(authority, host, 1),
            });
        }
        if raw.contains('?') {
            return Err(IssuerError::Query(raw.into()));
        }
        if raw.contains('#') {
            return Err(IssuerError::Fragment(raw.into()));
        }
        if raw.ends_with('/') {
            return Err(IssuerError::TrailingSlash {
                issuer: raw.into(),
                suggestion: raw.trim_end_matches('/').into(),
            });
        }
        let canonical = url.as_str();
        let canonical = if url.path() == "/" {
            canonical.trim_end_matches('/')
        } else {
            canonical
        };
        if canonical != raw || url.host_str().is_none_or(str::is_empty) {
            return Err(IssuerError::NotCanonical {
                issuer: raw.into(),
                canonical: canonical.into(),
            });
        }
        Ok(Issuer(raw.to_owned()))
    }

    /// The default issuer of an S3 store: the bucket's virtual-hosted, regional URL
    /// (`https://BUCKET.s3.REGION.<partition dns suffix>[/PREFIX]`, PROTOCOL.md §3).
    pub fn for_s3_bucket(bucket: &str, region: &str, prefix: &str) -> Result<Issuer, IssuerError> {
        if !is_region_name(region) {
            return Err(IssuerError::BadRegion(region.into()));
        }
        let suffix = dns_suffix(region);
        if bucket.contains('.') {
            return Err(IssuerError::BucketWithDots {
                bucket: bucket.into(),
                region: region.into(),
                suffix: suffix.into(),
            });
        }
        let mut url = format!("https://{bucket}.s3.{region}.{suffix}");
        if !prefix.is_empty() {
            url.push('/');
            url.push_str(prefix);
        }
        Issuer::parse(&url)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host name, as STS connects to it.
    pub fn host(&self) -> &str {
        let rest = &self.0["https://".len()..];
        rest.split('/').next().unwrap_or(rest)
    }

    /// The IAM OIDC provider URL: the issuer without `https://`.
    pub fn provider_url(&self) -> &str {
        &self.0["https://".len()..]
    }

    /// `<issuer>/openid/v1/jwks`, the `jwks_uri` this tool publishes.
    pub fn jwks_uri(&self) -> String {
        format!("{}/{JWKS_PATH}", self.0)
    }

    /// `<issuer>/.well-known/openid-configuration`, where STS starts.
    pub fn discovery_url(&self) -> String {
        format!("{}/{DISCOVERY_PATH}", self.0)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why STS, fetching from the public internet, could not read documents published under the
/// issuer `raw`, if it could not: a URL IAM refuses, an IP literal, `localhost`, or a name that
/// resolves only inside a cluster or a private network (`kubernetes.default.svc`,
/// `*.cluster.local`, a single label…). Messages never suggest publishing such an issuer.
pub fn unfetchable_by_sts(raw: &str) -> Option<&'static str> {
    let Ok(issuer) = Issuer::parse(raw) else {
        return Some(
            "it is not an https:// URL without port, query or trailing slash, which IAM requires",
        );
    };
    let host = issuer.host();
    if host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("its host is an IP address, which has no publicly trusted certificate");
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Some("its host is localhost");
    }
    if !host.contains('.') {
        return Some("its host is a single-label name that resolves only inside a network");
    }
    const INTERNAL: [&str; 6] = [
        ".svc",
        ".local",
        ".internal",
        ".localdomain",
        ".home.arpa",
        ".lan",
    ];
    if INTERNAL.iter().any(|suffix| host.ends_with(suffix)) {
        return Some(
            "its host is a cluster-internal or private name that does not resolve on the internet",
        );
    }
    None
}

/// The shape of every AWS Region name: a two-letter area, lowercase words, a number
/// (`eu-west-1`, `us-gov-west-1`, `eu-isoe-west-1`). It refuses `eu-west1` or `EU West`, which
/// would otherwise become an issuer URL that no STS can fetch.
fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [area, words @ .., number] = &parts[..] else {
        return false;
    };
    area.len() == 2
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The AWS partition a region belongs to, as it appears in ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else {
        "aws"
    }
}

/// The DNS suffix of the AWS partition a region belongs to.
pub fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("eu-isoe-") {
        "cloud.adc-e.uk"
    } else if region.starts_with("us-isof-") {
        "csp.hci.ic.gov"
    } else {
        "amazonaws.com"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_host_and_path() {
        let i = Issuer::parse("https://oidc.example.test/cluster-a").unwrap();
        assert_eq!(i.host(), "oidc.example.test");
        assert_eq!(i.provider_url(), "oidc.example.test/cluster-a");
        assert_eq!(
            i.jwks_uri(),
            "https://oidc.example.test/cluster-a/openid/v1/jwks"
        );
        assert_eq!(
            i.discovery_url(),
            "https://oidc.example.test/cluster-a/.well-known/openid-configuration"
        );
        assert_eq!(
            Issuer::parse("https://oidc.example.test").unwrap().host(),
            "oidc.example.test"
        );
    }

    #[test]
    fn rejects_what_iam_or_sts_reject() {
        use IssuerError::*;
        let err = |s: &str| Issuer::parse(s).unwrap_err();
        assert!(matches!(err("http://oidc.example.test/c1"), NotHttps(_)));
        assert!(matches!(err("oidc.example.test/c1"), NotUrl(..)));
        match err("https://oidc.example.test:8443/c1") {
            Port {
                port, suggestion, ..
            } => {
                assert_eq!(port, "8443");
                assert_eq!(suggestion, "https://oidc.example.test/c1");
            }
            other => panic!("{other:?}"),
        }
        // :443 is dropped by URL parsers but IAM still sees a different string.
        assert!(matches!(err("https://oidc.example.test:443"), Port { .. }));
        assert!(matches!(err("https://oidc.example.test/c1?x=1"), Query(_)));
        assert!(matches!(err("https://oidc.example.test/c1#x"), Fragment(_)));
        match err("https://oidc.example.test/c1/") {
            TrailingSlash { suggestion, .. } => {
                assert_eq!(suggestion, "https://oidc.example.test/c1")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            err("https://oidc.example.test/"),
            TrailingSlash { .. }
        ));
        assert!(matches!(
            err("https://u:p@oidc.example.test/c1"),
            UserInfo { .. }
        ));
        assert!(matches!(
            err("https://OIDC.example.test/c1"),
            NotCanonical { .. }
        ));
        assert!(matches!(
            err("https://oidc.example.test/a b"),
            NotCanonical { .. }
        ));
    }

    #[test]
    fn s3_default_issuer_is_virtual_hosted_and_partition_aware() {
        let i = Issuer::for_s3_bucket("my-oidc", "eu-west-1", "c1").unwrap();
        assert_eq!(i.as_str(), "https://my-oidc.s3.eu-west-1.amazonaws.com/c1");
        let i = Issuer::for_s3_bucket("my-oidc", "cn-north-1", "").unwrap();
        assert_eq!(i.as_str(), "https://my-oidc.s3.cn-north-1.amazonaws.com.cn");
        let i = Issuer::for_s3_bucket("b", "us-gov-west-1", "a/b").unwrap();
        assert_eq!(i.as_str(), "https://b.s3.us-gov-west-1.amazonaws.com/a/b");
    }

    #[test]
    fn issuers_sts_cannot_fetch_are_recognised() {
        for raw in [
            "https://kubernetes.default.svc",
            "https://kubernetes.default.svc.cluster.local",
            "https://api.internal/c1",
            "https://localhost/c1",
            "https://10.0.0.1",
            "https://[fd00::1]/c1",
            "https://kubernetes",
            "http://oidc.example.com",
            "https://oidc.example.com:6443",
        ] {
            assert!(unfetchable_by_sts(raw).is_some(), "{raw}");
        }
        for raw in [
            "https://oidc.example.com/c1",
            "https://my-oidc.s3.eu-west-1.amazonaws.com/prod-1",
            "https://d111111abcdef8.cloudfront.net",
        ] {
            assert_eq!(unfetchable_by_sts(raw), None, "{raw}");
        }
    }

    #[test]
    fn partitions_follow_the_region() {
        for (region, partition) in [
            ("eu-west-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
        ] {
            assert_eq!(super::partition(region), partition, "{region}");
        }
    }

    #[test]
    fn bucket_with_dots_cannot_back_an_issuer() {
        let e = Issuer::for_s3_bucket("oidc.example.com", "eu-west-1", "c1").unwrap_err();
        assert!(matches!(e, IssuerError::BucketWithDots { .. }));
        assert!(e.to_string().contains("--issuer"), "{e}");
        for region in [
            "EU West", "eu-west1", "euwest-1", "eu--1", "eu-west-", "e-west-1", "",
        ] {
            assert!(
                matches!(
                    Issuer::for_s3_bucket("b", region, "").unwrap_err(),
                    IssuerError::BadRegion(_)
                ),
                "{region:?}"
            );
        }
        for region in [
            "us-east-1",
            "us-gov-west-1",
            "eu-isoe-west-1",
            "ap-southeast-5",
        ] {
            assert!(Issuer::for_s3_bucket("b", region, "").is_ok(), "{region}");
        }
    }
}
