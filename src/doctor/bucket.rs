//! The S3 side of an S3 store, judged as an anonymous reader (STS) meets it: Block Public
//! Access of the bucket and of the account (either one on hides the documents), Object
//! Ownership (ACLs disabled is the expected setting; this tool never uses ACLs), and a bucket
//! policy that lets anyone `s3:GetObject` both documents and denies them nothing. For an issuer
//! served by CloudFront the bucket is private on purpose: Block Public Access may be on and no
//! anonymous statement is needed (the distribution's statement is `cloudfront.bucket_policy`).
//! Pure.

use serde_json::Value;

use super::facts::{Gathered, PublicAccessBlock, S3Facts};
use super::findings::{sts, Finding};
use super::trust::{glob, strings};
use crate::model::bucket_statement;
use crate::model::policy::BUCKET_POLICY_SID;
use crate::model::{DISCOVERY_PATH, JWKS_PATH};

/// `s3.public_access_block`, `s3.account_public_access_block`, `s3.object_ownership`,
/// `s3.bucket_policy`. `via_cloudfront`: the issuer is served by CloudFront, which reads the
/// bucket as its service principal.
pub fn check(s3: &S3Facts, via_cloudfront: bool) -> Vec<Finding> {
    if via_cloudfront {
        return private_bucket(s3);
    }
    let keys = object_arns(s3);
    // Relaxing Block Public Access makes every public statement of the policy live, not only
    // ours: name the others first, as bootstrap refuses to relax it under them.
    let first = dormant_public_statements(s3).map_or(String::new(), |dormant| {
        format!("first remove or restrict the bucket policy's other public statements, which relaxing Block Public Access would make live: {dormant}; then ")
    });
    vec![
        block_finding("s3.public_access_block", &s3.bucket_block, &format!("bucket {}", s3.bucket),
            &format!("{first}aws s3api put-public-access-block --bucket {} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false", s3.bucket)),
        block_finding("s3.account_public_access_block", &s3.account_block, "the account",
            &format!("{first}aws s3control put-public-access-block --account-id <account> --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false (or serve the documents from another account, or through CloudFront)")),
        ownership_finding(s3),
        policy_finding(s3, &keys),
    ]
}

/// The bucket behind CloudFront: its public access does not matter to STS.
fn private_bucket(s3: &S3Facts) -> Vec<Finding> {
    let block = |check: &'static str, block: &Gathered<Option<PublicAccessBlock>>, whose: &str| {
        match block {
        Gathered::Got(_) => Finding::ok(
            check,
            format!("{whose}'s Block Public Access does not matter: STS reads the documents through CloudFront, whose statement S3 does not count as public"),
        ),
        Gathered::NotGiven { why, pass } => Finding::skipped(check, why.clone(), pass.clone()),
        Gathered::Failed { error } => Finding::could_not_run(check, error.clone()),
    }
    };
    let policy = match &s3.policy {
        Gathered::Got(_) => Finding::ok(
            "s3.bucket_policy",
            "served through CloudFront: no anonymous statement is needed (the distribution's statement is checked as cloudfront.bucket_policy)",
        ),
        Gathered::NotGiven { why, pass } => Finding::skipped("s3.bucket_policy", why.clone(), pass.clone()),
        Gathered::Failed { error } => Finding::could_not_run("s3.bucket_policy", error.clone()),
    };
    vec![
        block(
            "s3.public_access_block",
            &s3.bucket_block,
            &format!("bucket {}", s3.bucket),
        ),
        block(
            "s3.account_public_access_block",
            &s3.account_block,
            "the account",
        ),
        ownership_finding(s3),
        policy,
    ]
}

/// The bucket policy's public statements other than ours, listed for a message; `None` when
/// there are none (or no readable policy).
fn dormant_public_statements(s3: &S3Facts) -> Option<String> {
    let Gathered::Got(Some(policy)) = &s3.policy else {
        return None;
    };
    let policy: Value = serde_json::from_str(policy).ok()?;
    let public = bucket_statement::public_statements(&policy, BUCKET_POLICY_SID);
    (!public.is_empty()).then(|| {
        public
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// The two object ARNs STS reads.
fn object_arns(s3: &S3Facts) -> [String; 2] {
    let prefix = s3.prefix.trim_matches('/');
    let key = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        }
    };
    [
        format!(
            "arn:{}:s3:::{}/{}",
            s3.partition,
            s3.bucket,
            key(DISCOVERY_PATH)
        ),
        format!("arn:{}:s3:::{}/{}", s3.partition, s3.bucket, key(JWKS_PATH)),
    ]
}

fn block_finding(
    check: &'static str,
    block: &Gathered<Option<PublicAccessBlock>>,
    whose: &str,
    fix: &str,
) -> Finding {
    match block {
        Gathered::Got(None) => Finding::ok(check, format!("{whose} has no Block Public Access configuration")),
        Gathered::Got(Some(b)) if b.block_public_policy || b.restrict_public_buckets => {
            let on: Vec<&str> = [
                (b.block_public_policy, "BlockPublicPolicy"),
                (b.restrict_public_buckets, "RestrictPublicBuckets"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect();
            Finding::error(
                check,
                Some(sts::NO_KEY.into()),
                format!(
                    "{whose} has Block Public Access {} on: anonymous readers such as STS are refused whatever the bucket policy says",
                    on.join(" and ")
                ),
                fix,
            )
        }
        Gathered::Got(Some(_)) => Finding::ok(
            check,
            format!("{whose}'s Block Public Access allows a public bucket policy (ACLs may stay blocked)"),
        ),
        Gathered::NotGiven { why, pass } => Finding::skipped(check, why.clone(), pass.clone()),
        Gathered::Failed { error } => Finding::could_not_run(check, error.clone()),
    }
}

fn ownership_finding(s3: &S3Facts) -> Finding {
    const CHECK: &str = "s3.object_ownership";
    match &s3.ownership {
        Gathered::Got(Some(o)) if o == "BucketOwnerEnforced" => Finding::ok(
            CHECK,
            "Object Ownership is BucketOwnerEnforced: ACLs are disabled and the bucket policy alone decides",
        ),
        Gathered::Got(other) => Finding::warning(
            CHECK,
            format!(
                "Object Ownership is {}: ACLs are enabled, so an object ACL can grant or hide access beside the bucket policy",
                other.as_deref().unwrap_or("not set (ObjectWriter)")
            ),
            format!("aws s3api put-bucket-ownership-controls --bucket {} --ownership-controls Rules=[{{ObjectOwnership=BucketOwnerEnforced}}]", s3.bucket),
        ),
        Gathered::NotGiven { why, pass } => Finding::skipped(CHECK, why.clone(), pass.clone()),
        Gathered::Failed { error } => Finding::could_not_run(CHECK, error.clone()),
    }
}

fn policy_finding(s3: &S3Facts, keys: &[String; 2]) -> Finding {
    const CHECK: &str = "s3.bucket_policy";
    let fix = format!(
        "add a statement {{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":[\"{}\",\"{}\"]}} to the policy of bucket {} (bootstrap does this)",
        keys[0], keys[1], s3.bucket
    );
    let policy = match &s3.policy {
        Gathered::Got(Some(policy)) => policy,
        Gathered::Got(None) => {
            return Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!(
                    "bucket {} has no bucket policy, so anonymous GETs are refused",
                    s3.bucket
                ),
                fix,
            )
        }
        Gathered::NotGiven { why, pass } => {
            return Finding::skipped(CHECK, why.clone(), pass.clone())
        }
        Gathered::Failed { error } => return Finding::could_not_run(CHECK, error.clone()),
    };
    let doc: Value = match serde_json::from_str(policy) {
        Ok(doc) => doc,
        Err(e) => {
            return Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!("the bucket policy is not JSON ({e})"),
                fix,
            )
        }
    };
    // A `Statement` that is neither a list nor an object (which the model's reading drops) has
    // no Effect, so it could neither allow nor deny here.
    let statements = bucket_statement::statements(&doc);
    let mut missing = Vec::new();
    let mut denied = Vec::new();
    let mut conditional = Vec::new();
    for key in keys {
        let applies = |s: &Value| anonymous(s) && grants_get_object(s) && covers(s, key);
        if statements.iter().any(|s| effect(s) == "Deny" && applies(s)) {
            denied.push(key.clone());
        }
        let allows: Vec<&&Value> = statements
            .iter()
            .filter(|s| effect(s) == "Allow" && applies(s))
            .collect();
        if allows.is_empty() {
            missing.push(key.clone());
        } else if allows.iter().all(|s| s.get("Condition").is_some()) {
            conditional.push(key.clone());
        }
    }
    if !denied.is_empty() {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "the bucket policy denies anonymous s3:GetObject on {}",
                denied.join(" and ")
            ),
            "remove that Deny for these two objects",
        );
    }
    if !missing.is_empty() {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "the bucket policy grants no anonymous s3:GetObject on {}",
                missing.join(" and ")
            ),
            fix,
        );
    }
    if !conditional.is_empty() {
        return Finding::warning(
            CHECK,
            format!("anonymous s3:GetObject on {} is granted only under conditions doctor does not evaluate", conditional.join(" and ")),
            "make sure the conditions hold for STS (no source IP or VPC conditions: STS fetches from AWS's own addresses)",
        );
    }
    Finding::ok(
        CHECK,
        "the bucket policy grants anonymous s3:GetObject on both documents",
    )
}

pub(crate) fn effect(statement: &Value) -> &str {
    statement
        .get("Effect")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `Principal: "*"` or `{"AWS": "*"}` (or a list holding `"*"`).
///
/// Narrower than the wildcard principal of [`bucket_statement::grants_public_access`], on
/// purpose: this asks whether a statement matches STS's anonymous GET, that one whether S3
/// counts a statement public (conservatively: any `*` under any principal type, or
/// `NotPrincipal`).
pub(crate) fn anonymous(statement: &Value) -> bool {
    match statement.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(p)) => strings(p.get("AWS")).iter().any(|aws| aws == "*"),
        _ => false,
    }
}

pub(crate) fn grants_get_object(statement: &Value) -> bool {
    strings(statement.get("Action"))
        .iter()
        .any(|a| glob(&a.to_ascii_lowercase(), "s3:getobject"))
}

pub(crate) fn covers(statement: &Value, arn: &str) -> bool {
    strings(statement.get("Resource"))
        .iter()
        .any(|pattern| glob(pattern, arn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::findings::Severity;
    use serde_json::json;

    fn facts(policy: Option<Value>) -> S3Facts {
        S3Facts {
            bucket: "acme-oidc".into(),
            prefix: "c1".into(),
            partition: "aws".into(),
            bucket_block: Gathered::Got(Some(PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: false,
                restrict_public_buckets: false,
            })),
            account_block: Gathered::Got(None),
            ownership: Gathered::Got(Some("BucketOwnerEnforced".into())),
            policy: Gathered::Got(policy.map(|p| p.to_string())),
        }
    }

    fn good() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "KubeOidcPublisherPublicRead", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": [
                "arn:aws:s3:::acme-oidc/c1/.well-known/openid-configuration",
                "arn:aws:s3:::acme-oidc/c1/openid/v1/jwks",
            ],
        }]})
    }

    fn check_s3(s3: &S3Facts) -> Vec<Finding> {
        check(s3, false)
    }

    fn severity(findings: &[Finding], check: &str) -> Severity {
        findings.iter().find(|f| f.check == check).unwrap().severity
    }

    #[test]
    fn the_setup_bootstrap_makes_is_clean() {
        let findings = check_s3(&facts(Some(good())));
        assert!(
            findings.iter().all(|f| f.severity == Severity::Ok),
            "{findings:#?}"
        );
        // So is the statement the policy module renders.
        let statement =
            crate::model::policy::bucket_policy_statement("aws", "acme-oidc", "c1").unwrap();
        let findings = check_s3(&facts(Some(json!({"Statement": [statement]}))));
        assert_eq!(
            severity(&findings, "s3.bucket_policy"),
            Severity::Ok,
            "{findings:#?}"
        );
    }

    #[test]
    fn what_hides_the_documents_from_sts_is_an_error() {
        let mut blocked = facts(Some(good()));
        blocked.account_block = Gathered::Got(Some(PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }));
        let findings = check_s3(&blocked);
        let f = findings
            .iter()
            .find(|f| f.check == "s3.account_public_access_block")
            .unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.sts_error.as_deref(), Some(sts::NO_KEY));

        assert_eq!(
            severity(&check_s3(&facts(None)), "s3.bucket_policy"),
            Severity::Error
        );
        let only_one = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject"],
            "Resource": "arn:aws:s3:::acme-oidc/c1/openid/v1/jwks"}]});
        let findings = check_s3(&facts(Some(only_one)));
        let f = findings
            .iter()
            .find(|f| f.check == "s3.bucket_policy")
            .unwrap();
        assert!(
            f.message.contains(".well-known/openid-configuration"),
            "{}",
            f.message
        );
        let wildcard = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:Get*",
            "Resource": "arn:aws:s3:::acme-oidc/*"}]});
        assert_eq!(
            severity(&check_s3(&facts(Some(wildcard))), "s3.bucket_policy"),
            Severity::Ok
        );
        let mut deny = good();
        deny["Statement"].as_array_mut().unwrap().push(json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::acme-oidc/*"}));
        assert_eq!(
            severity(&check_s3(&facts(Some(deny))), "s3.bucket_policy"),
            Severity::Error
        );
        let mut acls = facts(Some(good()));
        acls.ownership = Gathered::Got(None);
        assert_eq!(
            severity(&check_s3(&acls), "s3.object_ownership"),
            Severity::Warning
        );
    }
}
