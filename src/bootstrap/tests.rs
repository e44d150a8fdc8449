//! Unit tests of the bootstrap plan against the in-memory effects: each step's idempotence,
//! the policy merge, the refusals, and recovery after a failed call.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::memory::{MemoryBucket, MemoryEffects, MemoryRole};
use super::*;
use crate::model::policy;
use crate::model::Issuer;
use crate::plan::{MANAGED_BY_TAG, MANAGED_BY_VALUE};

const BUCKET: &str = "acme-oidc";
const ROLE: &str = "kube-oidc-publisher-prod-1";
const ACCOUNT: &str = "123456789012";

fn issuer(region: &str) -> Issuer {
    Issuer::for_s3_bucket(BUCKET, region, "prod-1").unwrap()
}

fn desired_role(region: &str, adopt: bool) -> DesiredRole {
    let issuer = issuer(region);
    let provider_arn = policy::provider_arn("aws", ACCOUNT, &issuer).unwrap();
    let trust = policy::trust_policy(
        &provider_arn,
        issuer.provider_url(),
        DEFAULT_PUBLISHER_NAMESPACE,
        DEFAULT_PUBLISHER_SERVICE_ACCOUNT,
        policy::DEFAULT_AUDIENCE,
    )
    .unwrap();
    let mut tags = BTreeMap::new();
    tags.insert(MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned());
    tags.insert(crate::plan::CLUSTER_TAG.to_owned(), "prod-1".to_owned());
    DesiredRole {
        name: ROLE.into(),
        subject: "system:serviceaccount:kube-oidc-publisher:kube-oidc-publisher".into(),
        trust_policy: trust.document,
        policy: policy::publisher_role_policy("aws", BUCKET, "prod-1", &provider_arn).unwrap(),
        tags,
        adopt,
    }
}

fn desired(region: &str, role: bool) -> Desired {
    Desired {
        bucket: BUCKET.into(),
        region: region.into(),
        hosting: Hosting::S3,
        statement: policy::bucket_policy_statement("aws", BUCKET, "prod-1").unwrap(),
        role: role.then(|| desired_role(region, false)),
    }
}

async fn plan_now(effects: &MemoryEffects, desired: &Desired) -> Result<Plan, Error> {
    let observed = observe(effects, desired, ACCOUNT).await?;
    plan(desired, &observed)
}

/// observe → plan → apply, bucket then role; returns the plan that was applied.
async fn bootstrap(effects: &MemoryEffects, desired: &Desired) -> Plan {
    let plan = plan_now(effects, desired).await.unwrap();
    apply(&plan.bucket, effects).await.unwrap();
    apply(&plan.role, effects).await.unwrap();
    plan
}

fn actions(changes: &[BootstrapChange]) -> Vec<&'static str> {
    changes.iter().map(BootstrapChange::action).collect()
}

fn policy_of(effects: &MemoryEffects) -> Value {
    serde_json::from_str(&effects.bucket(BUCKET).unwrap().policy.unwrap()).unwrap()
}

#[tokio::test]
async fn idempotency_fresh_account_then_a_second_run_writes_nothing() {
    let effects = MemoryEffects::new("eu-west-1");
    let desired = desired("eu-west-1", true);
    let first = bootstrap(&effects, &desired).await;
    assert_eq!(
        actions(&first.bucket),
        [
            "s3:CreateBucket",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketPolicy"
        ],
        "created with BucketOwnerEnforced, so no separate ownership call"
    );
    assert_eq!(
        actions(&first.role),
        ["iam:CreateRole", "iam:PutRolePolicy"]
    );
    let BootstrapChange::CreateBucket {
        location_constraint,
        ..
    } = &first.bucket[0]
    else {
        unreachable!()
    };
    assert_eq!(location_constraint.as_deref(), Some("eu-west-1"));

    let bucket = effects.bucket(BUCKET).unwrap();
    assert_eq!(bucket.ownership.as_deref(), Some(BUCKET_OWNER_ENFORCED));
    assert_eq!(
        bucket.public_access_block,
        Some(PublicAccessBlock::PUBLISHABLE)
    );
    assert_eq!(
        policy_of(&effects),
        json!({ "Version": "2012-10-17", "Statement": [desired.statement] })
    );
    let role = effects.role_state(ROLE).unwrap();
    assert_eq!(
        role.tags.get(MANAGED_BY_TAG).map(String::as_str),
        Some(MANAGED_BY_VALUE)
    );
    assert!(same_policy(
        &role.trust_policy,
        &desired.role.as_ref().unwrap().trust_policy
    ));
    assert!(same_policy(
        &role.policies[ROLE_POLICY_NAME],
        &desired.role.as_ref().unwrap().policy
    ));

    let writes = effects.writes();
    let second = plan_now(&effects, &desired).await.unwrap();
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(second.role_arn.as_deref(), Some(role.arn.as_str()));
    assert_eq!(effects.writes(), writes, "observing writes nothing");
}

#[tokio::test]
async fn us_east_1_buckets_are_created_without_a_location_constraint() {
    let effects = MemoryEffects::new("us-east-1");
    let plan = plan_now(&effects, &desired("us-east-1", false))
        .await
        .unwrap();
    assert_eq!(
        plan.bucket[0],
        BootstrapChange::CreateBucket {
            bucket: BUCKET.into(),
            location_constraint: None,
            object_ownership: BUCKET_OWNER_ENFORCED,
        }
    );
    assert!(plan.role.is_empty());
    assert!(plan.bucket[0].describe().contains("no LocationConstraint"));
}

#[tokio::test]
async fn an_existing_bucket_policy_keeps_its_other_statements() {
    let effects = MemoryEffects::new("eu-west-1");
    let theirs = json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::acme-oidc", "arn:aws:s3:::acme-oidc/*"],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    });
    effects.insert_bucket(
        BUCKET,
        MemoryBucket {
            region: "eu-west-1".into(),
            ownership: Some(BUCKET_OWNER_ENFORCED.into()),
            public_access_block: Some(PublicAccessBlock::PUBLISHABLE),
            policy: Some(
                json!({ "Version": "2012-10-17", "Id": "p1", "Statement": [theirs] }).to_string(),
            ),
            foreign: false,
        },
    );
    let desired = desired("eu-west-1", false);
    let plan = bootstrap(&effects, &desired).await;
    assert_eq!(actions(&plan.bucket), ["s3:PutBucketPolicy"]);
    assert!(
        plan.bucket[0]
            .describe()
            .contains("add statement KubeOidcPublisherPublicRead"),
        "{}",
        plan.bucket[0].describe()
    );
    assert!(plan.bucket[0].describe().contains("1 other statement kept"));
    assert_eq!(
        policy_of(&effects),
        json!({ "Version": "2012-10-17", "Id": "p1", "Statement": [theirs, desired.statement] })
    );
    assert!(plan_now(&effects, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_stale_statement_of_ours_is_replaced_and_a_reformatted_one_is_left_alone() {
    let effects = MemoryEffects::new("eu-west-1");
    let desired = desired("eu-west-1", false);
    // Ours, from a run with another --prefix.
    let mut stale = desired.statement.clone();
    stale["Resource"] = json!("arn:aws:s3:::acme-oidc/old/openid/v1/jwks");
    let bucket = |policy: Value| MemoryBucket {
        region: "eu-west-1".into(),
        ownership: Some(BUCKET_OWNER_ENFORCED.into()),
        public_access_block: Some(PublicAccessBlock::PUBLISHABLE),
        policy: Some(policy.to_string()),
        foreign: false,
    };
    effects.insert_bucket(
        BUCKET,
        bucket(json!({ "Version": "2012-10-17", "Statement": [stale] })),
    );
    let plan = plan_now(&effects, &desired).await.unwrap();
    assert!(plan.bucket[0].describe().contains("update statement"));

    // The same meaning written differently (lists of one, reordered resources): no write.
    let mut reformatted = desired.statement.clone();
    reformatted["Action"] = json!(["s3:GetObject"]);
    let mut resources = reformatted["Resource"].as_array().unwrap().clone();
    resources.reverse();
    reformatted["Resource"] = json!(resources);
    effects.insert_bucket(
        BUCKET,
        bucket(json!({ "Version": "2012-10-17", "Statement": reformatted })),
    );
    assert!(plan_now(&effects, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn ownership_and_public_access_block_are_set_only_when_different() {
    let effects = MemoryEffects::new("eu-west-1");
    let desired = desired("eu-west-1", false);
    let all_blocked = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    effects.insert_bucket(
        BUCKET,
        MemoryBucket {
            region: "eu-west-1".into(),
            ownership: Some("ObjectWriter".into()),
            public_access_block: Some(all_blocked),
            policy: None,
            foreign: false,
        },
    );
    let plan = bootstrap(&effects, &desired).await;
    assert_eq!(
        actions(&plan.bucket),
        [
            "s3:PutBucketOwnershipControls",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketPolicy"
        ]
    );
    assert!(plan.bucket[0].describe().contains("was ObjectWriter"));
    let described = plan.bucket[1].describe();
    assert!(
        described.contains(
            "BlockPublicPolicy true -> false, RestrictPublicBuckets true -> false (was BlockPublicAcls=true"
        ),
        "{described}"
    );
    assert!(
        described.contains("safe: the bucket has no policy yet"),
        "{described}"
    );
    assert!(plan_now(&effects, &desired).await.unwrap().is_empty());
}

fn bucket_with(public_access_block: PublicAccessBlock, statements: Value) -> MemoryBucket {
    MemoryBucket {
        region: "eu-west-1".into(),
        ownership: Some(BUCKET_OWNER_ENFORCED.into()),
        public_access_block: Some(public_access_block),
        policy: Some(json!({ "Version": "2012-10-17", "Statement": statements }).to_string()),
        foreign: false,
    }
}

fn owners_public_read() -> Value {
    json!({
        "Sid": "OldWebsite",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::acme-oidc/*"
    })
}

#[tokio::test]
async fn block_public_access_is_not_relaxed_under_a_dormant_public_statement() {
    let effects = MemoryEffects::new("eu-west-1");
    let desired = desired("eu-west-1", false);
    for blocked in [
        PublicAccessBlock::ALL_BLOCKED,
        PublicAccessBlock {
            block_public_policy: false,
            ..PublicAccessBlock::ALL_BLOCKED
        },
        PublicAccessBlock {
            restrict_public_buckets: false,
            ..PublicAccessBlock::ALL_BLOCKED
        },
    ] {
        effects.insert_bucket(BUCKET, bucket_with(blocked, json!([owners_public_read()])));
        let err = plan_now(&effects, &desired).await.unwrap_err();
        assert!(
            matches!(&err, Error::OtherPublicStatements { statements, .. } if statements.len() == 1),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(
                "Sid \"OldWebsite\" (Allow s3:GetObject on arn:aws:s3:::acme-oidc/* to *)"
            ),
            "{text}"
        );
        assert!(text.contains("Nothing was changed"), "{text}");
    }
    assert_eq!(effects.writes(), 0);

    // Restricted to a fixed VPC endpoint, it is not public: bootstrap goes ahead and says why.
    let mut restricted = owners_public_read();
    restricted["Condition"] = json!({ "StringEquals": { "aws:SourceVpce": "vpce-1a2b3c4d" } });
    effects.insert_bucket(
        BUCKET,
        bucket_with(PublicAccessBlock::ALL_BLOCKED, json!([restricted])),
    );
    let plan = bootstrap(&effects, &desired).await;
    assert_eq!(
        actions(&plan.bucket),
        ["s3:PutBucketPublicAccessBlock", "s3:PutBucketPolicy"]
    );
    assert!(
        plan.bucket[0]
            .describe()
            .ends_with("safe: no other statement grants public access (1 other statement checked)"),
        "{}",
        plan.bucket[0].describe()
    );

    // Block Public Access already off: the statement is live already, nothing is relaxed.
    effects.insert_bucket(
        BUCKET,
        bucket_with(
            PublicAccessBlock::PUBLISHABLE,
            json!([owners_public_read()]),
        ),
    );
    let plan = plan_now(&effects, &desired).await.unwrap();
    assert_eq!(actions(&plan.bucket), ["s3:PutBucketPolicy"]);
}

#[tokio::test]
async fn a_statement_with_our_sid_that_is_not_ours_is_refused() {
    let effects = MemoryEffects::new("eu-west-1");
    let desired = desired("eu-west-1", false);
    let mut deny = desired.statement.clone();
    deny["Effect"] = json!("Deny");
    effects.insert_bucket(
        BUCKET,
        bucket_with(PublicAccessBlock::ALL_BLOCKED, json!([deny])),
    );
    let err = plan_now(&effects, &desired).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "statement \"KubeOidcPublisherPublicRead\" has the Sid kube-oidc-publisher uses"
        ),
        "{text}"
    );
    assert!(text.contains("its Effect is Deny, not Allow"), "{text}");
    assert_eq!(effects.writes(), 0);
}

#[tokio::test]
async fn account_level_block_public_access_stops_before_anything_changes() {
    let effects = MemoryEffects::new("eu-west-1");
    let desired = desired("eu-west-1", true);
    for (policy, restrict) in [(true, false), (false, true), (true, true)] {
        effects.set_account_public_access_block(Some(PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: policy,
            restrict_public_buckets: restrict,
        }));
        let err = plan_now(&effects, &desired).await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, Error::AccountBlocksPublicPolicy { .. }),
            "{text}"
        );
        assert!(
            text.contains("aws s3control put-public-access-block --account-id 123456789012 --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false"),
            "{text}"
        );
        assert!(text.contains("STS could not read the documents"), "{text}");
        assert!(text.contains("--hosting cloudfront"), "{text}");
    }
    assert_eq!(effects.writes(), 0);
    assert_eq!(
        effects.calls("head_bucket"),
        0,
        "the account check comes first"
    );

    // Blocking only ACLs at the account level is fine, and so is no configuration at all.
    effects.set_account_public_access_block(Some(PublicAccessBlock::PUBLISHABLE));
    assert!(plan_now(&effects, &desired).await.is_ok());
    effects.set_account_public_access_block(None);
    assert!(plan_now(&effects, &desired).await.is_ok());
}

#[tokio::test]
async fn a_bucket_of_another_account_is_refused() {
    let effects = MemoryEffects::new("eu-west-1");
    effects.insert_bucket(
        BUCKET,
        MemoryBucket {
            foreign: true,
            ..Default::default()
        },
    );
    let err = plan_now(&effects, &desired("eu-west-1", false))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("pick another --bucket name"),
        "{err}"
    );
    assert_eq!(effects.writes(), 0);
}

#[tokio::test]
async fn a_bucket_in_another_region_names_the_region() {
    let effects = MemoryEffects::new("eu-west-1");
    effects.insert_bucket(
        BUCKET,
        MemoryBucket {
            region: "us-west-2".into(),
            ..Default::default()
        },
    );
    let err = plan_now(&effects, &desired("eu-west-1", false))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--region us-west-2"), "{err}");
}

#[tokio::test]
async fn a_changed_trust_policy_is_updated_and_nothing_else() {
    let effects = MemoryEffects::new("eu-west-1");
    let desired = desired("eu-west-1", true);
    bootstrap(&effects, &desired).await;
    let mut role = effects.role_state(ROLE).unwrap();
    role.trust_policy = json!({ "Version": "2012-10-17", "Statement": [] }).to_string();
    effects.insert_role(ROLE, role.clone());
    let plan = bootstrap(&effects, &desired).await;
    assert!(plan.bucket.is_empty());
    assert_eq!(actions(&plan.role), ["iam:UpdateAssumeRolePolicy"]);

    // The inline policy removed by hand: put back, nothing else.
    let mut role = effects.role_state(ROLE).unwrap();
    role.policies.clear();
    effects.insert_role(ROLE, role);
    let plan = bootstrap(&effects, &desired).await;
    assert_eq!(actions(&plan.role), ["iam:PutRolePolicy"]);
    assert!(plan_now(&effects, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_role_without_our_tag_is_left_alone_unless_adopted() {
    let effects = MemoryEffects::new("eu-west-1");
    let mut desired = desired("eu-west-1", true);
    effects.insert_role(
        ROLE,
        MemoryRole {
            arn: format!("arn:aws:iam::{ACCOUNT}:role/{ROLE}"),
            trust_policy: json!({ "Version": "2012-10-17", "Statement": [] }).to_string(),
            tags: BTreeMap::new(),
            policies: BTreeMap::new(),
        },
    );
    let err = plan_now(&effects, &desired).await.unwrap_err();
    assert!(matches!(err, Error::UnmanagedRole { .. }), "{err}");
    assert!(err.to_string().contains("--adopt"), "{err}");
    assert_eq!(effects.writes(), 0);

    desired.role.as_mut().unwrap().adopt = true;
    let plan = bootstrap(&effects, &desired).await;
    assert_eq!(
        actions(&plan.role),
        [
            "iam:TagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:PutRolePolicy"
        ]
    );
    // Once tagged it is ours: no --adopt needed any more, and nothing left to do.
    desired.role.as_mut().unwrap().adopt = false;
    assert!(plan_now(&effects, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_call_keeps_what_was_done_and_the_next_run_completes() {
    let effects = MemoryEffects::new("eu-west-1");
    let desired = desired("eu-west-1", false);
    effects.fail("put_bucket_policy", || Error::AccessDenied {
        action: "s3:PutBucketPolicy",
        resource: "arn:aws:s3:::acme-oidc".into(),
    });
    let plan = plan_now(&effects, &desired).await.unwrap();
    let err = apply(&plan.bucket, &effects).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("access denied: s3:PutBucketPolicy on arn:aws:s3:::acme-oidc")
            && text.contains("templates/operator-policy.json"),
        "{text}"
    );
    assert_eq!(
        err.applied,
        ["s3:CreateBucket", "s3:PutBucketPublicAccessBlock"]
    );
    assert!(text.contains("run bootstrap again"), "{text}");

    effects.clear_failure();
    let repaired = bootstrap(&effects, &desired).await;
    assert_eq!(actions(&repaired.bucket), ["s3:PutBucketPolicy"]);
    assert!(plan_now(&effects, &desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unparseable_bucket_policy_is_refused_not_overwritten() {
    let effects = MemoryEffects::new("eu-west-1");
    effects.insert_bucket(
        BUCKET,
        MemoryBucket {
            region: "eu-west-1".into(),
            policy: Some("{not json".into()),
            ..Default::default()
        },
    );
    let err = plan_now(&effects, &desired("eu-west-1", false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BucketPolicy { .. }), "{err}");
}

#[test]
fn next_steps_name_the_issuer_and_the_role() {
    let steps = next_steps(
        "https://o.example/c1",
        Some("arn:aws:iam::123456789012:role/p"),
        "sts.amazonaws.com",
    );
    assert!(steps[1].contains("doctor --issuer https://o.example/c1"));
    assert!(
        steps[2].contains("AWS_ROLE_ARN=arn:aws:iam::123456789012:role/p")
            && steps[2].contains("deploy/config/config.env")
            && steps[2].contains("kubectl apply -k deploy/cronjob")
    );
    assert!(steps[3].contains("trust-policy --issuer https://o.example/c1 --namespace NS"));
}

#[test]
fn canonical_policies_compare_by_meaning() {
    let a = json!({ "Statement": [{ "Action": ["s3:GetObject"], "Resource": ["b", "a"] }] });
    let b = json!({ "Statement": { "Resource": ["a", "b"], "Action": "s3:GetObject" } });
    assert_eq!(canonical_policy(&a), canonical_policy(&b));
    assert!(same_policy(&a.to_string(), &b));
    assert!(!same_policy("{not json", &b));
    let c = json!({ "Statement": { "Resource": ["a"], "Action": "s3:GetObject" } });
    assert_ne!(canonical_policy(&a), canonical_policy(&c));
}

#[test]
fn role_names_are_checked_like_iam() {
    assert!(check_role_name("kube-oidc-publisher-prod.1@x").is_ok());
    for bad in ["", "has space", "a/b", &"r".repeat(65)] {
        assert!(check_role_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn every_change_names_its_aws_call() {
    let desired = desired("eu-west-1", true);
    let role = desired.role.unwrap();
    let changes = [
        BootstrapChange::TagRole {
            name: ROLE.into(),
            tags: role.tags.clone(),
        },
        BootstrapChange::UpdateAssumeRolePolicy {
            name: ROLE.into(),
            subject: role.subject.clone(),
            trust_policy: role.trust_policy.clone(),
        },
    ];
    for change in changes {
        assert!(change.describe().starts_with(change.action()));
        let value = serde_json::to_value(&change).unwrap();
        assert!(value["action"].is_string(), "{value}");
    }
}

const DISTRIBUTION_ARN: &str = "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456";

fn cloudfront_desired(prefix: &str) -> Desired {
    Desired {
        bucket: BUCKET.into(),
        region: "eu-west-1".into(),
        hosting: Hosting::CloudFront,
        statement: policy::cloudfront_bucket_statement("aws", BUCKET, prefix, DISTRIBUTION_ARN)
            .unwrap(),
        role: None,
    }
}

#[tokio::test]
async fn cloudfront_hosting_works_with_account_block_public_access_and_keeps_the_bucket_private() {
    let effects = MemoryEffects::new("eu-west-1");
    effects.set_account_public_access_block(Some(PublicAccessBlock::ALL_BLOCKED));
    let desired = cloudfront_desired("prod-1");
    let first = bootstrap(&effects, &desired).await;
    assert_eq!(
        actions(&first.bucket),
        [
            "s3:CreateBucket",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketPolicy"
        ],
        "every flag set explicitly, not left to S3's default"
    );
    let bucket = effects.bucket(BUCKET).unwrap();
    assert_eq!(
        bucket.public_access_block,
        Some(PublicAccessBlock::ALL_BLOCKED)
    );
    let written = policy_of(&effects);
    assert_eq!(
        written,
        json!({ "Version": "2012-10-17", "Statement": [desired.statement] })
    );
    assert!(crate::model::bucket_statement::public_statements(&written, "").is_empty());

    // Re-run: nothing to write. A second cluster in the bucket: only the statement grows.
    let writes = effects.writes();
    assert!(plan_now(&effects, &desired).await.unwrap().is_empty());
    let second = bootstrap(&effects, &cloudfront_desired("prod-2")).await;
    assert_eq!(actions(&second.bucket), ["s3:PutBucketPolicy"]);
    assert_eq!(effects.writes(), writes + 1);
    let resources = policy_of(&effects)["Statement"][0]["Resource"].clone();
    assert_eq!(resources.as_array().unwrap().len(), 4, "{resources}");
}

#[tokio::test]
async fn cloudfront_hosting_turns_every_flag_on_and_refuses_a_public_statement_first() {
    let effects = MemoryEffects::new("eu-west-1");
    // A bucket set up for S3 hosting: our public-read statement, policies allowed.
    let s3 = desired("eu-west-1", false);
    bootstrap(&effects, &s3).await;
    let writes = effects.writes();
    let err = plan_now(&effects, &cloudfront_desired("prod-1"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::PublicStatementsWithCloudFront { .. }),
        "{text}"
    );
    assert!(text.contains("KubeOidcPublisherPublicRead"), "{text}");
    assert!(text.contains("another --bucket"), "{text}");
    assert_eq!(effects.writes(), writes, "nothing changed");

    // The same bucket once its public grant is gone: every flag goes back on.
    effects.insert_bucket(
        BUCKET,
        MemoryBucket {
            policy: None,
            ..effects.bucket(BUCKET).unwrap()
        },
    );
    let plan = plan_now(&effects, &cloudfront_desired("prod-1"))
        .await
        .unwrap();
    assert_eq!(
        actions(&plan.bucket),
        ["s3:PutBucketPublicAccessBlock", "s3:PutBucketPolicy"]
    );
    let BootstrapChange::PutBucketPublicAccessBlock { to, why_safe, .. } = &plan.bucket[0] else {
        unreachable!()
    };
    assert_eq!(*to, PublicAccessBlock::ALL_BLOCKED);
    assert_eq!(*why_safe, None);
}
