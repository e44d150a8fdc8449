//! The least-privilege policies of the two principals that run this tool: the in-cluster
//! publisher's role, and the workstation user running `bootstrap`.

use serde_json::Value;

use super::names::{
    check_account, check_arn_of_provider, check_bucket, check_partition, check_role_name,
    key_prefix,
};
use super::template::{render, OPERATOR_POLICY, PUBLISHER_ROLE_POLICY};
use super::PolicyError;

/// The inline policy of the in-cluster publisher's role: read and write the two documents,
/// list only those two keys (so a missing document reads as 404, not 403), and manage the one
/// OIDC provider.
pub fn publisher_role_policy(
    partition: &str,
    bucket: &str,
    prefix: &str,
    provider_arn: &str,
) -> Result<Value, PolicyError> {
    check_partition(partition)?;
    check_bucket(bucket)?;
    check_arn_of_provider(provider_arn, partition)?;
    let key_prefix = key_prefix(prefix)?;
    render(
        &PUBLISHER_ROLE_POLICY,
        &[
            ("PARTITION", partition),
            ("BUCKET", bucket),
            ("KEY_PREFIX", &key_prefix),
            ("PROVIDER_ARN", provider_arn),
        ],
    )
}

/// [`publisher_role_policy`] for a store served through a CloudFront distribution
/// (`sync --cloudfront-distribution`): with `Some(distribution_arn)`
/// (`arn:aws:cloudfront::ACCOUNT:distribution/ID`), one more statement allowing on that one
/// distribution what sync does there: read it once per run (GetDistribution and its tags,
/// ListTagsForResource), invalidate the documents it wrote (CreateInvalidation) and, for
/// `rotate stage`, wait for the invalidation (GetInvalidation). `None`: the same policy as
/// [`publisher_role_policy`].
pub fn publisher_role_policy_with_distribution(
    partition: &str,
    bucket: &str,
    prefix: &str,
    provider_arn: &str,
    distribution_arn: Option<&str>,
) -> Result<Value, PolicyError> {
    let mut policy = publisher_role_policy(partition, bucket, prefix, provider_arn)?;
    let Some(arn) = distribution_arn else {
        return Ok(policy);
    };
    check_distribution_arn(arn, partition)?;
    let statement = serde_json::json!({
        "Sid": "InvalidateTheOneDistribution",
        "Effect": "Allow",
        "Action": [
            "cloudfront:GetDistribution",
            "cloudfront:ListTagsForResource",
            "cloudfront:CreateInvalidation",
            "cloudfront:GetInvalidation"
        ],
        "Resource": arn
    });
    match policy.get_mut("Statement").and_then(Value::as_array_mut) {
        Some(statements) => statements.push(statement),
        None => {
            return Err(PolicyError::TemplateShape {
                template: "templates/publisher-role-policy.json",
                reason: "no Statement array",
            })
        }
    }
    Ok(policy)
}

/// `arn:<partition>:cloudfront::<12 digits>:distribution/<letters and digits>`.
fn check_distribution_arn(arn: &str, partition: &str) -> Result<(), PolicyError> {
    let bad = || PolicyError::BadDistributionArn(arn.to_owned());
    let rest = arn
        .strip_prefix(&format!("arn:{partition}:cloudfront::"))
        .ok_or_else(bad)?;
    let (account, id) = rest.split_once(":distribution/").ok_or_else(bad)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad());
    }
    Ok(())
}

/// What the workstation user running `bootstrap` needs: create and configure the bucket,
/// publish the documents, read the account's Block Public Access, manage the provider, create
/// the publisher role, and identify the account.
pub fn operator_policy(
    partition: &str,
    account: &str,
    bucket: &str,
    prefix: &str,
    provider_arn: &str,
    publisher_role_name: &str,
) -> Result<Value, PolicyError> {
    check_partition(partition)?;
    check_account(account)?;
    check_bucket(bucket)?;
    check_arn_of_provider(provider_arn, partition)?;
    check_role_name(publisher_role_name)?;
    let key_prefix = key_prefix(prefix)?;
    render(
        &OPERATOR_POLICY,
        &[
            ("PARTITION", partition),
            ("ACCOUNT_ID", account),
            ("BUCKET", bucket),
            ("KEY_PREFIX", &key_prefix),
            ("PROVIDER_ARN", provider_arn),
            ("PUBLISHER_ROLE_NAME", publisher_role_name),
        ],
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    use crate::model::policy::POLICY_VERSION;

    const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c1";

    #[test]
    fn a_distribution_adds_one_statement_on_exactly_its_arn() {
        let without = publisher_role_policy("aws", "my-oidc", "c1", ARN).unwrap();
        assert_eq!(
            publisher_role_policy_with_distribution("aws", "my-oidc", "c1", ARN, None).unwrap(),
            without
        );
        let dist = "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456";
        let with = publisher_role_policy_with_distribution("aws", "my-oidc", "c1", ARN, Some(dist))
            .unwrap();
        let statements = with["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 4);
        assert_eq!(
            statements[..3],
            without["Statement"].as_array().unwrap()[..]
        );
        assert_eq!(statements[3]["Resource"], dist);
        assert_eq!(
            statements[3]["Action"],
            json!([
                "cloudfront:GetDistribution",
                "cloudfront:ListTagsForResource",
                "cloudfront:CreateInvalidation",
                "cloudfront:GetInvalidation"
            ])
        );
        for bad in [
            "arn:aws:cloudfront::123456789012:distribution/*",
            "arn:aws:cloudfront::12345:distribution/E2",
            "arn:aws-cn:cloudfront::123456789012:distribution/E2",
        ] {
            assert!(
                publisher_role_policy_with_distribution("aws", "my-oidc", "c1", ARN, Some(bad))
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn publisher_policy_is_least_privilege() {
        let policy = publisher_role_policy("aws", "my-oidc", "c1", ARN).unwrap();
        let objects = json!([
            "arn:aws:s3:::my-oidc/c1/.well-known/openid-configuration",
            "arn:aws:s3:::my-oidc/c1/openid/v1/jwks",
            "arn:aws:s3:::my-oidc/c1/.kube-oidc-publisher/state.json"
        ]);
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(policy["Version"], POLICY_VERSION);
        assert_eq!(statements.len(), 3);
        assert_eq!(
            statements[0]["Action"],
            json!(["s3:GetObject", "s3:PutObject"])
        );
        assert_eq!(statements[0]["Resource"], objects);
        assert_eq!(statements[1]["Action"], "s3:ListBucket");
        assert_eq!(statements[1]["Resource"], "arn:aws:s3:::my-oidc");
        assert_eq!(
            statements[1]["Condition"],
            json!({ "StringEquals": { "s3:prefix": [
                "c1/.well-known/openid-configuration",
                "c1/openid/v1/jwks",
                "c1/.kube-oidc-publisher/state.json"
            ] } })
        );
        assert_eq!(statements[2]["Resource"], ARN);
        let iam_actions: Vec<&str> = statements[2]["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            iam_actions,
            [
                "iam:GetOpenIDConnectProvider",
                "iam:CreateOpenIDConnectProvider",
                "iam:UpdateOpenIDConnectProviderThumbprint",
                "iam:AddClientIDToOpenIDConnectProvider",
                "iam:RemoveClientIDFromOpenIDConnectProvider",
                "iam:TagOpenIDConnectProvider",
            ]
        );
        // No wildcard anywhere, no Delete or Untag.
        let text = policy.to_string();
        assert!(!text.contains('*') && !text.contains("Delete") && !text.contains("Untag"));
        // The provider must be in the same partition.
        assert!(matches!(
            publisher_role_policy("aws-cn", "my-oidc", "c1", ARN),
            Err(PolicyError::BadProviderArn { .. })
        ));
    }

    #[test]
    fn operator_policy_names_the_bucket_the_provider_and_the_role() {
        let policy =
            operator_policy("aws", "123456789012", "my-oidc", "", ARN, "oidc-publisher").unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        let by_sid = |sid: &str| {
            statements
                .iter()
                .find(|s| s["Sid"] == sid)
                .unwrap_or_else(|| panic!("no statement {sid}"))
        };
        assert_eq!(
            by_sid("CreateAndConfigureTheBucket")["Resource"],
            "arn:aws:s3:::my-oidc"
        );
        assert_eq!(
            by_sid("PublishTheTwoDocuments")["Resource"],
            json!([
                "arn:aws:s3:::my-oidc/.well-known/openid-configuration",
                "arn:aws:s3:::my-oidc/openid/v1/jwks",
                "arn:aws:s3:::my-oidc/.kube-oidc-publisher/state.json"
            ])
        );
        assert_eq!(by_sid("ManageTheOneOidcProvider")["Resource"], ARN);
        assert_eq!(
            by_sid("CreateThePublisherRole")["Resource"],
            "arn:aws:iam::123456789012:role/oidc-publisher"
        );
        assert_eq!(
            by_sid("CheckAccountPublicAccessBlock")["Action"],
            "s3:GetAccountPublicAccessBlock"
        );
        assert_eq!(
            by_sid("IdentifyTheAccount")["Action"],
            "sts:GetCallerIdentity"
        );
        // `bootstrap --delete`: each delete on exactly the resource it removes, nowhere else.
        let deletes: Vec<(String, Value)> = statements
            .iter()
            .flat_map(|s| {
                let actions = match &s["Action"] {
                    Value::Array(list) => list.clone(),
                    one => vec![one.clone()],
                };
                actions
                    .into_iter()
                    .filter(|a| a.as_str().unwrap().contains(":Delete"))
                    .map(|a| (a.as_str().unwrap().to_owned(), s["Resource"].clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            deletes,
            [
                (
                    "s3:DeleteBucketPolicy".to_owned(),
                    json!("arn:aws:s3:::my-oidc")
                ),
                (
                    "s3:DeleteObject".to_owned(),
                    by_sid("PublishTheTwoDocuments")["Resource"].clone()
                ),
                ("iam:DeleteOpenIDConnectProvider".to_owned(), json!(ARN)),
                (
                    "iam:DeleteRolePolicy".to_owned(),
                    json!("arn:aws:iam::123456789012:role/oidc-publisher")
                ),
                (
                    "iam:DeleteRole".to_owned(),
                    json!("arn:aws:iam::123456789012:role/oidc-publisher")
                ),
                // `--hosting cloudfront`: the distribution's and OAC's ids exist only once
                // created, so these are on `*` like the rest of CloudFront's (docs/bootstrap.md
                // says to narrow them once the ids are known).
                ("cloudfront:DeleteDistribution".to_owned(), json!("*")),
                (
                    "cloudfront:DeleteOriginAccessControl".to_owned(),
                    json!("*")
                ),
            ]
        );
        for bad in ["", "has space", &"r".repeat(65)] {
            assert!(matches!(
                operator_policy("aws", "123456789012", "my-oidc", "", ARN, bad),
                Err(PolicyError::BadRoleName(_))
            ));
        }
    }
}
