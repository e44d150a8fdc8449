//! The role trust policy for one ServiceAccount (`sts:AssumeRoleWithWebIdentity` with `sub` and
//! `aud` conditions), and the check of its subject that commands run before asking AWS.

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
    check_subject(namespace, service_account, audience)?;
    check_provider_arn(provider_arn, provider_host_path)?;
    let namespace_wild = has_wildcard(namespace);
    let name_wild = has_wildcard(service_account);

    let mut document = render(
        &TRUST_POLICY,
        &[
            ("PROVIDER_ARN", provider_arn),
            ("PROVIDER_HOSTPATH", provider_host_path),
            ("NAMESPACE", namespace),
            ("SERVICE_ACCOUNT", service_account),
            ("AUDIENCE", audience),
        ],
    )?;
    if !(namespace_wild || name_wild) {
        return Ok(TrustPolicy {
            document,
            warning: None,
        });
    }

    // Move `<host/path>:sub` from StringEquals into StringLike; `aud` stays exact.
    let shape = |reason| PolicyError::TemplateShape {
        template: TRUST_POLICY.name,
        reason,
    };
    let condition = document
        .pointer_mut("/Statement/0/Condition")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| shape("no Statement[0].Condition object"))?;
    let sub_key = format!("{provider_host_path}:sub");
    let subject = condition
        .get_mut("StringEquals")
        .and_then(Value::as_object_mut)
        .and_then(|equals| equals.remove(&sub_key))
        .ok_or_else(|| shape("no StringEquals condition on <host/path>:sub"))?;
    let pattern = subject.as_str().unwrap_or_default().to_string();
    condition.insert("StringLike".into(), json!({ sub_key: subject }));
    let warning = format!(
        "the trust policy matches the token subject with StringLike {pattern:?}: every \
         ServiceAccount matching it can assume this role, including ones created later by \
         anyone allowed to create {} there; prefer the exact namespace and name",
        if namespace_wild {
            "namespaces and ServiceAccounts"
        } else {
            "ServiceAccounts"
        }
    );
    Ok(TrustPolicy {
        document,
        warning: Some(warning),
    })
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
