//! Unit tests of `bootstrap --delete` against the in-memory effects: three clusters in one
//! bucket, one removed (the others and the owner's statement untouched), a re-run plans
//! nothing, untagged provider and role kept, the last cluster leaves no policy, a role that
//! IAM refuses to delete.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::bootstrap::memory::{MemoryBucket, MemoryEffects, MemoryRole};
use crate::bootstrap::PublicAccessBlock;
use crate::model::policy;
use crate::plan::{CLUSTER_TAG, MANAGED_BY_TAG, MANAGED_BY_VALUE};

const BUCKET: &str = "acme-oidc";

fn provider_arn(cluster: &str) -> String {
    format!("arn:aws:iam::123456789012:oidc-provider/{BUCKET}.s3.eu-west-1.amazonaws.com/{cluster}")
}

fn ours() -> BTreeMap<String, String> {
    BTreeMap::from([(MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned())])
}

fn target(cluster: &str, role: Option<&str>) -> Target {
    Target {
        bucket: BUCKET.into(),
        statement: policy::bucket_policy_statement("aws", BUCKET, cluster).unwrap(),
        keys: [
            ".well-known/openid-configuration",
            "openid/v1/jwks",
            ".kube-oidc-publisher/state.json",
        ]
        .iter()
        .map(|k| format!("{cluster}/{k}"))
        .collect(),
        provider_arn: provider_arn(cluster),
        skip_provider: None,
        role: role.map(str::to_owned),
        cluster_name: cluster.into(),
    }
}

fn owners() -> Value {
    json!({
        "Sid": "AllowServerAccessLogs",
        "Effect": "Allow",
        "Principal": { "Service": "logging.s3.amazonaws.com" },
        "Action": "s3:PutObject",
        "Resource": format!("arn:aws:s3:::{BUCKET}/access-logs/*")
    })
}

/// A bucket serving `clusters`, each with its objects, a tagged provider and a tagged role
/// `role-<cluster>` with our inline policy; the owner's statement first when `owner`.
fn world(clusters: &[&str], owner: bool) -> MemoryEffects {
    let effects = MemoryEffects::new("eu-west-1");
    let mut policy: Option<String> =
        owner.then(|| json!({ "Version": "2012-10-17", "Statement": [owners()] }).to_string());
    for cluster in clusters {
        let statement = policy::bucket_policy_statement("aws", BUCKET, cluster).unwrap();
        let (merged, _) =
            policy::merge_bucket_policy(policy.as_deref(), statement, BUCKET).unwrap();
        policy = Some(merged.to_string());
        for key in target(cluster, None).keys {
            effects.insert_object(BUCKET, &key);
        }
        effects.insert_provider(&provider_arn(cluster), ours());
        let mut tags = ours();
        tags.insert(CLUSTER_TAG.into(), (*cluster).into());
        effects.insert_role(
            &format!("role-{cluster}"),
            MemoryRole {
                arn: format!("arn:aws:iam::123456789012:role/role-{cluster}"),
                trust_policy: format!("{{\"Federated\": \"{}\"}}", provider_arn(cluster)),
                tags,
                policies: BTreeMap::from([(ROLE_POLICY_NAME.to_owned(), "{}".to_owned())]),
            },
        );
    }
    effects.insert_bucket(
        BUCKET,
        MemoryBucket {
            region: "eu-west-1".into(),
            ownership: Some(crate::bootstrap::BUCKET_OWNER_ENFORCED.into()),
            public_access_block: Some(PublicAccessBlock::PUBLISHABLE),
            policy,
            foreign: false,
        },
    );
    effects
}

async fn delete(effects: &MemoryEffects, target: &Target) -> DeletePlan {
    let observed = observe(effects, target).await.unwrap();
    let plan = plan(target, &observed).unwrap();
    apply(&plan.changes, effects).await.unwrap();
    plan
}

fn grants(effects: &MemoryEffects) -> Vec<String> {
    let Some(text) = effects.bucket(BUCKET).unwrap().policy else {
        return vec![];
    };
    let policy: Value = serde_json::from_str(&text).unwrap();
    crate::model::bucket_statement::statements(&policy)
        .into_iter()
        .filter(|s| s["Sid"] == policy::BUCKET_POLICY_SID)
        .flat_map(|s| s["Resource"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

fn actions(plan: &DeletePlan) -> Vec<&'static str> {
    plan.changes.iter().map(DeleteChange::action).collect()
}

#[tokio::test]
async fn removing_one_of_three_clusters_touches_nothing_of_the_others_and_a_rerun_writes_nothing() {
    let effects = world(&["c1", "c2", "c3"], true);
    let before = effects.bucket(BUCKET).unwrap();
    let c2 = target("c2", Some("role-c2"));
    let plan = delete(&effects, &c2).await;
    assert_eq!(
        actions(&plan),
        [
            "s3:PutBucketPolicy",
            "s3:DeleteObject",
            "s3:DeleteObject",
            "s3:DeleteObject",
            "iam:DeleteOpenIDConnectProvider",
            "iam:DeleteRolePolicy",
            "iam:DeleteRole"
        ]
    );
    assert!(plan.kept.is_empty() && plan.gone.is_empty(), "{plan:?}");
    let after = effects.bucket(BUCKET).unwrap();
    assert_eq!(
        plan.bucket_policy_bytes,
        after.policy.as_ref().unwrap().len()
    );
    let policy: Value = serde_json::from_str(after.policy.as_ref().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0], owners());
    let left = grants(&effects);
    assert_eq!(left.len(), 4);
    assert!(
        left.iter()
            .all(|r| r.contains("/c1/") || r.contains("/c3/")),
        "{left:?}"
    );
    // The bucket's own configuration is the owner's: untouched.
    assert_eq!(after.public_access_block, before.public_access_block);
    assert_eq!(after.ownership, before.ownership);
    for cluster in ["c1", "c3"] {
        for key in target(cluster, None).keys {
            assert!(effects.has_object(BUCKET, &key), "{key}");
        }
        assert!(effects.has_provider(&provider_arn(cluster)));
        assert!(effects.role_state(&format!("role-{cluster}")).is_some());
    }
    for key in &c2.keys {
        assert!(!effects.has_object(BUCKET, key), "{key}");
    }
    assert!(!effects.has_provider(&provider_arn("c2")));
    assert!(effects.role_state("role-c2").is_none());

    let writes = effects.writes();
    let again = delete(&effects, &c2).await;
    assert!(again.changes.is_empty(), "{again:?}");
    assert_eq!(again.gone.len(), 6, "{again:?}");
    assert_eq!(effects.writes(), writes);
}

#[tokio::test]
async fn the_last_cluster_leaves_the_owners_statement_or_no_policy_at_all() {
    let effects = world(&["c1", "c2"], true);
    delete(&effects, &target("c1", None)).await;
    let plan = delete(&effects, &target("c2", None)).await;
    assert_eq!(actions(&plan)[0], "s3:PutBucketPolicy");
    let policy: Value =
        serde_json::from_str(&effects.bucket(BUCKET).unwrap().policy.unwrap()).unwrap();
    assert_eq!(
        policy,
        json!({ "Version": "2012-10-17", "Statement": [owners()] })
    );

    let effects = world(&["c1", "c2"], false);
    delete(&effects, &target("c2", None)).await;
    let plan = delete(&effects, &target("c1", None)).await;
    assert_eq!(actions(&plan)[0], "s3:DeleteBucketPolicy");
    assert_eq!(plan.bucket_policy_bytes, 0);
    assert_eq!(effects.bucket(BUCKET).unwrap().policy, None);
    assert_eq!(effects.calls("delete_bucket_policy"), 1);
}

#[tokio::test]
async fn an_untagged_provider_and_an_untagged_or_foreign_role_are_kept_and_said_so() {
    let effects = world(&["c1", "c2"], false);
    effects.insert_provider(&provider_arn("c1"), BTreeMap::new());
    let mut role = effects.role_state("role-c1").unwrap();
    role.tags.clear();
    effects.insert_role("role-c1", role);
    let plan = delete(&effects, &target("c1", Some("role-c1"))).await;
    assert!(
        !actions(&plan).iter().any(|a| a.starts_with("iam:")),
        "{plan:?}"
    );
    assert_eq!(plan.kept.len(), 2, "{plan:?}");
    assert!(plan
        .kept
        .iter()
        .all(|k| k.reason.starts_with("not created by kube-oidc-publisher")));
    assert!(effects.has_provider(&provider_arn("c1")));
    assert!(effects.role_state("role-c1").is_some());

    // c2's role named while deleting c1 (a typo): tagged ours, but another cluster's.
    let plan = delete(&effects, &target("c1", Some("role-c2"))).await;
    assert!(effects.role_state("role-c2").is_some());
    assert!(plan
        .kept
        .iter()
        .any(|k| k.item == "IAM role role-c2"
            && k.reason.contains("another cluster's publisher role")));
}

#[tokio::test]
async fn a_statement_with_our_sid_that_is_not_ours_is_refused_before_any_write() {
    let effects = world(&["c1"], false);
    let mut deny = policy::bucket_policy_statement("aws", BUCKET, "c1").unwrap();
    deny["Effect"] = json!("Deny");
    let mut bucket = effects.bucket(BUCKET).unwrap();
    bucket.policy = Some(json!({ "Statement": [deny] }).to_string());
    effects.insert_bucket(BUCKET, bucket);
    let c1 = target("c1", None);
    let observed = observe(&effects, &c1).await.unwrap();
    let error = plan(&c1, &observed).unwrap_err();
    assert!(matches!(
        error,
        Error::BucketPolicy {
            error: policy::PolicyError::NotOurStatement { .. },
            ..
        }
    ));
    assert_eq!(effects.writes(), 0);
}

#[tokio::test]
async fn a_role_iam_refuses_to_delete_says_what_to_detach_and_what_is_done() {
    let effects = world(&["c1"], false);
    let mut role = effects.role_state("role-c1").unwrap();
    role.policies.insert("added-by-hand".into(), "{}".into());
    effects.insert_role("role-c1", role);
    let c1 = target("c1", Some("role-c1"));
    let observed = observe(&effects, &c1).await.unwrap();
    let plan = plan(&c1, &observed).unwrap();
    let error = apply(&plan.changes, &effects).await.unwrap_err();
    assert!(matches!(error.error, Error::RoleDeleteConflict { .. }));
    let text = error.to_string();
    assert!(
        text.contains("aws iam list-role-policies --role-name role-c1"),
        "{text}"
    );
    assert!(text.contains("iam:DeleteOpenIDConnectProvider"), "{text}");
    assert!(text.contains("run bootstrap --delete again"), "{text}");
    // Everything else is done; the re-run only tries the role again.
    let observed = observe(&effects, &c1).await.unwrap();
    assert_eq!(
        actions(&super::plan(&c1, &observed).unwrap()),
        ["iam:DeleteRole"]
    );
}

#[test]
fn the_api_server_check_refuses_while_it_signs_for_the_issuer_or_cannot_tell() {
    let issuer = "https://acme-oidc.s3.eu-west-1.amazonaws.com/c1";
    let other = Some(Ok(Some("https://kubernetes.default.svc".to_owned())));
    assert_eq!(
        check_api_server(issuer, other.clone(), false).unwrap(),
        ApiServerCheck::Passed {
            api_server_issuer: "https://kubernetes.default.svc".into()
        }
    );
    for signing in [issuer.to_owned(), format!("{issuer}/")] {
        let error = check_api_server(issuer, Some(Ok(Some(signing))), false).unwrap_err();
        assert!(matches!(error, Error::StillSigning { .. }), "{error}");
        let text = error.to_string();
        assert!(
            text.contains("InvalidIdentityToken") && text.contains("--force"),
            "{text}"
        );
    }
    for answer in [
        None,
        Some(Err("connection refused".to_owned())),
        Some(Ok(None)),
    ] {
        let error = check_api_server(issuer, answer.clone(), false).unwrap_err();
        assert!(
            matches!(error, Error::CannotTellIfSigning { .. }),
            "{answer:?}"
        );
        assert!(error.to_string().contains("--force"), "{error}");
        assert_eq!(
            check_api_server(issuer, answer, true).unwrap(),
            ApiServerCheck::Skipped
        );
    }
    assert_eq!(
        check_api_server(issuer, Some(Ok(Some(issuer.into()))), true).unwrap(),
        ApiServerCheck::Skipped
    );
}

#[tokio::test]
async fn the_operator_policy_allows_every_call_delete_makes() {
    let effects = world(&["c1", "c2"], false);
    let mut actions = Vec::new();
    for cluster in ["c1", "c2"] {
        let plan = delete(&effects, &target(cluster, Some(&format!("role-{cluster}")))).await;
        actions.extend(plan.changes.iter().map(DeleteChange::action));
    }
    assert!(actions.contains(&"s3:DeleteBucketPolicy"), "{actions:?}");
    let template = policy::OPERATOR_POLICY.text;
    for action in actions {
        assert!(template.contains(&format!("\"{action}\"")), "{action}");
    }
}

#[tokio::test]
async fn with_no_iam_the_provider_is_neither_read_nor_removed() {
    let effects = world(&["c1"], false);
    let mut c1 = target("c1", None);
    c1.skip_provider = Some("--no-iam: not looked at".to_owned());
    let plan = delete(&effects, &c1).await;
    assert!(effects.has_provider(&provider_arn("c1")));
    assert_eq!(effects.calls("provider_tags"), 0);
    assert_eq!(plan.kept.len(), 1, "{plan:?}");
    assert!(plan.kept[0].reason.starts_with("--no-iam"));
}
