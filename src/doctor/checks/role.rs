//! `role.*` and `serviceaccount.annotation`: the role the pods assume, whose trust policy
//! [`crate::doctor::trust`] reads, and the ServiceAccount annotation that names it.

use super::gathered_skip;
use crate::doctor::config::RoleArn;
use crate::doctor::facts::{Facts, Gathered};
use crate::doctor::findings::{sts, Finding};
use crate::doctor::token::Decoded;
use crate::doctor::trust;

/// `role.exists` and the trust-policy findings.
pub(super) fn role_findings(
    facts: &Facts,
    token: Option<&Decoded>,
    audiences: &[String],
) -> Vec<Finding> {
    const CHECKS: [&str; 6] = [
        "role.exists",
        "role.principal",
        "role.action",
        "role.condition_keys",
        "role.sub",
        "role.aud",
    ];
    let role = match &facts.role {
        Gathered::Got(role) => role,
        other => return CHECKS.iter().map(|c| gathered_skip(c, other)).collect(),
    };
    let Some(policy) = &role.trust_policy else {
        let mut out = vec![Finding::error(
            "role.exists",
            Some(sts::ACCESS_DENIED.into()),
            format!("the role {} does not exist", role.arn),
            "create it with the trust policy `kube-oidc-publisher trust-policy` prints, or fix --role-arn",
        )];
        out.extend(CHECKS[1..].iter().map(|c| {
            Finding::skipped(
                c,
                "not checked: the role does not exist",
                "fix role.exists first",
            )
        }));
        return out;
    };
    let arn = RoleArn::parse(&role.arn).expect("validated with the flags");
    let host_path = facts
        .issuer
        .strip_prefix("https://")
        .unwrap_or(&facts.issuer);
    let provider_arn = format!(
        "arn:{}:iam::{}:oidc-provider/{host_path}",
        arn.partition, arn.account
    );
    let subject = subject(facts, token);
    let mut out = vec![Finding::ok("role.exists", format!("{} exists", role.arn))];
    out.extend(trust::analyse(
        policy,
        &trust::Expected {
            provider_arn: &provider_arn,
            host_path,
            subject: subject.as_deref(),
            audiences,
        },
    ));
    out
}

/// The subject the role must accept: `--service-account`'s, else the token's.
pub(super) fn subject(facts: &Facts, token: Option<&Decoded>) -> Option<String> {
    facts
        .service_account
        .as_ref()
        .map(|sa| sa.subject())
        .or_else(|| {
            token
                .and_then(Decoded::sub)
                .filter(|s| s.starts_with("system:serviceaccount:"))
                .map(str::to_owned)
        })
}

pub(super) fn annotation(facts: &Facts) -> Finding {
    const CHECK: &str = "serviceaccount.annotation";
    const KEY: &str = "eks.amazonaws.com/role-arn";
    let Some(sa) = &facts.service_account else {
        return Finding::skipped(
            CHECK,
            "not checked: no ServiceAccount given",
            "pass --service-account NS/NAME (with a reachable cluster)",
        );
    };
    let annotation = match &facts.annotation {
        Gathered::Got(annotation) => annotation,
        other => return gathered_skip(CHECK, other),
    };
    let annotate = |arn: &str| {
        format!(
            "kubectl annotate serviceaccount -n {} {} {KEY}={arn} --overwrite",
            sa.namespace, sa.name
        )
    };
    match (annotation, &facts.role_arn) {
        (Some(value), Some(role)) if value == role => {
            Finding::ok(CHECK, format!("{sa} is annotated {KEY}={value}"))
        }
        (Some(value), Some(role)) => Finding::error(
            CHECK,
            None,
            format!("{sa} is annotated {KEY}={value}, not {role}: its pods assume that role instead"),
            annotate(role),
        ),
        (Some(value), None) => Finding::ok(
            CHECK,
            format!("{sa} is annotated {KEY}={value} (pass --role-arn to check that role)"),
        ),
        (None, role) => Finding::warning(
            CHECK,
            format!("{sa} has no {KEY} annotation: the pod identity webhook injects no token or AWS_ROLE_ARN into its pods (fine only if the pod spec sets them itself)"),
            annotate(role.as_deref().unwrap_or("arn:aws:iam::ACCOUNT:role/NAME")),
        ),
    }
}
