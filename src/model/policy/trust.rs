//! The role trust policy for one ServiceAccount (`sts:AssumeRoleWithWebIdentity` with `sub` and
//! `aud` conditions), trusting one cluster's provider or several (one statement each), and the
//! check of its subject that commands run before asking AWS. Its size against IAM's quota is
//! [`super::trust_length`]'s.

use serde_json::{json, Value};

use super::names::{
    check_audience, check_namespace, check_provider_arn, check_service_account, has_wildcard,
};
use super::template::{render, TRUST_POLICY};
use super::PolicyError;

/// A rendered trust policy, and a warning to print when it matches more than one
/// ServiceAccount.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustPolicy {
    pub document: Value,
    /// Set when the `sub` condition uses `StringLike` (a wildcard in the namespace or name).
    pub warning: Option<String>,
}

/// One IAM OIDC provider a trust policy trusts: its ARN and its `<host/path>` (the issuer
/// without `https://`, the prefix of its condition keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProvider<'a> {
    pub arn: &'a str,
    pub host_path: &'a str,
}

/// The trust policy that lets exactly one ServiceAccount (`system:serviceaccount:NS:NAME`)
/// assume a role with a token for `audience` issued by the provider.
///
/// A `*` or `?` in the namespace or in the name (not both) switches the `sub` condition to
/// `StringLike` and returns a warning; `aud` always stays `StringEquals`.
pub fn trust_policy(
    provider_arn: &str,
    provider_host_path: &str,
    namespace: &str,
    service_account: &str,
    audience: &str,
) -> Result<TrustPolicy, PolicyError> {
    let provider = TrustedProvider {
        arn: provider_arn,
        host_path: provider_host_path,
    };
    trust_policy_for_providers(&[provider], namespace, service_account, audience)
}

/// [`trust_policy`] for a workload that runs in several clusters: one statement per provider,
/// each with its own `<host/path>:sub` and `<host/path>:aud` conditions (never one condition
/// across issuers), in the order given. A provider listed twice (same ARN) gets one statement.
///
/// The first statement is exactly [`trust_policy`]'s (Sid `KubernetesServiceAccount`); the
/// next ones are numbered from 2 (`KubernetesServiceAccount2`, ...), because IAM wants the
/// Sids of a policy distinct, and so adding a cluster at the end only appends a statement.
pub fn trust_policy_for_providers(
    providers: &[TrustedProvider],
    namespace: &str,
    service_account: &str,
    audience: &str,
) -> Result<TrustPolicy, PolicyError> {
    check_subject(namespace, service_account, audience)?;
    let mut unique: Vec<&TrustedProvider> = Vec::with_capacity(providers.len());
    for provider in providers {
        check_provider_arn(provider.arn, provider.host_path)?;
        if !unique.iter().any(|seen| seen.arn == provider.arn) {
            unique.push(provider);
        }
    }
    let wildcard = has_wildcard(namespace) || has_wildcard(service_account);

    let mut document = None;
    let mut statements = Vec::with_capacity(unique.len());
    for (index, provider) in unique.into_iter().enumerate() {
        let mut rendered = render(
            &TRUST_POLICY,
            &[
                ("PROVIDER_ARN", provider.arn),
                ("PROVIDER_HOSTPATH", provider.host_path),
                ("NAMESPACE", namespace),
                ("SERVICE_ACCOUNT", service_account),
                ("AUDIENCE", audience),
            ],
        )?;
        let mut statement = only_statement(&mut rendered)?;
        if wildcard {
            match_subject_with_string_like(&mut statement, provider.host_path)?;
        }
        if index > 0 {
            number_sid(&mut statement, index + 1)?;
        }
        statements.push(statement);
        document.get_or_insert(rendered);
    }
    let mut document = document.ok_or(PolicyError::NoTrustedProvider)?;
    document["Statement"] = Value::Array(statements);

    let warning = wildcard.then(|| {
        let pattern = format!("system:serviceaccount:{namespace}:{service_account}");
        format!(
            "the trust policy matches the token subject with StringLike {pattern:?}: every \
             ServiceAccount matching it can assume this role, including ones created later by \
             anyone allowed to create {} there; prefer the exact namespace and name",
            if has_wildcard(namespace) {
                "namespaces and ServiceAccounts"
            } else {
                "ServiceAccounts"
            }
        )
    });
    Ok(TrustPolicy { document, warning })
}

fn shape(reason: &'static str) -> PolicyError {
    PolicyError::TemplateShape {
        template: TRUST_POLICY.name,
        reason,
    }
}

/// Takes the one statement out of a rendered template, leaving `Statement` empty.
fn only_statement(document: &mut Value) -> Result<Value, PolicyError> {
    match document.get_mut("Statement").and_then(Value::as_array_mut) {
        Some(statements) if statements.len() == 1 => Ok(statements.remove(0)),
        _ => Err(shape("not exactly one Statement")),
    }
}

/// Moves `<host/path>:sub` from `StringEquals` into `StringLike`; `aud` stays exact.
fn match_subject_with_string_like(
    statement: &mut Value,
    provider_host_path: &str,
) -> Result<(), PolicyError> {
    let condition = statement
        .get_mut("Condition")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| shape("no Statement[0].Condition object"))?;
    let sub_key = format!("{provider_host_path}:sub");
    let subject = condition
        .get_mut("StringEquals")
        .and_then(Value::as_object_mut)
        .and_then(|equals| equals.remove(&sub_key))
        .ok_or_else(|| shape("no StringEquals condition on <host/path>:sub"))?;
    condition.insert("StringLike".into(), json!({ sub_key: subject }));
    Ok(())
}

/// `KubernetesServiceAccount` → `KubernetesServiceAccount<number>`.
fn number_sid(statement: &mut Value, number: usize) -> Result<(), PolicyError> {
    let sid = statement
        .get("Sid")
        .and_then(Value::as_str)
        .ok_or_else(|| shape("no Statement[0].Sid string"))?;
    statement["Sid"] = Value::String(format!("{sid}{number}"));
    Ok(())
}

/// Checks what [`trust_policy`] checks of the ServiceAccount and the audience, so a command
/// can refuse them before asking AWS for anything: a valid namespace (DNS-1123 label) and name
/// (DNS-1123 subdomain), wildcards (`*`, `?`) in at most one of them, an audience IAM accepts
/// as a client ID.
pub fn check_subject(
    namespace: &str,
    service_account: &str,
    audience: &str,
) -> Result<(), PolicyError> {
    if has_wildcard(namespace) && has_wildcard(service_account) {
        return Err(PolicyError::BothWildcards {
            namespace: namespace.into(),
            service_account: service_account.into(),
        });
    }
    check_namespace(namespace)?;
    check_service_account(service_account)?;
    check_audience(audience)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::policy::DEFAULT_AUDIENCE;

    const HOST_PATH: &str = "oidc.example.test/c1";
    const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c1";

    fn trust(namespace: &str, name: &str) -> Result<TrustPolicy, PolicyError> {
        trust_policy(ARN, HOST_PATH, namespace, name, DEFAULT_AUDIENCE)
    }

    #[test]
    fn trust_policy_for_one_service_account() {
        let policy = trust("payments", "api").unwrap();
        assert_eq!(policy.warning, None);
        assert_eq!(
            policy.document,
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "KubernetesServiceAccount",
                    "Effect": "Allow",
                    "Principal": { "Federated": ARN },
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            "oidc.example.test/c1:sub": "system:serviceaccount:payments:api",
                            "oidc.example.test/c1:aud": "sts.amazonaws.com"
                        }
                    }
                }]
            })
        );
    }

    #[test]
    fn a_wildcard_switches_only_sub_to_string_like_and_warns() {
        for (namespace, name, subject, namespaces_named) in [
            ("team-*", "app", "system:serviceaccount:team-*:app", true),
            ("*", "app", "system:serviceaccount:*:app", true),
            ("ci", "runner-?", "system:serviceaccount:ci:runner-?", false),
            ("ci", "*", "system:serviceaccount:ci:*", false),
        ] {
            let policy = trust(namespace, name).unwrap();
            let condition = &policy.document["Statement"][0]["Condition"];
            assert_eq!(
                condition["StringLike"],
                json!({ "oidc.example.test/c1:sub": subject }),
                "{namespace}:{name}"
            );
            assert_eq!(
                condition["StringEquals"],
                json!({ "oidc.example.test/c1:aud": "sts.amazonaws.com" })
            );
            let warning = policy.warning.expect("a warning");
            assert!(warning.contains("StringLike"), "{warning}");
            assert!(warning.contains(subject), "{warning}");
            assert_eq!(
                warning.contains("namespaces"),
                namespaces_named,
                "{warning}"
            );
        }
    }

    #[test]
    fn refuses_wildcards_in_both_and_invalid_names() {
        assert!(matches!(
            trust("*", "*").unwrap_err(),
            PolicyError::BothWildcards { .. }
        ));
        assert!(matches!(
            trust("team-?", "app-*").unwrap_err(),
            PolicyError::BothWildcards { .. }
        ));
        for namespace in [
            "",
            "Payments",
            "pay_ments",
            "-x",
            "x-",
            "a.b",
            &"n".repeat(64),
        ] {
            assert!(
                matches!(
                    trust(namespace, "app"),
                    Err(PolicyError::BadNamespace { .. })
                ),
                "{namespace:?}"
            );
        }
        for name in [
            "",
            "App",
            "a_b",
            "a..b",
            ".a",
            "a.",
            "a:b",
            &"n".repeat(254),
        ] {
            assert!(
                matches!(
                    trust("default", name),
                    Err(PolicyError::BadServiceAccount { .. })
                ),
                "{name:?}"
            );
        }
        // Subdomains are fine for ServiceAccount names, and 63 characters for a namespace.
        trust(&"n".repeat(63), "my.app-1").unwrap();
        for audience in ["", "${aws:username}", "a\nb"] {
            assert!(matches!(
                trust_policy(ARN, HOST_PATH, "default", "app", audience),
                Err(PolicyError::BadAudience { .. })
            ));
        }
        let e = trust("Payments", "api").unwrap_err();
        assert!(e.to_string().contains("kubectl get namespaces"), "{e}");
    }

    const ARN2: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c2";
    const ARN3: &str = "arn:aws:iam::123456789012:oidc-provider/other.example.test";

    fn provider<'a>(arn: &'a str, host_path: &'a str) -> TrustedProvider<'a> {
        TrustedProvider { arn, host_path }
    }

    #[test]
    fn one_statement_per_provider_each_with_its_own_conditions() {
        let providers = [
            provider(ARN, HOST_PATH),
            provider(ARN2, "oidc.example.test/c2"),
            provider(ARN3, "other.example.test"),
        ];
        let policy =
            trust_policy_for_providers(&providers, "payments", "api", DEFAULT_AUDIENCE).unwrap();
        assert_eq!(policy.warning, None);
        let statement = |sid: &str, arn: &str, host_path: &str| {
            json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": { "Federated": arn },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        format!("{host_path}:sub"): "system:serviceaccount:payments:api",
                        format!("{host_path}:aud"): "sts.amazonaws.com"
                    }
                }
            })
        };
        assert_eq!(
            policy.document,
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    statement("KubernetesServiceAccount", ARN, HOST_PATH),
                    statement("KubernetesServiceAccount2", ARN2, "oidc.example.test/c2"),
                    statement("KubernetesServiceAccount3", ARN3, "other.example.test"),
                ]
            })
        );
        // The first statement is the one-provider policy's, byte for byte.
        let one = trust("payments", "api").unwrap();
        assert_eq!(
            policy.document["Statement"][0],
            one.document["Statement"][0]
        );
        assert_eq!(
            trust_policy_for_providers(&providers[..1], "payments", "api", DEFAULT_AUDIENCE)
                .unwrap(),
            one
        );
    }

    #[test]
    fn a_provider_given_twice_gets_one_statement() {
        let providers = [
            provider(ARN, HOST_PATH),
            provider(ARN2, "oidc.example.test/c2"),
            provider(ARN, HOST_PATH),
        ];
        let policy =
            trust_policy_for_providers(&providers, "payments", "api", DEFAULT_AUDIENCE).unwrap();
        let statements = policy.document["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["Principal"]["Federated"], ARN);
        assert_eq!(statements[1]["Principal"]["Federated"], ARN2);
        assert_eq!(statements[1]["Sid"], "KubernetesServiceAccount2");
    }

    #[test]
    fn a_wildcard_applies_to_every_statement_and_warns_once() {
        let providers = [
            provider(ARN, HOST_PATH),
            provider(ARN2, "oidc.example.test/c2"),
        ];
        let policy =
            trust_policy_for_providers(&providers, "ci", "runner-*", DEFAULT_AUDIENCE).unwrap();
        for (index, host_path) in [HOST_PATH, "oidc.example.test/c2"].into_iter().enumerate() {
            assert_eq!(
                policy.document["Statement"][index]["Condition"],
                json!({
                    "StringEquals": { format!("{host_path}:aud"): "sts.amazonaws.com" },
                    "StringLike": {
                        format!("{host_path}:sub"): "system:serviceaccount:ci:runner-*"
                    }
                })
            );
        }
        assert_eq!(policy.warning, trust("ci", "runner-*").unwrap().warning);
    }

    #[test]
    fn refuses_no_provider_and_any_bad_provider() {
        assert_eq!(
            trust_policy_for_providers(&[], "payments", "api", DEFAULT_AUDIENCE).unwrap_err(),
            PolicyError::NoTrustedProvider
        );
        // A bad second provider is refused, not left out.
        let providers = [provider(ARN, HOST_PATH), provider(ARN2, HOST_PATH)];
        assert!(matches!(
            trust_policy_for_providers(&providers, "payments", "api", DEFAULT_AUDIENCE),
            Err(PolicyError::BadProviderArn { .. })
        ));
    }

    #[test]
    fn the_provider_arn_must_be_for_the_same_host_path() {
        for (arn, host_path) in [
            (ARN, "oidc.example.test/c2"),
            ("arn:aws:iam::123456789012:oidc-provider/", ""),
            (
                "arn:aws:iam::12345:oidc-provider/oidc.example.test/c1",
                HOST_PATH,
            ),
            (
                "arn:aws:iam::123456789012:role/oidc.example.test/c1",
                HOST_PATH,
            ),
            ("arn:aws:iam::123456789012:oidc-provider/*", "*"),
            ("oidc.example.test/c1", HOST_PATH),
        ] {
            assert!(
                matches!(
                    trust_policy(arn, host_path, "default", "app", DEFAULT_AUDIENCE),
                    Err(PolicyError::BadProviderArn { .. })
                ),
                "{arn} {host_path}"
            );
        }
    }
}
