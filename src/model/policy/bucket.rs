//! The one statement of the bucket policy this tool owns (anonymous `s3:GetObject` on the two
//! documents), and its merge into the owner's bucket policy without touching anyone else's
//! statements.

use serde_json::{json, Value};

use super::names::{check_bucket, check_partition, key_prefix};
use super::template::{render, BUCKET_POLICY_STATEMENT};
use super::{PolicyError, POLICY_VERSION};
use crate::model::bucket_statement;

/// The one statement of the bucket policy this tool owns (`Sid` [`BUCKET_POLICY_SID`]):
/// anonymous `s3:GetObject` on exactly the discovery document and the JWKS under `prefix`
/// (PROTOCOL.md §3), no listing, nothing else.
pub fn bucket_policy_statement(
    partition: &str,
    bucket: &str,
    prefix: &str,
) -> Result<Value, PolicyError> {
    check_partition(partition)?;
    check_bucket(bucket)?;
    let key_prefix = key_prefix(prefix)?;
    render(
        &BUCKET_POLICY_STATEMENT,
        &[
            ("PARTITION", partition),
            ("BUCKET", bucket),
            ("KEY_PREFIX", &key_prefix),
        ],
    )
}

/// Puts `statement` into the bucket policy `existing` (the JSON text GetBucketPolicy returned,
/// or `None` for a bucket without a policy) of `bucket`: a statement with the same `Sid` is
/// replaced, or ours is appended; every other statement, and `Version`/`Id`, is kept as it
/// was. Accepts a `Statement` that is a single object, as AWS does. Returns the policy and
/// whether it differs from `existing` (when it does not, write nothing).
///
/// A statement with our `Sid` is replaced only when it is ours in shape
/// ([`bucket_statement::not_ours_because`]); otherwise [`PolicyError::NotOurStatement`]: a Sid
/// is only a name, and the owner's `Deny` that happens to carry it must not be overwritten.
pub fn merge_bucket_policy(
    existing: Option<&str>,
    statement: Value,
    bucket: &str,
) -> Result<(Value, bool), PolicyError> {
    let sid = statement
        .get("Sid")
        .and_then(Value::as_str)
        .ok_or(PolicyError::ExistingPolicyShape(
            "the statement to merge has no Sid",
        ))?
        .to_string();
    let existing = existing.map(str::trim).filter(|text| !text.is_empty());
    let Some(existing) = existing else {
        return Ok((
            json!({ "Version": POLICY_VERSION, "Statement": [statement] }),
            true,
        ));
    };
    let mut policy: Value = serde_json::from_str(existing)
        .map_err(|e| PolicyError::ExistingPolicyJson(e.to_string()))?;
    let is_ours = |s: &Value| s.get("Sid").and_then(Value::as_str) == Some(sid.as_str());
    if let Some(reason) = bucket_statement::statements(&policy)
        .into_iter()
        .filter(|s| is_ours(s))
        .find_map(|s| bucket_statement::not_ours_because(s, bucket))
    {
        return Err(PolicyError::NotOurStatement { sid, reason });
    }
    let object = policy
        .as_object_mut()
        .ok_or(PolicyError::ExistingPolicyShape("it is not a JSON object"))?;
    let changed = match object.get_mut("Statement") {
        None => {
            object.insert("Statement".into(), Value::Array(vec![statement]));
            true
        }
        // A single statement object: ours (replace in place) or someone else's (make a list).
        Some(single @ Value::Object(_)) => {
            if is_ours(single) {
                let changed = *single != statement;
                *single = statement;
                changed
            } else {
                let theirs = single.take();
                *single = Value::Array(vec![theirs, statement]);
                true
            }
        }
        Some(Value::Array(statements)) => {
            let ours: Vec<usize> = (0..statements.len())
                .filter(|&i| is_ours(&statements[i]))
                .collect();
            match ours.split_first() {
                None => {
                    statements.push(statement);
                    true
                }
                Some((&first, duplicates)) => {
                    let changed = statements[first] != statement || !duplicates.is_empty();
                    statements[first] = statement;
                    for &i in duplicates.iter().rev() {
                        statements.remove(i);
                    }
                    changed
                }
            }
        }
        Some(_) => {
            return Err(PolicyError::ExistingPolicyShape(
                "Statement is neither a list nor an object",
            ))
        }
    };
    Ok((policy, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::policy::BUCKET_POLICY_SID;
    use crate::model::{DISCOVERY_PATH, JWKS_PATH};

    #[test]
    fn bucket_statement_grants_anonymous_get_on_exactly_the_two_documents() {
        for (partition_name, prefix, resources) in [
            (
                "aws",
                "",
                [
                    "arn:aws:s3:::my-oidc/.well-known/openid-configuration",
                    "arn:aws:s3:::my-oidc/openid/v1/jwks",
                ],
            ),
            (
                "aws",
                "c1",
                [
                    "arn:aws:s3:::my-oidc/c1/.well-known/openid-configuration",
                    "arn:aws:s3:::my-oidc/c1/openid/v1/jwks",
                ],
            ),
            (
                "aws-cn",
                "/clusters/prod-1/",
                [
                    "arn:aws-cn:s3:::my-oidc/clusters/prod-1/.well-known/openid-configuration",
                    "arn:aws-cn:s3:::my-oidc/clusters/prod-1/openid/v1/jwks",
                ],
            ),
        ] {
            let statement = bucket_policy_statement(partition_name, "my-oidc", prefix).unwrap();
            assert_eq!(
                statement,
                json!({
                    "Sid": BUCKET_POLICY_SID,
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": resources,
                }),
                "{prefix:?}"
            );
            // The keys are the ones the store writes.
            let key_prefix = key_prefix(prefix).unwrap();
            for (resource, key) in resources.iter().zip([DISCOVERY_PATH, JWKS_PATH]) {
                assert!(
                    resource.ends_with(&format!("my-oidc/{key_prefix}{key}")),
                    "{resource}"
                );
            }
        }
    }

    #[test]
    fn prefixes_and_buckets_that_would_widen_a_resource_are_refused() {
        for prefix in [
            "c*",
            "c?",
            "a/${aws:username}",
            "a//b",
            "a/../b",
            "./a",
            "a\tb",
        ] {
            assert!(
                matches!(
                    bucket_policy_statement("aws", "my-oidc", prefix),
                    Err(PolicyError::BadPrefix(_))
                ),
                "{prefix:?}"
            );
        }
        for bucket in [
            "ab",
            "My-Bucket",
            "b*",
            "-bb",
            "bb-",
            "a..b",
            &"b".repeat(64),
        ] {
            assert_eq!(
                bucket_policy_statement("aws", bucket, "").unwrap_err(),
                PolicyError::BadBucket(bucket.into())
            );
        }
        assert!(matches!(
            bucket_policy_statement("nope", "my-oidc", ""),
            Err(PolicyError::BadPartition(_))
        ));
    }

    fn ours() -> Value {
        bucket_policy_statement("aws", "my-oidc", "c1").unwrap()
    }

    #[test]
    fn merge_bucket_policy_table() {
        let theirs = json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::my-oidc", "arn:aws:s3:::my-oidc/*"],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } }
        });
        // Ours for another prefix (a bootstrap with another --prefix): ours in shape, replaced.
        let mut stale = ours();
        stale["Resource"] = json!("arn:aws:s3:::my-oidc/old/openid/v1/jwks");
        let version = json!("2012-10-17");
        // (case, existing policy, expected policy, changed)
        let cases: Vec<(&str, Option<String>, Value, bool)> = vec![
            (
                "no policy",
                None,
                json!({ "Version": version, "Statement": [ours()] }),
                true,
            ),
            (
                "empty text",
                Some("  ".into()),
                json!({ "Version": version, "Statement": [ours()] }),
                true,
            ),
            (
                "someone else's statements are kept, ours appended",
                Some(json!({ "Version": version, "Id": "p1", "Statement": [theirs] }).to_string()),
                json!({ "Version": version, "Id": "p1", "Statement": [theirs, ours()] }),
                true,
            ),
            (
                "ours already there: unchanged",
                Some(json!({ "Version": version, "Statement": [theirs, ours()] }).to_string()),
                json!({ "Version": version, "Statement": [theirs, ours()] }),
                false,
            ),
            (
                "ours stale: replaced in place",
                Some(json!({ "Version": version, "Statement": [stale, theirs] }).to_string()),
                json!({ "Version": version, "Statement": [ours(), theirs] }),
                true,
            ),
            (
                "ours twice: one left",
                Some(
                    json!({ "Version": version, "Statement": [ours(), theirs, stale] }).to_string(),
                ),
                json!({ "Version": version, "Statement": [ours(), theirs] }),
                true,
            ),
            (
                "single statement object, someone else's",
                Some(json!({ "Version": version, "Statement": theirs }).to_string()),
                json!({ "Version": version, "Statement": [theirs, ours()] }),
                true,
            ),
            (
                "single statement object, ours and current",
                Some(json!({ "Version": version, "Statement": ours() }).to_string()),
                json!({ "Version": version, "Statement": ours() }),
                false,
            ),
            (
                "single statement object, ours and stale",
                Some(json!({ "Statement": stale }).to_string()),
                json!({ "Statement": ours() }),
                true,
            ),
            (
                "no Statement at all",
                Some(json!({ "Version": version }).to_string()),
                json!({ "Version": version, "Statement": [ours()] }),
                true,
            ),
        ];
        for (case, existing, expected, changed) in cases {
            let (policy, was_changed) = merge_bucket_policy(existing.as_deref(), ours(), "my-oidc")
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(policy, expected, "{case}");
            assert_eq!(was_changed, changed, "{case}");
        }
    }

    #[test]
    fn merge_bucket_policy_refuses_what_it_cannot_edit() {
        assert!(matches!(
            merge_bucket_policy(Some("{not json"), ours(), "my-oidc"),
            Err(PolicyError::ExistingPolicyJson(_))
        ));
        assert!(matches!(
            merge_bucket_policy(Some("[1]"), ours(), "my-oidc"),
            Err(PolicyError::ExistingPolicyShape(_))
        ));
        assert!(matches!(
            merge_bucket_policy(Some(r#"{"Statement": "x"}"#), ours(), "my-oidc"),
            Err(PolicyError::ExistingPolicyShape(_))
        ));
        assert!(matches!(
            merge_bucket_policy(None, json!({ "Effect": "Allow" }), "my-oidc"),
            Err(PolicyError::ExistingPolicyShape(_))
        ));
        // A statement with our Sid that is not ours in shape is never replaced.
        let mut deny = ours();
        deny["Effect"] = json!("Deny");
        for existing in [
            json!({ "Statement": [deny] }),
            json!({ "Statement": deny }),
            json!({ "Statement": [ours(), deny] }),
        ] {
            assert_eq!(
                merge_bucket_policy(Some(&existing.to_string()), ours(), "my-oidc").unwrap_err(),
                PolicyError::NotOurStatement {
                    sid: BUCKET_POLICY_SID.into(),
                    reason: "its Effect is Deny, not Allow".into()
                },
                "{existing}"
            );
        }
    }
}
