//! The IAM and S3 policies this tool renders: a role trust policy for one ServiceAccount, the
//! one public-read statement of the bucket policy, the publisher's and the operator's
//! least-privilege policies. The documents themselves live in `templates/*.json` (embedded with
//! `include_str!`) with `${NAME}` placeholders in string values and object keys; this module
//! parses a template with serde_json and substitutes inside the parsed strings, so a value is
//! always escaped and can never change the document's structure. It validates every value
//! first (names, ARNs, and no IAM wildcard or policy variable sneaking into a resource), and it
//! merges our statement into an existing bucket policy without touching anyone else's.
//! Pure: no I/O, no clock.

use serde_json::{json, Map, Value};

use super::bucket_statement;
use super::issuer::Issuer;

/// The partition of a region, as it appears in ARNs (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub use super::issuer::partition;

/// The audience IRSA tokens carry, and the IAM provider's default client ID.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// `Sid` of the bucket-policy statement this tool owns; every other statement is left alone.
pub const BUCKET_POLICY_SID: &str = "KubeOidcPublisherPublicRead";

/// `Version` of the documents this tool writes.
pub const POLICY_VERSION: &str = "2012-10-17";

/// One embedded template: its file name (for messages) and its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    pub name: &'static str,
    pub text: &'static str,
}

/// Role trust policy for one ServiceAccount (`sts:AssumeRoleWithWebIdentity`).
pub const TRUST_POLICY: Template = Template {
    name: "templates/trust-policy.json",
    text: include_str!("../../templates/trust-policy.json"),
};

/// The bucket-policy statement: anonymous `s3:GetObject` on exactly the two documents.
pub const BUCKET_POLICY_STATEMENT: Template = Template {
    name: "templates/bucket-policy-statement.json",
    text: include_str!("../../templates/bucket-policy-statement.json"),
};

/// Inline policy of the in-cluster publisher's role.
pub const PUBLISHER_ROLE_POLICY: Template = Template {
    name: "templates/publisher-role-policy.json",
    text: include_str!("../../templates/publisher-role-policy.json"),
};

/// What the workstation user running `bootstrap` needs.
pub const OPERATOR_POLICY: Template = Template {
    name: "templates/operator-policy.json",
    text: include_str!("../../templates/operator-policy.json"),
};

/// Every template, for tests and documentation.
pub const TEMPLATES: [Template; 4] = [
    TRUST_POLICY,
    BUCKET_POLICY_STATEMENT,
    PUBLISHER_ROLE_POLICY,
    OPERATOR_POLICY,
];

/// A rendered trust policy, and a warning to print when it matches more than one
/// ServiceAccount.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustPolicy {
    pub document: Value,
    /// Set when the `sub` condition uses `StringLike` (a wildcard in the namespace or name).
    pub warning: Option<String>,
}

/// Why a policy cannot be rendered. Each message says what to pass instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("{template} is not valid JSON ({reason}); fix the template")]
    TemplateJson {
        template: &'static str,
        reason: String,
    },
    #[error("{template} uses the placeholder ${{{name}}}, which nothing fills; fill it in src/model/policy.rs or remove it from the template")]
    UnknownPlaceholder {
        template: &'static str,
        name: String,
    },
    #[error(
        "{template} has an unterminated placeholder in {text:?}; write placeholders as ${{NAME}}"
    )]
    UnterminatedPlaceholder {
        template: &'static str,
        text: String,
    },
    #[error("{template} never uses the placeholder ${{{name}}}, so its value would be lost; use it in the template or stop passing it")]
    UnfilledValue {
        template: &'static str,
        name: String,
    },
    #[error("{template} has two keys that both become {key:?}; make the template's keys distinct")]
    DuplicateKey { template: &'static str, key: String },
    #[error("{template} does not have the shape this tool edits ({reason}); restore the template")]
    TemplateShape {
        template: &'static str,
        reason: &'static str,
    },
    #[error("both --namespace {namespace:?} and --service-account {service_account:?} contain wildcards: the role could be assumed by many ServiceAccounts in many namespaces, including ones created later; pass the exact namespace or the exact ServiceAccount name (best: both)")]
    BothWildcards {
        namespace: String,
        service_account: String,
    },
    #[error("namespace {namespace:?} is not a valid Kubernetes namespace name ({reason}); pass it exactly as `kubectl get namespaces` shows it")]
    BadNamespace { namespace: String, reason: String },
    #[error("ServiceAccount name {name:?} is not valid ({reason}); pass it exactly as `kubectl get serviceaccounts -n <namespace>` shows it")]
    BadServiceAccount { name: String, reason: String },
    #[error("audience {audience:?} is not usable ({reason}); pass the audience of the projected token, normally sts.amazonaws.com")]
    BadAudience { audience: String, reason: String },
    #[error("account id {0:?} is not a 12-digit AWS account id; pass --account-id as `aws sts get-caller-identity --query Account` prints it")]
    BadAccountId(String),
    #[error("partition {0:?} is not an AWS partition name; pass aws, aws-cn, aws-us-gov, aws-iso or aws-iso-b (or omit it to derive it from the region)")]
    BadPartition(String),
    #[error("{arn:?} is not the ARN of an IAM OIDC provider for {host_path:?}; expected arn:<partition>:iam::<account>:oidc-provider/{host_path}")]
    BadProviderArn { arn: String, host_path: String },
    #[error("bucket name {0:?} is not valid: S3 bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit")]
    BadBucket(String),
    #[error(transparent)]
    BadPrefix(#[from] super::prefix::PrefixError),
    #[error("role name {0:?} is not a valid IAM role name (1-64 letters, digits and +=,.@_-)")]
    BadRoleName(String),
    #[error("the existing bucket policy is not valid JSON ({0}); fix or delete it (`aws s3api get-bucket-policy`) and run again")]
    ExistingPolicyJson(String),
    #[error("the existing bucket policy has an unexpected shape ({0}); fix it (`aws s3api get-bucket-policy`) and run again")]
    ExistingPolicyShape(&'static str),
    #[error("statement {sid:?} has the Sid kube-oidc-publisher uses for its own statement, but it is not one kube-oidc-publisher wrote ({reason}), so it was not replaced. Nothing was changed. If it is yours, give it another Sid (`aws s3api get-bucket-policy`, edit, `aws s3api put-bucket-policy`) and bootstrap will add its statement beside it; if it is a leftover, delete it; then run bootstrap again")]
    NotOurStatement { sid: String, reason: String },
}

/// Renders `template`, replacing every `${NAME}` in string values and object keys with the
/// value of `NAME` in `values`. Every placeholder must have a value and every value must be
/// used. Substitution is a single pass over the template's own text: a value containing
/// `${...}` is inserted literally.
pub fn render(template: &Template, values: &[(&str, &str)]) -> Result<Value, PolicyError> {
    let parsed: Value =
        serde_json::from_str(template.text).map_err(|e| PolicyError::TemplateJson {
            template: template.name,
            reason: e.to_string(),
        })?;
    let mut used = vec![false; values.len()];
    let rendered = substitute_value(template.name, parsed, values, &mut used)?;
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(PolicyError::UnfilledValue {
            template: template.name,
            name: values[i].0.to_string(),
        });
    }
    Ok(rendered)
}

fn substitute_value(
    template: &'static str,
    value: Value,
    values: &[(&str, &str)],
    used: &mut [bool],
) -> Result<Value, PolicyError> {
    Ok(match value {
        Value::String(s) => Value::String(substitute_str(template, &s, values, used)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| substitute_value(template, item, values, used))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, item) in object {
                let key = substitute_str(template, &key, values, used)?;
                let item = substitute_value(template, item, values, used)?;
                if out.insert(key.clone(), item).is_some() {
                    return Err(PolicyError::DuplicateKey { template, key });
                }
            }
            Value::Object(out)
        }
        other => other,
    })
}

fn substitute_str(
    template: &'static str,
    text: &str,
    values: &[(&str, &str)],
    used: &mut [bool],
) -> Result<String, PolicyError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| PolicyError::UnterminatedPlaceholder {
                template,
                text: text.to_string(),
            })?;
        let name = &after[..end];
        let index = values.iter().position(|(n, _)| *n == name).ok_or_else(|| {
            PolicyError::UnknownPlaceholder {
                template,
                name: name.to_string(),
            }
        })?;
        used[index] = true;
        out.push_str(values[index].1);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The ARN of the IAM OIDC provider for `issuer`:
/// `arn:<partition>:iam::<account>:oidc-provider/<host/path>` (PROTOCOL.md §1).
pub fn provider_arn(
    partition: &str,
    account: &str,
    issuer: &Issuer,
) -> Result<String, PolicyError> {
    check_partition(partition)?;
    check_account(account)?;
    Ok(format!(
        "arn:{partition}:iam::{account}:oidc-provider/{}",
        issuer.provider_url()
    ))
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

/// `""` for no prefix, else `prefix/`: object ARNs are then `bucket/<key prefix><key>`. The
/// prefix passes the one validator every command uses ([`super::prefix::check`]): no wildcard
/// or policy variable can widen a resource beyond the documents.
fn key_prefix(prefix: &str) -> Result<String, PolicyError> {
    let prefix = prefix.trim_matches('/');
    super::prefix::check(prefix)?;
    if prefix.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("{prefix}/"))
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// A DNS-1123 label: 1-63 of `[a-z0-9-]`, starting and ending alphanumeric. With wildcards,
/// the other characters must still be label characters.
fn check_namespace(namespace: &str) -> Result<(), PolicyError> {
    let reason = dns_label_problem(namespace, 63);
    match reason {
        None => Ok(()),
        Some(reason) => Err(PolicyError::BadNamespace {
            namespace: namespace.into(),
            reason,
        }),
    }
}

/// A DNS-1123 subdomain (what Kubernetes requires of ServiceAccount names): at most 253
/// characters, dot-separated labels of `[a-z0-9-]`, each starting and ending alphanumeric.
fn check_service_account(name: &str) -> Result<(), PolicyError> {
    let reason = if name.len() > 253 {
        Some(format!("{} characters, at most 253 allowed", name.len()))
    } else {
        name.split('.')
            .find_map(|label| dns_label_problem(label, 253))
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(PolicyError::BadServiceAccount {
            name: name.into(),
            reason: format!("a DNS-1123 subdomain is needed: {reason}"),
        }),
    }
}

fn dns_label_problem(label: &str, max: usize) -> Option<String> {
    let wild = |c: char| c == '*' || c == '?';
    if label.is_empty() {
        return Some("it is empty".into());
    }
    if label.len() > max {
        return Some(format!("{} characters, at most {max} allowed", label.len()));
    }
    if let Some(c) = label
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || wild(c)))
    {
        return Some(format!(
            "{c:?} is not allowed: only lowercase letters, digits and '-'"
        ));
    }
    let edge_ok = |c: char| c.is_ascii_alphanumeric() || wild(c);
    if !label.starts_with(edge_ok) || !label.ends_with(edge_ok) {
        return Some("it must start and end with a letter or digit".into());
    }
    None
}

fn check_audience(audience: &str) -> Result<(), PolicyError> {
    let bad = |reason: &str| {
        Err(PolicyError::BadAudience {
            audience: audience.into(),
            reason: reason.into(),
        })
    };
    if audience.is_empty() || audience.chars().count() > 255 {
        return bad("IAM client IDs are 1-255 characters");
    }
    if audience.contains("${") {
        return bad("'${' would start an IAM policy variable");
    }
    if audience.chars().any(char::is_control) {
        return bad("control characters");
    }
    Ok(())
}

fn check_account(account: &str) -> Result<(), PolicyError> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PolicyError::BadAccountId(account.into()))
    }
}

pub(crate) fn check_partition(partition: &str) -> Result<(), PolicyError> {
    let valid = partition == "aws"
        || partition.strip_prefix("aws-").is_some_and(|rest| {
            !rest.is_empty()
                && !rest.starts_with('-')
                && !rest.ends_with('-')
                && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        });
    if valid {
        Ok(())
    } else {
        Err(PolicyError::BadPartition(partition.into()))
    }
}

fn check_bucket(bucket: &str) -> Result<(), PolicyError> {
    let bytes = bucket.as_bytes();
    let valid = (3..=63).contains(&bucket.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !bucket.contains("..");
    if valid {
        Ok(())
    } else {
        Err(PolicyError::BadBucket(bucket.into()))
    }
}

/// Checks a role name as IAM does (1-64 of letters, digits and `+=,.@_-`).
pub fn check_role_name(name: &str) -> Result<(), PolicyError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(PolicyError::BadRoleName(name.into()))
    }
}

/// `arn:<partition>:iam::<12 digits>:oidc-provider/<host_path>`, with no wildcard.
fn check_provider_arn(arn: &str, host_path: &str) -> Result<(), PolicyError> {
    let bad = || PolicyError::BadProviderArn {
        arn: arn.into(),
        host_path: host_path.into(),
    };
    let rest = arn.strip_prefix("arn:").ok_or_else(bad)?;
    let (partition, rest) = rest.split_once(":iam::").ok_or_else(bad)?;
    let (account, rest) = rest.split_once(':').ok_or_else(bad)?;
    let arn_host_path = rest.strip_prefix("oidc-provider/").ok_or_else(bad)?;
    if check_partition(partition).is_err()
        || check_account(account).is_err()
        || host_path.is_empty()
        || arn_host_path != host_path
        || arn.contains(['*', '?', '$'])
    {
        return Err(bad());
    }
    Ok(())
}

/// A provider ARN (any host/path) in `partition`.
fn check_arn_of_provider(arn: &str, partition: &str) -> Result<(), PolicyError> {
    let host_path = arn.split_once(":oidc-provider/").map_or("", |(_, hp)| hp);
    check_provider_arn(arn, host_path)?;
    if !arn.starts_with(&format!("arn:{partition}:")) {
        return Err(PolicyError::BadProviderArn {
            arn: arn.into(),
            host_path: host_path.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::{DISCOVERY_PATH, JWKS_PATH};

    const HOST_PATH: &str = "oidc.example.test/c1";
    const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c1";

    fn trust(namespace: &str, name: &str) -> Result<TrustPolicy, PolicyError> {
        trust_policy(ARN, HOST_PATH, namespace, name, DEFAULT_AUDIENCE)
    }

    #[test]
    fn every_template_parses_and_renders_with_its_values() {
        for template in TEMPLATES {
            serde_json::from_str::<Value>(template.text)
                .unwrap_or_else(|e| panic!("{}: {e}", template.name));
        }
        trust("default", "app").unwrap();
        bucket_policy_statement("aws", "my-oidc", "c1").unwrap();
        publisher_role_policy("aws", "my-oidc", "c1", ARN).unwrap();
        operator_policy(
            "aws",
            "123456789012",
            "my-oidc",
            "c1",
            ARN,
            "oidc-publisher",
        )
        .unwrap();
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

    #[test]
    fn provider_arns_follow_partition_account_and_issuer() {
        let issuer = Issuer::parse("https://oidc.example.test/c1").unwrap();
        assert_eq!(provider_arn("aws", "123456789012", &issuer).unwrap(), ARN);
        let issuer = Issuer::for_s3_bucket("b-1", "cn-north-1", "").unwrap();
        assert_eq!(
            provider_arn(partition("cn-north-1"), "210987654321", &issuer).unwrap(),
            "arn:aws-cn:iam::210987654321:oidc-provider/b-1.s3.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            provider_arn("aws", "1234", &issuer).unwrap_err(),
            PolicyError::BadAccountId("1234".into())
        );
        assert_eq!(
            provider_arn("AWS", "123456789012", &issuer).unwrap_err(),
            PolicyError::BadPartition("AWS".into())
        );
    }

    #[test]
    fn partitions_match_the_dns_suffix_of_the_same_region() {
        use crate::model::issuer::dns_suffix;
        for (region, partition_name, suffix) in [
            ("us-east-1", "aws", "amazonaws.com"),
            ("eu-west-1", "aws", "amazonaws.com"),
            ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
            ("cn-northwest-1", "aws-cn", "amazonaws.com.cn"),
            ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
            ("us-iso-east-1", "aws-iso", "c2s.ic.gov"),
            ("us-isob-east-1", "aws-iso-b", "sc2s.sgov.gov"),
            ("eu-isoe-west-1", "aws-iso-e", "cloud.adc-e.uk"),
            ("us-isof-south-1", "aws-iso-f", "csp.hci.ic.gov"),
        ] {
            assert_eq!(partition(region), partition_name, "{region}");
            assert_eq!(dns_suffix(region), suffix, "{region}");
            check_partition(partition(region)).unwrap();
        }
        for bad in ["", "AWS", "aws-", "azure", "aws--x", "aws-cn1"] {
            assert!(check_partition(bad).is_err(), "{bad:?}");
        }
    }

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
        for bad in ["", "has space", &"r".repeat(65)] {
            assert!(matches!(
                operator_policy("aws", "123456789012", "my-oidc", "", ARN, bad),
                Err(PolicyError::BadRoleName(_))
            ));
        }
    }

    #[test]
    fn render_escapes_values_and_rejects_unknown_or_unfilled_placeholders() {
        const T: Template = Template {
            name: "test.json",
            text: r#"{"${K}:x": "a ${V} b", "list": ["${V}"], "n": 1}"#,
        };
        let hostile = r#"x", "Effect": "Deny\ ${K}"#;
        let value = render(&T, &[("K", "key"), ("V", hostile)]).unwrap();
        assert_eq!(
            value,
            json!({ "key:x": format!("a {hostile} b"), "list": [hostile], "n": 1 })
        );
        // The value's `${K}` was not substituted again, and the JSON round-trips.
        let text = serde_json::to_string(&value).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);

        assert_eq!(
            render(&T, &[("K", "key")]).unwrap_err(),
            PolicyError::UnknownPlaceholder {
                template: "test.json",
                name: "V".into()
            }
        );
        assert_eq!(
            render(&T, &[("K", "k"), ("V", "v"), ("W", "w")]).unwrap_err(),
            PolicyError::UnfilledValue {
                template: "test.json",
                name: "W".into()
            }
        );
        const UNTERMINATED: Template = Template {
            name: "u.json",
            text: r#"{"a": "${A"}"#,
        };
        assert!(matches!(
            render(&UNTERMINATED, &[("A", "a")]),
            Err(PolicyError::UnterminatedPlaceholder { .. })
        ));
        const DUPLICATE: Template = Template {
            name: "d.json",
            text: r#"{"${A}": 1, "${B}": 2}"#,
        };
        assert_eq!(
            render(&DUPLICATE, &[("A", "same"), ("B", "same")]).unwrap_err(),
            PolicyError::DuplicateKey {
                template: "d.json",
                key: "same".into()
            }
        );
        const BROKEN: Template = Template {
            name: "b.json",
            text: "{",
        };
        assert!(matches!(
            render(&BROKEN, &[]),
            Err(PolicyError::TemplateJson { .. })
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
