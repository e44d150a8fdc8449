//! The one statement of the bucket policy this tool owns (anonymous `s3:GetObject` on the two
//! documents), its merge into the owner's bucket policy without touching anyone else's
//! statements, and the inverse: one cluster's documents taken out again (`bootstrap --delete`).

use serde_json::{json, Value};

use super::cloudfront::cloudfront_statement_not_ours_because;
use super::names::{check_bucket, check_partition, key_prefix};
use super::template::{render, BUCKET_POLICY_STATEMENT};
use super::{PolicyError, BUCKET_POLICY_SID, CLOUDFRONT_STATEMENT_SID, POLICY_VERSION};
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
/// or `None` for a bucket without a policy) of `bucket`: a statement with the same `Sid` gets
/// `statement`'s resources added to its own (the other clusters that share the bucket keep
/// their grant), or ours is appended; every other statement, and `Version`/`Id`, is kept as
/// it was. Accepts a `Statement` that is a single object, as AWS does. Returns the policy and
/// whether it differs from `existing` (when it does not, write nothing); refuses a policy over
/// S3's 20 KB ([`PolicyError::PolicyTooLarge`]).
///
/// A statement with our `Sid` is extended only when it is ours in shape
/// ([`bucket_statement::not_ours_because`]); otherwise [`PolicyError::NotOurStatement`]: a Sid
/// is only a name, and the owner's `Deny` that happens to carry it must not be overwritten.
pub fn merge_bucket_policy(
    existing: Option<&str>,
    statement: Value,
    bucket: &str,
) -> Result<(Value, bool), PolicyError> {
    let sid = sid_of(&statement, "the statement to merge has no Sid")?;
    let existing = existing.map(str::trim).filter(|text| !text.is_empty());
    let Some(existing) = existing else {
        return Ok((
            json!({ "Version": POLICY_VERSION, "Statement": [statement] }),
            true,
        ));
    };
    let mut policy = parse_refusing_impostors(existing, &sid, bucket)?;
    let is_ours = |s: &Value| s.get("Sid").and_then(Value::as_str) == Some(sid.as_str());
    // Other clusters that share the bucket are granted by the same statement: keep their
    // documents and add ours, so no cluster's bootstrap takes another's grant away.
    let granted: Vec<String> = bucket_statement::statements(&policy)
        .into_iter()
        .filter(|s| is_ours(s))
        .flat_map(resources)
        .map(str::to_owned)
        .collect();
    let statement = with_resources(statement, granted);
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
    check_size(&policy, bucket)?;
    Ok((policy, changed))
}

/// The `Sid` of the statement to merge or remove.
fn sid_of(statement: &Value, missing: &'static str) -> Result<String, PolicyError> {
    statement
        .get("Sid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(PolicyError::ExistingPolicyShape(missing))
}

/// Parses the existing policy; refuses it when a statement with our `Sid` is not ours in
/// shape ([`bucket_statement::not_ours_because`]): a Sid is only a name, and the owner's
/// `Deny` that happens to carry it must not be edited.
fn parse_refusing_impostors(existing: &str, sid: &str, bucket: &str) -> Result<Value, PolicyError> {
    let policy: Value = serde_json::from_str(existing)
        .map_err(|e| PolicyError::ExistingPolicyJson(e.to_string()))?;
    if let Some(reason) = bucket_statement::statements(&policy)
        .into_iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
        .find_map(|s| {
            if sid == CLOUDFRONT_STATEMENT_SID {
                cloudfront_statement_not_ours_because(s, bucket)
            } else {
                bucket_statement::not_ours_because(s, bucket)
            }
        })
    {
        return Err(PolicyError::NotOurStatement {
            sid: sid.to_owned(),
            reason,
        });
    }
    Ok(policy)
}

/// What [`remove_from_bucket_policy`] leaves behind.
#[derive(Clone, Debug, PartialEq)]
pub enum BucketPolicyRemoval {
    /// Our statement grants none of the cluster's documents (or there is no policy): write
    /// nothing.
    Unchanged,
    /// The policy without the cluster's documents (PutBucketPolicy).
    Put(Value),
    /// Our statement granted only this cluster's documents and was the policy's only
    /// statement: the bucket should have no policy at all (DeleteBucketPolicy; S3 refuses a
    /// policy without statements).
    Delete,
}

/// Takes this cluster's documents (the resources of `statement`, as
/// [`bucket_policy_statement`] renders it) out of our statement in the bucket policy
/// `existing` of `bucket`, the inverse of [`merge_bucket_policy`]: every other cluster's
/// documents stay granted; a statement of ours left with no resource goes; every other
/// statement, and `Version`/`Id`, is kept as it was. A statement with our `Sid` that is not
/// ours in shape is refused ([`PolicyError::NotOurStatement`]) as in the merge.
pub fn remove_from_bucket_policy(
    existing: Option<&str>,
    statement: &Value,
    bucket: &str,
) -> Result<BucketPolicyRemoval, PolicyError> {
    let sid = sid_of(statement, "the statement to remove has no Sid")?;
    let Some(existing) = existing.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(BucketPolicyRemoval::Unchanged);
    };
    let mut policy = parse_refusing_impostors(existing, &sid, bucket)?;
    let is_ours = |s: &Value| s.get("Sid").and_then(Value::as_str) == Some(sid.as_str());
    match policy.get("Statement") {
        _ if !policy.is_object() => {
            return Err(PolicyError::ExistingPolicyShape("it is not a JSON object"))
        }
        None | Some(Value::Array(_) | Value::Object(_)) => {}
        Some(_) => {
            return Err(PolicyError::ExistingPolicyShape(
                "Statement is neither a list nor an object",
            ))
        }
    }
    let removed = resources(statement);
    let grants_ours = bucket_statement::statements(&policy)
        .into_iter()
        .filter(|s| is_ours(s))
        .any(|s| resources(s).iter().any(|r| removed.contains(r)));
    if !grants_ours {
        return Ok(BucketPolicyRemoval::Unchanged);
    }
    // Ours without this cluster's documents; `None` when nothing would be left of it.
    let without = |s: &Value| -> Option<Value> {
        let left: Vec<&str> = resources(s)
            .into_iter()
            .filter(|r| !removed.contains(r))
            .collect();
        if left.is_empty() {
            return None;
        }
        let left = json!(left);
        let mut s = s.clone();
        s["Resource"] = left;
        Some(s)
    };
    let statement_left = match policy.get_mut("Statement") {
        Some(single @ Value::Object(_)) => match without(single) {
            Some(left) => {
                *single = left;
                true
            }
            None => false,
        },
        Some(Value::Array(statements)) => {
            *statements = statements
                .iter()
                .filter_map(|s| {
                    if is_ours(s) {
                        without(s)
                    } else {
                        Some(s.clone())
                    }
                })
                .collect();
            !statements.is_empty()
        }
        // Checked above, and `grants_ours` found our statement.
        _ => unreachable!("Statement holds our statement"),
    };
    Ok(if statement_left {
        BucketPolicyRemoval::Put(policy)
    } else {
        BucketPolicyRemoval::Delete
    })
}

/// The most bytes S3 accepts in a bucket policy (20 KB; PROTOCOL.md §9).
pub const BUCKET_POLICY_MAX_BYTES: usize = 20 * 1024;

/// The size of `policy` as it is sent to S3 (compact JSON).
pub fn policy_bytes(policy: &Value) -> usize {
    policy.to_string().len()
}

/// Refuses a policy S3 would refuse for its size, naming how many clusters share the bucket.
fn check_size(policy: &Value, bucket: &str) -> Result<(), PolicyError> {
    let bytes = policy_bytes(policy);
    if bytes <= BUCKET_POLICY_MAX_BYTES {
        return Ok(());
    }
    let clusters = bucket_statement::statements(policy)
        .into_iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) == Some(BUCKET_POLICY_SID))
        .flat_map(resources)
        .filter(|r| r.ends_with("openid/v1/jwks"))
        .count();
    Err(PolicyError::PolicyTooLarge {
        bucket: bucket.to_owned(),
        bytes,
        clusters,
    })
}

/// The ARNs of a statement's `Resource` (a string or a list), read as
/// [`bucket_statement::not_ours_because`] reads them: our statement has passed it.
fn resources(statement: &Value) -> Vec<&str> {
    bucket_statement::string_list(statement.get("Resource"))
}

/// `statement` granting `granted` (in their order, each once) and then its own resources that
/// are not among them.
fn with_resources(mut statement: Value, granted: Vec<String>) -> Value {
    let own: Vec<String> = resources(&statement)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut all: Vec<String> = Vec::with_capacity(granted.len() + own.len());
    for resource in granted.into_iter().chain(own) {
        if !all.contains(&resource) {
            all.push(resource);
        }
    }
    if let Some(object) = statement.as_object_mut() {
        object.insert("Resource".into(), json!(all));
    }
    statement
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The owner's statement: kept as it is by the merge and by the removal.
    fn deny_insecure_transport() -> Value {
        json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::my-oidc", "arn:aws:s3:::my-oidc/*"],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } }
        })
    }

    #[test]
    fn merge_bucket_policy_table() {
        let theirs = deny_insecure_transport();
        // Ours for another prefix (another cluster's bootstrap): kept, with our documents added,
        // so one cluster's bootstrap never takes another's grant away.
        let mut other = ours();
        other["Resource"] = json!("arn:aws:s3:::my-oidc/c0/openid/v1/jwks");
        let mut both = ours();
        both["Resource"] = json!([
            "arn:aws:s3:::my-oidc/c0/openid/v1/jwks",
            "arn:aws:s3:::my-oidc/c1/.well-known/openid-configuration",
            "arn:aws:s3:::my-oidc/c1/openid/v1/jwks"
        ]);
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
                "ours with another cluster's documents: ours added in place",
                Some(json!({ "Version": version, "Statement": [other, theirs] }).to_string()),
                json!({ "Version": version, "Statement": [both, theirs] }),
                true,
            ),
            (
                "ours with both clusters' documents: unchanged",
                Some(json!({ "Version": version, "Statement": [both, theirs] }).to_string()),
                json!({ "Version": version, "Statement": [both, theirs] }),
                false,
            ),
            (
                "ours twice: one left, granting what both granted",
                Some(
                    json!({ "Version": version, "Statement": [other, theirs, ours()] }).to_string(),
                ),
                json!({ "Version": version, "Statement": [both, theirs] }),
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
                "single statement object, ours for another cluster",
                Some(json!({ "Statement": other }).to_string()),
                json!({ "Statement": both }),
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
    fn remove_from_bucket_policy_table() {
        let theirs = deny_insecure_transport();
        let grant = |prefixes: &[&str]| {
            let mut s = ours();
            s["Resource"] = json!(prefixes
                .iter()
                .flat_map(|p| [
                    format!("arn:aws:s3:::my-oidc/{p}/.well-known/openid-configuration"),
                    format!("arn:aws:s3:::my-oidc/{p}/openid/v1/jwks"),
                ])
                .collect::<Vec<_>>());
            s
        };
        let version = json!("2012-10-17");
        use BucketPolicyRemoval::{Delete, Put, Unchanged};
        // (case, existing policy, what is left) — ours() is cluster c1's statement.
        let cases: Vec<(&str, Option<String>, BucketPolicyRemoval)> = vec![
            ("no policy", None, Unchanged),
            ("empty text", Some(" ".into()), Unchanged),
            (
                "only someone else's statements",
                Some(json!({ "Version": version, "Statement": [theirs] }).to_string()),
                Unchanged,
            ),
            (
                "ours without c1: already removed",
                Some(json!({ "Statement": [grant(&["c0", "c2"]), theirs] }).to_string()),
                Unchanged,
            ),
            (
                "c1 among others: only c1's documents go, in place",
                Some(
                    json!({ "Version": version, "Id": "p1", "Statement": [theirs, grant(&["c0", "c1", "c2"])] })
                        .to_string(),
                ),
                Put(json!({ "Version": version, "Id": "p1", "Statement": [theirs, grant(&["c0", "c2"])] })),
            ),
            (
                "c1 alone beside the owner's: our statement goes, the owner's stays",
                Some(json!({ "Version": version, "Statement": [grant(&["c1"]), theirs] }).to_string()),
                Put(json!({ "Version": version, "Statement": [theirs] })),
            ),
            (
                "c1 alone, no other statement: no policy at all",
                Some(json!({ "Version": version, "Statement": [grant(&["c1"])] }).to_string()),
                Delete,
            ),
            (
                "single statement object, ours with c1 only",
                Some(json!({ "Version": version, "Statement": grant(&["c1"]) }).to_string()),
                Delete,
            ),
            (
                "single statement object, ours with another cluster",
                Some(json!({ "Statement": grant(&["c1", "c3"]) }).to_string()),
                Put(json!({ "Statement": grant(&["c3"]) })),
            ),
            (
                "ours twice: c1 taken out of both",
                Some(json!({ "Statement": [grant(&["c1"]), theirs, grant(&["c1", "c2"])] }).to_string()),
                Put(json!({ "Statement": [theirs, grant(&["c2"])] })),
            ),
        ];
        for (case, existing, expected) in cases {
            let left = remove_from_bucket_policy(existing.as_deref(), &ours(), "my-oidc")
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(left, expected, "{case}");
        }
        // The inverse of the merge: adding c1 then removing it gives back the policy.
        let before = json!({ "Id": "p1", "Statement": [theirs, grant(&["c0"])] });
        let (merged, _) =
            merge_bucket_policy(Some(&before.to_string()), ours(), "my-oidc").unwrap();
        assert_eq!(
            remove_from_bucket_policy(Some(&merged.to_string()), &ours(), "my-oidc").unwrap(),
            Put(before)
        );
    }

    #[test]
    fn remove_from_bucket_policy_refuses_what_it_cannot_edit() {
        assert!(matches!(
            remove_from_bucket_policy(Some("{not json"), &ours(), "my-oidc"),
            Err(PolicyError::ExistingPolicyJson(_))
        ));
        assert!(matches!(
            remove_from_bucket_policy(Some("[1]"), &ours(), "my-oidc"),
            Err(PolicyError::ExistingPolicyShape(_))
        ));
        assert!(matches!(
            remove_from_bucket_policy(Some(r#"{"Statement": "x"}"#), &ours(), "my-oidc"),
            Err(PolicyError::ExistingPolicyShape(_))
        ));
        let mut deny = ours();
        deny["Effect"] = json!("Deny");
        assert_eq!(
            remove_from_bucket_policy(
                Some(&json!({ "Statement": [deny] }).to_string()),
                &ours(),
                "my-oidc"
            )
            .unwrap_err(),
            PolicyError::NotOurStatement {
                sid: BUCKET_POLICY_SID.into(),
                reason: "its Effect is Deny, not Allow".into()
            }
        );
    }

    #[test]
    fn a_hundred_clusters_fit_in_one_bucket_policy_and_the_limit_is_refused_before_s3() {
        // Names as long as operators use: a 30-character bucket, prefixes like prod-eu-west-1-042.
        let bucket = "acme-platform-oidc-issuers-prd";
        let mut policy: Option<String> = None;
        let mut fitted = 0;
        let error = loop {
            let prefix = format!("prod-eu-west-1-{fitted:03}");
            let statement = bucket_policy_statement("aws", bucket, &prefix).unwrap();
            match merge_bucket_policy(policy.as_deref(), statement, bucket) {
                Ok((merged, changed)) => {
                    assert!(changed, "cluster {fitted} was added");
                    assert!(policy_bytes(&merged) <= BUCKET_POLICY_MAX_BYTES);
                    policy = Some(merged.to_string());
                    fitted += 1;
                }
                Err(error) => break error,
            }
            assert!(fitted < 1000, "the limit is never reached");
        };
        assert!(fitted >= 100, "only {fitted} clusters fit");
        let PolicyError::PolicyTooLarge {
            bytes, clusters, ..
        } = &error
        else {
            panic!("{error}");
        };
        assert!(*bytes > BUCKET_POLICY_MAX_BYTES);
        assert_eq!(*clusters, fitted + 1);
        assert!(error.to_string().contains("20 KB"), "{error}");
        // Every cluster already there is still granted: re-adding one changes nothing.
        let first = bucket_policy_statement("aws", bucket, "prod-eu-west-1-000").unwrap();
        let (_, changed) = merge_bucket_policy(policy.as_deref(), first, bucket).unwrap();
        assert!(!changed);
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
