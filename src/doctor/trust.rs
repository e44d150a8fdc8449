//! A role's trust policy read the way STS evaluates it for `AssumeRoleWithWebIdentity`: a
//! statement allowing `sts:AssumeRoleWithWebIdentity` to `Federated` = this issuer's provider
//! ARN, with conditions on `<host/path>:sub` and `<host/path>:aud` spelled exactly (IAM
//! compares the key, so `https://` inside it, a trailing slash or another cluster's host/path
//! is a condition the token never satisfies), a `sub` that matches the ServiceAccount, and
//! `StringLike` wildcards flagged. Pure.

use serde_json::{Map, Value};

use super::findings::{sts, Finding, Severity};

/// What the trust policy is compared with.
pub struct Expected<'a> {
    /// `arn:<partition>:iam::<role's account>:oidc-provider/<host/path>`.
    pub provider_arn: &'a str,
    /// The issuer without `https://`: the condition keys' prefix.
    pub host_path: &'a str,
    /// `system:serviceaccount:NS:NAME`, when known.
    pub subject: Option<&'a str>,
    /// The audiences the token carries (or `--audience`).
    pub audiences: &'a [String],
}

/// The findings `role.principal`, `role.action`, `role.condition_keys`, `role.sub` and
/// `role.aud`, in that order, for the trust policy `policy` (JSON text).
pub fn analyse(policy: &str, expected: &Expected<'_>) -> Vec<Finding> {
    let statements = match statements(policy) {
        Ok(statements) => statements,
        Err(detail) => {
            let mut out = vec![Finding::error(
                "role.principal",
                Some(sts::ACCESS_DENIED.into()),
                format!("the trust policy cannot be read: {detail}"),
                "fix the role's trust policy (`aws iam get-role --query Role.AssumeRolePolicyDocument`)",
            )];
            out.extend(skip_rest("the trust policy cannot be read"));
            return out;
        }
    };
    let allows: Vec<&Map<String, Value>> = statements
        .iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .collect();
    let trusting: Vec<&Map<String, Value>> = allows
        .iter()
        .copied()
        .filter(|s| federated(s).iter().any(|f| f == expected.provider_arn))
        .collect();
    if trusting.is_empty() {
        let mut out = vec![principal_miss(&allows, expected)];
        out.extend(skip_rest(
            "no statement of the trust policy names this issuer's provider",
        ));
        return out;
    }
    // STS allows if any statement allows: report the statement that comes closest.
    let best = trusting
        .iter()
        .map(|s| statement_findings(s, expected))
        .min_by_key(|findings| {
            (
                findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .count(),
                findings
                    .iter()
                    .filter(|f| f.severity == Severity::Warning)
                    .count(),
            )
        })
        .expect("at least one trusting statement");
    let mut out = vec![Finding::ok(
        "role.principal",
        format!(
            "a statement trusts Federated {} (this issuer's provider)",
            expected.provider_arn
        ),
    )];
    out.extend(best);
    out
}

fn skip_rest(why: &str) -> Vec<Finding> {
    ["role.action", "role.condition_keys", "role.sub", "role.aud"]
        .into_iter()
        .map(|check| {
            Finding::skipped(
                check,
                format!("not checked: {why}"),
                "fix role.principal first",
            )
        })
        .collect()
}

/// The statements of a policy document (`Statement` may be one object or a list).
fn statements(policy: &str) -> Result<Vec<Map<String, Value>>, String> {
    let doc: Value = serde_json::from_str(policy).map_err(|e| format!("not JSON ({e})"))?;
    let list = match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => return Err("it has no Statement".into()),
    };
    Ok(list
        .into_iter()
        .filter_map(|s| match s {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect())
}

/// A string or a list of strings, as IAM allows for most elements (and JWT for `aud`).
pub(super) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn federated(statement: &Map<String, Value>) -> Vec<String> {
    strings(statement.get("Principal").and_then(|p| p.get("Federated")))
}

/// Why no statement names the provider: the nearest Federated ARN and how it differs.
fn principal_miss(allows: &[&Map<String, Value>], expected: &Expected<'_>) -> Finding {
    let fix = format!(
        "set \"Principal\": {{\"Federated\": \"{}\"}} in the statement that allows sts:AssumeRoleWithWebIdentity",
        expected.provider_arn
    );
    let providers: Vec<String> = allows
        .iter()
        .flat_map(|s| federated(s))
        .filter(|f| f.contains(":oidc-provider/"))
        .collect();
    let message = match providers.first() {
        Some(near) => format!(
            "the trust policy trusts {near}, not {}: {}",
            expected.provider_arn,
            arn_differences(near, expected.provider_arn)
        ),
        None => {
            let principals: Vec<String> = allows
                .iter()
                .filter_map(|s| s.get("Principal"))
                .map(Value::to_string)
                .collect();
            format!(
                "no Allow statement has Principal Federated {} (principals: {})",
                expected.provider_arn,
                if principals.is_empty() {
                    "none".to_owned()
                } else {
                    principals.join(", ")
                }
            )
        }
    };
    Finding::error(
        "role.principal",
        Some(sts::ACCESS_DENIED.into()),
        message,
        fix,
    )
}

/// How an `oidc-provider` ARN differs from the expected one, in words.
fn arn_differences(found: &str, expected: &str) -> String {
    let parse = |arn: &str| -> Option<(String, String, String)> {
        let rest = arn.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(":iam::")?;
        let (account, path) = rest.split_once(":oidc-provider/")?;
        Some((partition.to_owned(), account.to_owned(), path.to_owned()))
    };
    let (Some(f), Some(e)) = (parse(found), parse(expected)) else {
        return "it is not an arn:<partition>:iam::<account>:oidc-provider/<host/path> ARN".into();
    };
    let mut out = Vec::new();
    if f.0 != e.0 {
        out.push(format!(
            "its partition is {}, the role's is {} (a provider ARN names the partition the role lives in)",
            f.0, e.0
        ));
    }
    if f.1 != e.1 {
        out.push(format!(
            "its account is {}, but a role can only trust a provider of its own account {}",
            f.1, e.1
        ));
    }
    if f.2 != e.2 {
        out.push(host_path_difference(&f.2, &e.2));
    }
    if out.is_empty() {
        "they differ".into()
    } else {
        out.join("; ")
    }
}

/// How a provider host/path (in an ARN or a condition key) differs from this issuer's.
fn host_path_difference(found: &str, expected: &str) -> String {
    if let Some(rest) = found
        .strip_prefix("https://")
        .or_else(|| found.strip_prefix("http://"))
    {
        if rest.trim_end_matches('/') == expected {
            return format!("{found:?} has the scheme in it; IAM names providers without https://");
        }
    }
    if found.trim_end_matches('/') == expected {
        return format!(
            "{found:?} has a trailing slash, which makes it another provider; this issuer's is {expected:?}"
        );
    }
    if found.eq_ignore_ascii_case(expected) {
        return format!("{found:?} differs from {expected:?} in letter case");
    }
    format!("{found:?} is another issuer (another cluster's?); this cluster's is {expected:?}")
}

/// The findings of one statement that trusts the provider.
fn statement_findings(statement: &Map<String, Value>, expected: &Expected<'_>) -> Vec<Finding> {
    let mut out = vec![action_finding(statement)];
    let conditions = conditions(statement);
    let hp = expected.host_path;
    // Condition keys that name an OIDC provider (`<host/path>:<claim>`), misspelled or not.
    let mut misspelled: Vec<(String, String)> = Vec::new();
    for (_, key, _) in &conditions {
        let Some((prefix, _claim)) = key.rsplit_once(':') else {
            continue;
        };
        let looks_oidc = prefix.contains('.') || prefix.contains('/');
        if looks_oidc && !prefix.eq_ignore_ascii_case(hp) {
            misspelled.push((key.clone(), host_path_difference(prefix, hp)));
        }
    }
    out.push(if misspelled.is_empty() {
        let keys: Vec<&str> = conditions
            .iter()
            .map(|(_, key, _)| key.as_str())
            .filter(|key| {
                key.rsplit_once(':')
                    .is_some_and(|(p, _)| p.eq_ignore_ascii_case(hp))
            })
            .collect();
        Finding::ok(
            "role.condition_keys",
            if keys.is_empty() {
                "no condition names an OIDC claim".to_owned()
            } else {
                format!(
                    "condition keys are spelled as IAM names them: {}",
                    keys.join(", ")
                )
            },
        )
    } else {
        let (key, why) = &misspelled[0];
        let claim = key.rsplit_once(':').map_or("sub", |(_, c)| c);
        Finding::error(
            "role.condition_keys",
            Some(sts::ACCESS_DENIED.into()),
            format!(
                "condition key {key:?} never matches a token of this issuer: {why}{}",
                if misspelled.len() > 1 {
                    format!(" (and {} more such keys)", misspelled.len() - 1)
                } else {
                    String::new()
                }
            ),
            format!(
                "spell the key \"{hp}:{claim}\" (the issuer without https://, no trailing slash)"
            ),
        )
    });
    let misspelled_claim = |claim: &str| {
        misspelled
            .iter()
            .any(|(key, _)| key.rsplit_once(':').is_some_and(|(_, c)| c == claim))
    };
    out.push(claim_finding(
        "role.sub",
        &conditions,
        hp,
        "sub",
        expected.subject.map(|s| vec![s.to_owned()]),
        misspelled_claim("sub"),
    ));
    out.push(claim_finding(
        "role.aud",
        &conditions,
        hp,
        "aud",
        Some(expected.audiences.to_vec()),
        misspelled_claim("aud"),
    ));
    out
}

fn action_finding(statement: &Map<String, Value>) -> Finding {
    let actions = strings(statement.get("Action"));
    let lower: Vec<String> = actions.iter().map(|a| a.to_ascii_lowercase()).collect();
    if lower.iter().any(|a| a == "sts:assumerolewithwebidentity") {
        return Finding::ok(
            "role.action",
            "the statement allows sts:AssumeRoleWithWebIdentity",
        );
    }
    if lower
        .iter()
        .any(|a| a == "*" || a == "sts:*" || a.starts_with("sts:assumerolewith*"))
    {
        return Finding::warning(
            "role.action",
            format!(
                "the statement allows {} for a web identity: wider than needed",
                actions.join(", ")
            ),
            "name exactly \"Action\": \"sts:AssumeRoleWithWebIdentity\"",
        );
    }
    Finding::error(
        "role.action",
        Some(sts::ACCESS_DENIED.into()),
        format!(
            "the statement trusting the provider allows {}, not sts:AssumeRoleWithWebIdentity",
            if actions.is_empty() {
                "no action".to_owned()
            } else {
                actions.join(", ")
            }
        ),
        "set \"Action\": \"sts:AssumeRoleWithWebIdentity\" (pods' SDKs call AssumeRoleWithWebIdentity, not AssumeRole)",
    )
}

/// `(operator, key, values)` of every condition of a statement.
fn conditions(statement: &Map<String, Value>) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    if let Some(Value::Object(operators)) = statement.get("Condition") {
        for (operator, keys) in operators {
            if let Value::Object(keys) = keys {
                for (key, values) in keys {
                    out.push((operator.clone(), key.clone(), strings(Some(values))));
                }
            }
        }
    }
    out
}

/// `role.sub` / `role.aud`: the conditions on `<host/path>:<claim>` against the values the
/// token carries (`None`: not known, then only wildcards are judged).
fn claim_finding(
    check: &'static str,
    conditions: &[(String, String, Vec<String>)],
    hp: &str,
    claim: &str,
    actual: Option<Vec<String>>,
    misspelled: bool,
) -> Finding {
    let key = format!("{hp}:{claim}");
    let on_claim: Vec<&(String, String, Vec<String>)> = conditions
        .iter()
        .filter(|(_, k, _)| k.eq_ignore_ascii_case(&key))
        .collect();
    let subject_fix = match (claim, &actual) {
        ("sub", Some(values)) => format!(
            "require \"StringEquals\": {{\"{key}\": \"{}\"}}",
            values
                .first()
                .map_or("system:serviceaccount:NS:NAME", String::as_str)
        ),
        ("sub", None) => {
            format!("require \"StringEquals\": {{\"{key}\": \"system:serviceaccount:NS:NAME\"}}")
        }
        (_, values) => format!(
            "require \"StringEquals\": {{\"{key}\": \"{}\"}}",
            values
                .as_ref()
                .and_then(|v| v.first())
                .map_or("sts.amazonaws.com", String::as_str)
        ),
    };
    if on_claim.is_empty() {
        if misspelled {
            return Finding::skipped(
                check,
                format!("the {claim} condition's key is misspelled (see role.condition_keys)"),
                "fix role.condition_keys first",
            );
        }
        let what = if claim == "sub" {
            "any ServiceAccount of the cluster (any token of this issuer) can assume the role"
        } else {
            "any audience is accepted (AWS's own trust policies always pin it)"
        };
        return Finding::warning(check, format!("no condition on {key}: {what}"), subject_fix);
    }
    let mut wildcards = Vec::new();
    let mut mismatches = Vec::new();
    for (operator, _, values) in &on_claim {
        let like = operator.to_ascii_lowercase().contains("like");
        let negated = operator.to_ascii_lowercase().contains("not");
        if negated {
            continue;
        }
        if like {
            wildcards.extend(
                values
                    .iter()
                    .filter(|v| v.contains(['*', '?']))
                    .map(|v| format!("{operator} {v:?}")),
            );
        }
        if let Some(actual) = &actual {
            let matched = values.iter().any(|pattern| {
                actual.iter().any(|value| {
                    if like {
                        glob(pattern, value)
                    } else if operator.to_ascii_lowercase().contains("ignorecase") {
                        pattern.eq_ignore_ascii_case(value)
                    } else {
                        pattern == value
                    }
                })
            });
            if !matched {
                mismatches.push(format!("{operator} {values:?}"));
            }
        }
    }
    if !mismatches.is_empty() {
        let carries = match (&actual, claim) {
            (Some(values), "sub") => {
                format!("the ServiceAccount's tokens carry sub {:?}", values[0])
            }
            (Some(values), _) => format!("the token carries aud {values:?}"),
            (None, _) => String::new(),
        };
        return Finding::error(
            check,
            Some(sts::ACCESS_DENIED.into()),
            format!(
                "{key} must match {}, but {carries}",
                mismatches.join(" and ")
            ),
            subject_fix,
        );
    }
    if !wildcards.is_empty() {
        return Finding::warning(
            check,
            format!(
                "{key} is matched with a wildcard ({}): every {} matching it can assume the role, including ones created later",
                wildcards.join(", "),
                if claim == "sub" { "ServiceAccount" } else { "audience" }
            ),
            subject_fix,
        );
    }
    let values: Vec<&String> = on_claim.iter().flat_map(|(_, _, v)| v).collect();
    Finding::ok(
        check,
        match actual {
            Some(_) => format!("{key} is {values:?}, which the token matches"),
            None => format!(
                "{key} is {values:?} (pass --service-account NS/NAME or --token to compare it with a ServiceAccount)"
            ),
        },
    )
}

/// IAM's `StringLike`: `*` matches any run of characters, `?` exactly one; case-sensitive.
pub fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HP: &str = "oidc.example.test/c1";
    const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c1";
    const SUB: &str = "system:serviceaccount:shop:api";

    fn policy(federated: &str, condition: Value) -> String {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": federated},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }]
        })
        .to_string()
    }

    fn good_condition() -> Value {
        json!({"StringEquals": {
            format!("{HP}:sub"): SUB,
            format!("{HP}:aud"): "sts.amazonaws.com",
        }})
    }

    fn run(policy: &str) -> Vec<Finding> {
        let audiences = vec!["sts.amazonaws.com".to_owned()];
        analyse(
            policy,
            &Expected {
                provider_arn: ARN,
                host_path: HP,
                subject: Some(SUB),
                audiences: &audiences,
            },
        )
    }

    fn get<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
        findings
            .iter()
            .find(|f| f.check == check)
            .unwrap_or_else(|| panic!("no {check} in {findings:#?}"))
    }

    #[test]
    fn the_policy_trust_policy_renders_passes_every_check() {
        let findings = run(&policy(ARN, good_condition()));
        let checks: Vec<&str> = findings.iter().map(|f| f.check).collect();
        assert_eq!(
            checks,
            [
                "role.principal",
                "role.action",
                "role.condition_keys",
                "role.sub",
                "role.aud"
            ]
        );
        for f in &findings {
            assert_eq!(f.severity, Severity::Ok, "{f:#?}");
        }
        // The same policy as `trust-policy` renders it.
        let rendered =
            crate::model::policy::trust_policy(ARN, HP, "shop", "api", "sts.amazonaws.com")
                .unwrap();
        let findings = run(&rendered.document.to_string());
        assert!(
            findings.iter().all(|f| f.severity == Severity::Ok),
            "{findings:#?}"
        );
    }

    #[test]
    fn each_principal_mistake_is_named() {
        let cases = [
            (
                "arn:aws:iam::999999999999:oidc-provider/oidc.example.test/c1",
                "its own account",
            ),
            (
                "arn:aws-cn:iam::123456789012:oidc-provider/oidc.example.test/c1",
                "partition is aws-cn",
            ),
            (
                "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c1/",
                "trailing slash",
            ),
            (
                "arn:aws:iam::123456789012:oidc-provider/https://oidc.example.test/c1",
                "without https://",
            ),
            (
                "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c2",
                "another issuer",
            ),
        ];
        for (federated, says) in cases {
            let findings = run(&policy(federated, good_condition()));
            let f = get(&findings, "role.principal");
            assert_eq!(f.severity, Severity::Error, "{federated}");
            assert_eq!(f.sts_error.as_deref(), Some(sts::ACCESS_DENIED));
            assert!(f.message.contains(says), "{federated}: {}", f.message);
            assert!(f.fix.as_deref().unwrap().contains(ARN));
            assert_eq!(get(&findings, "role.sub").severity, Severity::Skipped);
        }
    }

    #[test]
    fn misspelled_condition_keys_are_errors() {
        for (prefix, says) in [
            (format!("https://{HP}"), "without https://"),
            (format!("{HP}/"), "trailing slash"),
            (
                "oidc.example.test/other-cluster".to_owned(),
                "another issuer",
            ),
        ] {
            let condition = json!({"StringEquals": {
                format!("{prefix}:sub"): SUB,
                format!("{HP}:aud"): "sts.amazonaws.com",
            }});
            let findings = run(&policy(ARN, condition));
            let f = get(&findings, "role.condition_keys");
            assert_eq!(f.severity, Severity::Error, "{prefix}");
            assert_eq!(f.sts_error.as_deref(), Some(sts::ACCESS_DENIED));
            assert!(f.message.contains(says), "{prefix}: {}", f.message);
            assert_eq!(get(&findings, "role.sub").severity, Severity::Skipped);
            assert_eq!(get(&findings, "role.aud").severity, Severity::Ok);
        }
    }

    #[test]
    fn a_subject_of_another_service_account_is_an_error_and_a_wildcard_a_warning() {
        let other = json!({"StringEquals": {
            format!("{HP}:sub"): "system:serviceaccount:shop:worker",
            format!("{HP}:aud"): "sts.amazonaws.com",
        }});
        let findings = run(&policy(ARN, other));
        let f = get(&findings, "role.sub");
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.message.contains("system:serviceaccount:shop:worker"),
            "{}",
            f.message
        );
        assert!(f.fix.as_deref().unwrap().contains(SUB));

        let wild = json!({
            "StringEquals": {format!("{HP}:aud"): "sts.amazonaws.com"},
            "StringLike": {format!("{HP}:sub"): "system:serviceaccount:shop:*"},
        });
        let findings = run(&policy(ARN, wild));
        let f = get(&findings, "role.sub");
        assert_eq!(f.severity, Severity::Warning, "{f:#?}");
        assert_eq!(f.sts_error, None);

        let wrong_wild =
            json!({"StringLike": {format!("{HP}:sub"): "system:serviceaccount:web:*"}});
        assert_eq!(
            get(&run(&policy(ARN, wrong_wild)), "role.sub").severity,
            Severity::Error
        );
    }

    #[test]
    fn missing_conditions_and_wrong_actions() {
        let findings = run(&policy(ARN, json!({})));
        assert_eq!(get(&findings, "role.sub").severity, Severity::Warning);
        assert_eq!(get(&findings, "role.aud").severity, Severity::Warning);
        let wrong_aud =
            json!({"StringEquals": {format!("{HP}:sub"): SUB, format!("{HP}:aud"): "vault"}});
        assert_eq!(
            get(&run(&policy(ARN, wrong_aud)), "role.aud").severity,
            Severity::Error
        );
        let assume_role = policy(ARN, good_condition())
            .replace("sts:AssumeRoleWithWebIdentity", "sts:AssumeRole");
        let f = get(&run(&assume_role), "role.action").clone();
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.sts_error.as_deref(), Some(sts::ACCESS_DENIED));
    }

    #[test]
    fn any_trusting_statement_is_enough() {
        let doc = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Federated": ARN}, "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringEquals": {format!("{HP}:sub"): "system:serviceaccount:x:y"}}},
            {"Effect": "Allow", "Principal": {"Federated": [ARN]}, "Action": ["sts:AssumeRoleWithWebIdentity"],
             "Condition": good_condition()},
        ]});
        let findings = run(&doc.to_string());
        assert!(
            findings.iter().all(|f| f.severity == Severity::Ok),
            "{findings:#?}"
        );
    }

    #[test]
    fn glob_follows_iam_string_like() {
        assert!(glob(
            "system:serviceaccount:shop:*",
            "system:serviceaccount:shop:api"
        ));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*:api", "system:serviceaccount:shop:api"));
        assert!(!glob(
            "system:serviceaccount:web:*",
            "system:serviceaccount:shop:api"
        ));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("abc", "ABC"));
    }
}
