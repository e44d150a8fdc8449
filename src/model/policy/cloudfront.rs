//! The bucket-policy statement of `--hosting cloudfront` (`Sid` [`CLOUDFRONT_STATEMENT_SID`]):
//! `s3:GetObject` on exactly the two documents of each cluster sharing the bucket, for the
//! CloudFront service principal, and only on behalf of one distribution (`AWS:SourceArn`). Not
//! public in S3's sense, so it works with every Block Public Access flag on. It is merged into
//! (and removed from) the owner's policy by [`super::bucket`]'s functions, like the public
//! statement; this file says what it looks like and when a statement with its `Sid` is ours.

use serde_json::Value;

use super::names::{check_bucket, check_partition, has_wildcard, key_prefix};
use super::template::{render, BUCKET_POLICY_CLOUDFRONT_STATEMENT};
use super::PolicyError;
use crate::model::bucket_statement;

/// The CloudFront service principal the statement names.
pub const CLOUDFRONT_SERVICE_PRINCIPAL: &str = "cloudfront.amazonaws.com";

/// Our statement for `--hosting cloudfront`: the CloudFront service principal may read the
/// discovery document and the JWKS under `prefix`, when the request comes from the
/// distribution `distribution_arn` (through its origin access control). Nothing else.
pub fn cloudfront_bucket_statement(
    partition: &str,
    bucket: &str,
    prefix: &str,
    distribution_arn: &str,
) -> Result<Value, PolicyError> {
    check_partition(partition)?;
    check_bucket(bucket)?;
    let key_prefix = key_prefix(prefix)?;
    if !distribution_arn.starts_with(&format!("arn:{partition}:cloudfront::"))
        || has_wildcard(distribution_arn)
        || distribution_arn.contains("${")
    {
        return Err(PolicyError::BadDistributionArn(distribution_arn.to_owned()));
    }
    render(
        &BUCKET_POLICY_CLOUDFRONT_STATEMENT,
        &[
            ("PARTITION", partition),
            ("BUCKET", bucket),
            ("KEY_PREFIX", &key_prefix),
            ("DISTRIBUTION_ARN", distribution_arn),
        ],
    )
}

/// Why the statement carrying [`CLOUDFRONT_STATEMENT_SID`] is not one this tool wrote, or
/// `None` when it is ours in shape: `Allow`, principal exactly `{"Service":
/// "cloudfront.amazonaws.com"}`, the action `s3:GetObject` only, resources that are only
/// document objects of `bucket`, and a `Condition` that is exactly one `StringEquals` on
/// `AWS:SourceArn` naming one CloudFront distribution. Anything else was written or edited by
/// someone and is never replaced.
pub fn cloudfront_statement_not_ours_because(statement: &Value, bucket: &str) -> Option<String> {
    let Value::Object(map) = statement else {
        return Some("it is not a JSON object".to_owned());
    };
    if let Some(key) = map.keys().find(|k| {
        ![
            "Sid",
            "Effect",
            "Principal",
            "Action",
            "Resource",
            "Condition",
        ]
        .contains(&k.as_str())
    }) {
        return Some(format!("it has a {key} element"));
    }
    let principal = map.get("Principal");
    let service = principal
        .and_then(Value::as_object)
        .filter(|p| p.len() == 1)
        .and_then(|p| p.get("Service"))
        .map(|s| bucket_statement::string_list(Some(s)));
    if service.as_deref() != Some(&[CLOUDFRONT_SERVICE_PRINCIPAL][..]) {
        return Some(format!(
            "its Principal is {}, not {{\"Service\": \"{CLOUDFRONT_SERVICE_PRINCIPAL}\"}}",
            principal.map_or("missing".to_owned(), Value::to_string)
        ));
    }
    let condition = map.get("Condition");
    let source_arn = condition
        .and_then(Value::as_object)
        .filter(|c| c.len() == 1)
        .and_then(|c| c.get("StringEquals"))
        .and_then(Value::as_object)
        .filter(|c| c.len() == 1)
        .and_then(|c| c.get("AWS:SourceArn"))
        .and_then(Value::as_str);
    match source_arn {
        Some(arn) if arn.contains(":cloudfront::") && !has_wildcard(arn) => {}
        _ => {
            return Some(format!(
                "its Condition is {}, not StringEquals AWS:SourceArn of one distribution",
                condition.map_or("missing".to_owned(), Value::to_string)
            ))
        }
    }
    // The rest (Effect, Action, Resource) as for the public statement: the same shape with the
    // anonymous principal and without the condition must pass its check.
    let mut rest = map.clone();
    rest.remove("Condition");
    rest.insert("Principal".into(), Value::String("*".into()));
    bucket_statement::not_ours_because(&Value::Object(rest), bucket)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::policy::merge_bucket_policy;

    const ARN: &str = "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456";

    #[test]
    fn the_statement_grants_the_distribution_exactly_the_two_documents_and_is_not_public() {
        let statement = cloudfront_bucket_statement("aws", "acme-oidc", "prod-1", ARN).unwrap();
        assert_eq!(
            statement,
            json!({
                "Sid": "KubeOidcPublisherCloudFrontRead",
                "Effect": "Allow",
                "Principal": { "Service": "cloudfront.amazonaws.com" },
                "Action": "s3:GetObject",
                "Resource": [
                    "arn:aws:s3:::acme-oidc/prod-1/.well-known/openid-configuration",
                    "arn:aws:s3:::acme-oidc/prod-1/openid/v1/jwks"
                ],
                "Condition": { "StringEquals": { "AWS:SourceArn": ARN } }
            })
        );
        assert!(!bucket_statement::grants_public_access(&statement));
        assert_eq!(
            cloudfront_statement_not_ours_because(&statement, "acme-oidc"),
            None
        );
        for bad in [
            "arn:aws:cloudfront::123456789012:distribution/*",
            "arn:aws-cn:cloudfront::123456789012:distribution/E1",
            "E2ABCDEF123456",
        ] {
            assert_eq!(
                cloudfront_bucket_statement("aws", "acme-oidc", "prod-1", bad),
                Err(PolicyError::BadDistributionArn(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn statements_with_our_sid_but_another_shape_are_not_ours() {
        let ours = cloudfront_bucket_statement("aws", "acme-oidc", "prod-1", ARN).unwrap();
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut s = ours.clone();
            f(&mut s);
            s
        };
        for (case, statement, reason) in [
            (
                "anonymous",
                edit(&|s| s["Principal"] = json!("*")),
                "Principal",
            ),
            (
                "no condition",
                edit(&|s| {
                    s.as_object_mut().unwrap().remove("Condition");
                }),
                "Condition",
            ),
            (
                "another key",
                edit(&|s| s["Condition"] = json!({"StringEquals": {"AWS:SourceAccount": "1"}})),
                "Condition",
            ),
            ("deny", edit(&|s| s["Effect"] = json!("Deny")), "Effect"),
            (
                "wider",
                edit(&|s| s["Resource"] = json!("arn:aws:s3:::acme-oidc/*")),
                "Resource",
            ),
            (
                "more actions",
                edit(&|s| s["Action"] = json!(["s3:GetObject", "s3:ListBucket"])),
                "Action",
            ),
        ] {
            let why = cloudfront_statement_not_ours_because(&statement, "acme-oidc")
                .unwrap_or_else(|| panic!("{case}: taken for ours"));
            assert!(why.contains(reason), "{case}: {why}");
            // The merge refuses it rather than replacing it.
            let policy = json!({ "Version": "2012-10-17", "Statement": [statement] }).to_string();
            assert!(
                matches!(
                    merge_bucket_policy(Some(&policy), ours.clone(), "acme-oidc"),
                    Err(PolicyError::NotOurStatement { .. })
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn clusters_sharing_the_bucket_share_the_statement_and_a_rerun_changes_nothing() {
        let first = cloudfront_bucket_statement("aws", "acme-oidc", "prod-1", ARN).unwrap();
        let second = cloudfront_bucket_statement("aws", "acme-oidc", "prod-2", ARN).unwrap();
        let owners = json!({"Sid": "Owners", "Effect": "Deny", "Principal": "*",
            "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::acme-oidc"});
        let existing = json!({ "Version": "2012-10-17", "Statement": [owners] }).to_string();
        let (policy, changed) = merge_bucket_policy(Some(&existing), first, "acme-oidc").unwrap();
        assert!(changed);
        let (policy, changed) =
            merge_bucket_policy(Some(&policy.to_string()), second.clone(), "acme-oidc").unwrap();
        assert!(changed);
        let statements = bucket_statement::statements(&policy);
        assert_eq!(statements.len(), 2, "{policy}");
        assert_eq!(statements[0], &owners);
        assert_eq!(
            bucket_statement::string_list(statements[1].get("Resource")).len(),
            4,
            "both clusters' documents: {policy}"
        );
        let (_, changed) =
            merge_bucket_policy(Some(&policy.to_string()), second, "acme-oidc").unwrap();
        assert!(!changed);
    }
}
