//! The IAM and S3 policies this tool renders: a role trust policy for one ServiceAccount, the
//! one public-read statement of the bucket policy, the publisher's and the operator's
//! least-privilege policies. The documents themselves live in `templates/*.json` (embedded with
//! `include_str!`) with `${NAME}` placeholders in string values and object keys; this module
//! parses a template with serde_json and substitutes inside the parsed strings, so a value is
//! always escaped and can never change the document's structure. It validates every value
//! first (names, ARNs, and no IAM wildcard or policy variable sneaking into a resource), and it
//! merges our statement into an existing bucket policy without touching anyone else's.
//! Pure: no I/O, no clock.
//!
//! One file per idea: [`template`] renders a template, [`names`] validates every value that goes
//! into a policy (and builds the provider ARN), [`trust`] the role trust policy (one statement
//! per trusted provider), [`trust_length`] its length against IAM's quota, [`bucket`] our
//! bucket-policy statement and its merge into the owner's policy, [`role`] the publisher's and
//! the operator's policies. This module holds what they share: the constants and
//! [`PolicyError`], and re-exports what callers use.

mod bucket;
mod cloudfront;
mod names;
mod role;
mod template;
mod trust;
mod trust_length;

pub use bucket::{
    bucket_policy_statement, merge_bucket_policy, policy_bytes, remove_from_bucket_policy,
    BucketPolicyRemoval, BUCKET_POLICY_MAX_BYTES,
};
pub use cloudfront::{
    cloudfront_bucket_statement, cloudfront_statement_not_ours_because,
    CLOUDFRONT_SERVICE_PRINCIPAL,
};
pub(crate) use names::check_partition;
pub use names::{check_role_name, provider_arn};
pub use role::{operator_policy, publisher_role_policy, publisher_role_policy_with_distribution};
pub use template::{
    render, Template, BUCKET_POLICY_CLOUDFRONT_STATEMENT, BUCKET_POLICY_STATEMENT, OPERATOR_POLICY,
    PUBLISHER_ROLE_POLICY, TEMPLATES, TRUST_POLICY,
};
pub use trust::{
    check_subject, trust_policy, trust_policy_for_providers, TrustPolicy, TrustedProvider,
};
pub use trust_length::{
    check_trust_policy_length, policy_characters, TRUST_POLICY_DEFAULT_QUOTA,
    TRUST_POLICY_MAX_QUOTA,
};

/// The partition of a region, as it appears in ARNs (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub use super::issuer::partition;

/// The audience IRSA tokens carry, and the IAM provider's default client ID.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// `Sid` of the bucket-policy statement this tool owns; every other statement is left alone.
pub const BUCKET_POLICY_SID: &str = "KubeOidcPublisherPublicRead";

/// `Sid` of the bucket-policy statement of `--hosting cloudfront`: the CloudFront service
/// principal reads the documents on behalf of one distribution ([`cloudfront_bucket_statement`]).
pub const CLOUDFRONT_STATEMENT_SID: &str = "KubeOidcPublisherCloudFrontRead";

/// `Version` of the documents this tool writes.
pub const POLICY_VERSION: &str = "2012-10-17";

/// Why a policy cannot be rendered. Each message says what to pass instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("{template} is not valid JSON ({reason}); fix the template")]
    TemplateJson {
        template: &'static str,
        reason: String,
    },
    #[error("{template} uses the placeholder ${{{name}}}, which nothing fills; fill it in src/model/policy/ or remove it from the template")]
    UnknownPlaceholder {
        template: &'static str,
        name: String,
    },
    #[error(
        "{template} has an unterminated placeholder in {text:?}; write placeholders as ${{NAME}}"
    )]
    UnterminatedPlaceholder {
        template: &'static str,
        text: String,
    },
    #[error("{template} never uses the placeholder ${{{name}}}, so its value would be lost; use it in the template or stop passing it")]
    UnfilledValue {
        template: &'static str,
        name: String,
    },
    #[error("{template} has two keys that both become {key:?}; make the template's keys distinct")]
    DuplicateKey { template: &'static str, key: String },
    #[error("{template} does not have the shape this tool edits ({reason}); restore the template")]
    TemplateShape {
        template: &'static str,
        reason: &'static str,
    },
    #[error("both --namespace {namespace:?} and --service-account {service_account:?} contain wildcards: the role could be assumed by many ServiceAccounts in many namespaces, including ones created later; pass the exact namespace or the exact ServiceAccount name (best: both)")]
    BothWildcards {
        namespace: String,
        service_account: String,
    },
    #[error("namespace {namespace:?} is not a valid Kubernetes namespace name ({reason}); pass it exactly as `kubectl get namespaces` shows it")]
    BadNamespace { namespace: String, reason: String },
    #[error("ServiceAccount name {name:?} is not valid ({reason}); pass it exactly as `kubectl get serviceaccounts -n <namespace>` shows it")]
    BadServiceAccount { name: String, reason: String },
    #[error("audience {audience:?} is not usable ({reason}); pass the audience of the projected token, normally sts.amazonaws.com")]
    BadAudience { audience: String, reason: String },
    #[error("account id {0:?} is not a 12-digit AWS account id; pass --account-id as `aws sts get-caller-identity --query Account` prints it")]
    BadAccountId(String),
    #[error("partition {0:?} is not an AWS partition name; pass aws, aws-cn, aws-us-gov, aws-iso or aws-iso-b (or omit it to derive it from the region)")]
    BadPartition(String),
    #[error("{arn:?} is not the ARN of an IAM OIDC provider for {host_path:?}; expected arn:<partition>:iam::<account>:oidc-provider/{host_path}")]
    BadProviderArn { arn: String, host_path: String },
    #[error("bucket name {0:?} is not valid: S3 bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit")]
    BadBucket(String),
    #[error(transparent)]
    BadPrefix(#[from] crate::model::prefix::PrefixError),
    #[error("{0:?} is not the ARN of a CloudFront distribution; expected arn:<partition>:cloudfront::<account>:distribution/<ID> (bootstrap --hosting cloudfront prints it)")]
    BadDistributionArn(String),
    #[error("role name {0:?} is not a valid IAM role name (1-64 letters, digits and +=,.@_-)")]
    BadRoleName(String),
    #[error("the existing bucket policy is not valid JSON ({0}); fix or delete it (`aws s3api get-bucket-policy`) and run again")]
    ExistingPolicyJson(String),
    #[error("the existing bucket policy has an unexpected shape ({0}); fix it (`aws s3api get-bucket-policy`) and run again")]
    ExistingPolicyShape(&'static str),
    #[error("statement {sid:?} has the Sid kube-oidc-publisher uses for its own statement, but it is not one kube-oidc-publisher wrote ({reason}), so it was not replaced. Nothing was changed. If it is yours, give it another Sid (`aws s3api get-bucket-policy`, edit, `aws s3api put-bucket-policy`) and bootstrap will add its statement beside it; if it is a leftover, delete it; then run bootstrap again")]
    NotOurStatement { sid: String, reason: String },
    #[error("with this cluster's grant it would be {bytes} bytes ({clusters} clusters' documents public in bucket {bucket}), over S3's limit of 20 KB (20480 bytes), so nothing was changed. Publish this cluster's issuer from another bucket (--bucket), or first remove the clusters that are gone with `kube-oidc-publisher bootstrap --delete --bucket {bucket} --prefix PREFIX` (it takes exactly their documents out of statement KubeOidcPublisherPublicRead)")]
    PolicyTooLarge {
        bucket: String,
        bytes: usize,
        clusters: usize,
    },
    #[error("a trust policy needs at least one OIDC provider to trust; pass --issuer URL or --store s3://BUCKET[/PREFIX]")]
    NoTrustedProvider,
    #[error("the trust policy would be {characters} characters ({statements} statements; whitespace not counted, as IAM counts), over {max}, the largest \"Role trust policy length\" quota IAM grants (Service Quotas, AWS Identity and Access Management (IAM), code L-C07B4B0D), so no role can hold it. Trust fewer clusters per role: run trust-policy once per group of --issuer/--store values and create one role per group, each within the account's quota (default 2048)", max = TRUST_POLICY_MAX_QUOTA)]
    TrustPolicyTooLong {
        characters: usize,
        statements: usize,
    },
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const HOST_PATH: &str = "oidc.example.test/c1";
    const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c1";

    #[test]
    fn every_template_parses_and_renders_with_its_values() {
        for template in TEMPLATES {
            serde_json::from_str::<Value>(template.text)
                .unwrap_or_else(|e| panic!("{}: {e}", template.name));
        }
        trust_policy(ARN, HOST_PATH, "default", "app", DEFAULT_AUDIENCE).unwrap();
        bucket_policy_statement("aws", "my-oidc", "c1").unwrap();
        cloudfront_bucket_statement(
            "aws",
            "my-oidc",
            "c1",
            "arn:aws:cloudfront::123456789012:distribution/E1",
        )
        .unwrap();
        publisher_role_policy("aws", "my-oidc", "c1", ARN).unwrap();
        operator_policy(
            "aws",
            "123456789012",
            "my-oidc",
            "c1",
            ARN,
            "oidc-publisher",
        )
        .unwrap();
    }
}
