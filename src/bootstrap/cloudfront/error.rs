//! Why `bootstrap --hosting cloudfront` refuses, before anything is created; every message
//! says what to do next.

use crate::model::cloudfront::CERTIFICATE_REGION;
use crate::plan::MANAGED_BY_TAG;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloudFrontError {
    #[error("certificate {arn} is in region {region:?}; CloudFront takes certificates only from ACM in {CERTIFICATE_REGION}. Nothing was created. Request or import the certificate in {CERTIFICATE_REGION} (`aws acm request-certificate --region {CERTIFICATE_REGION} --domain-name NAME --validation-method DNS`) and pass its ARN to --certificate-arn")]
    CertificateRegion { arn: String, region: String },
    #[error("certificate {arn} was not found in ACM ({CERTIFICATE_REGION}). Nothing was created. Check the ARN (`aws acm list-certificates --region {CERTIFICATE_REGION}`) and pass it to --certificate-arn")]
    CertificateNotFound { arn: String },
    #[error("certificate {arn} is {status}, not ISSUED: CloudFront cannot serve it. Nothing was created. Finish its validation (`aws acm describe-certificate --region {CERTIFICATE_REGION} --certificate-arn {arn}` shows the DNS record ACM waits for), or pass an issued certificate; then run bootstrap again")]
    CertificateNotIssued { arn: String, status: String },
    #[error("certificate {arn} does not cover {name} (it names {}; a wildcard covers exactly one label). Nothing was created. Pass a certificate for {name} to --certificate-arn, or the --domain it was issued for", .names.join(", "))]
    CertificateDoesNotCover {
        arn: String,
        name: String,
        names: Vec<String>,
    },
    #[error("{} with origin {origin} (bucket {bucket}) {} not tagged {MANAGED_BY_TAG}: another tool or person may own {}. Nothing was created or changed. {}", distributions(.ids), if .ids.len() == 1 { "is" } else { "are" }, if .ids.len() == 1 { "it" } else { "them" }, if *.adoptable { "Pass --adopt to let bootstrap set it up for the documents and tag it as its own (its other settings are kept; later runs find it by the tag, without --adopt), or serve the documents from another --bucket" } else { "Remove all but one of them, or serve the documents from another --bucket" })]
    UnmanagedDistribution {
        bucket: String,
        origin: String,
        ids: Vec<String>,
        adoptable: bool,
    },
    #[error("{} for bucket {bucket} are tagged {MANAGED_BY_TAG}; bootstrap keeps one per bucket and cannot tell which to use. Nothing was changed. Disable and delete the ones no issuer uses (`aws cloudfront get-distribution --id ID` shows their aliases), then run bootstrap again", distributions(.ids))]
    SeveralDistributions { bucket: String, ids: Vec<String> },
    #[error("origin access control {id} is named {name} as kube-oidc-publisher names its own, but it is set to {config}, not origin type s3, signing always sigv4. Nothing was changed. Delete it (`aws cloudfront delete-origin-access-control --id {id}`, once no distribution uses it) or give it another name; then run bootstrap again")]
    OriginAccessControlNotUsable {
        id: String,
        name: String,
        config: String,
    },
    #[error("hosted zone {zone_id} was not found in Route 53. The distribution is set up; no record was created for {name}. Pass the id of {name}'s public zone (`aws route53 list-hosted-zones-by-name --dns-name {name}`) to --hosted-zone-id, or leave it out and create the record yourself; then run bootstrap again")]
    ZoneNotFound { zone_id: String, name: String },
    #[error("hosted zone {zone_id} ({zone_name}{}) cannot hold a record STS resolves for {name}. The distribution is set up; no record was created. Pass the id of the public zone {name} is in (`aws route53 list-hosted-zones-by-name --dns-name {name}`) to --hosted-zone-id, then run bootstrap again", if *.private { ", private" } else { "" })]
    ZoneNotParent {
        zone_id: String,
        zone_name: String,
        name: String,
        private: bool,
    },
}

fn distributions(ids: &[String]) -> String {
    match ids {
        [one] => format!("distribution {one}"),
        many => format!("distributions {}", many.join(", ")),
    }
}
