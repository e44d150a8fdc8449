//! Reading the statements of a bucket policy that someone else may have written: whether one
//! grants public access the way S3 defines it, and whether the statement carrying our `Sid` is
//! really ours. `bootstrap` asks the first before it relaxes a bucket's Block Public Access
//! (which would make every dormant public statement live) and the second before it replaces a
//! statement. Both answer conservatively: when in doubt a statement counts as public, and as
//! not ours. Pure: no I/O.

use serde_json::Value;

use super::policy::check_partition;
use super::{DISCOVERY_PATH, JWKS_PATH};

/// A statement of a bucket policy that grants public access, named for a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicStatement {
    /// `Sid "X"`, or `statement #N` (1-based) when it has no `Sid`.
    pub label: String,
    /// `Allow s3:GetObject on arn:aws:s3:::b/* to *`.
    pub summary: String,
}

impl std::fmt::Display for PublicStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.label, self.summary)
    }
}

/// The statements of a parsed policy document: `Statement` may be a list or a single object.
pub fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => vec![],
    }
}

/// Every statement of `policy` that grants public access, except those with the `Sid`
/// `skip_sid` (ours, checked separately with [`not_ours_because`]).
pub fn public_statements(policy: &Value, skip_sid: &str) -> Vec<PublicStatement> {
    statements(policy)
        .into_iter()
        .enumerate()
        .filter(|(_, s)| sid(s) != Some(skip_sid))
        .filter(|(_, s)| grants_public_access(s))
        .map(|(i, s)| PublicStatement {
            label: match sid(s) {
                Some(sid) => format!("Sid {sid:?}"),
                None => format!("statement #{}", i + 1),
            },
            summary: summary(s),
        })
        .collect()
}

fn sid(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

/// Whether S3 would count `statement` as public.
///
/// S3 user guide, "Blocking public access to your Amazon S3 storage", section "The meaning of
/// 'public'" (docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status):
/// S3 starts by assuming a bucket policy is public, and counts it as non-public only when it
/// grants access to fixed values (no wildcard, no policy variable) of an AWS principal, user,
/// role or service principal (for example `aws:PrincipalOrgID`), a set of CIDRs in
/// `aws:SourceIp`, `aws:SourceArn`, `aws:SourceVpc`, `aws:SourceVpce`, `aws:SourceOwner`,
/// `aws:SourceAccount`, `s3:x-amz-server-side-encryption-aws-kms-key-id`, or `aws:userid`
/// outside the pattern `AROLEID:*`.
///
/// So: a `Deny` is never public; an `Allow` is public when its principal is `*` (or
/// `{"AWS": "*"}`, or a list holding `*`), or when it uses `NotPrincipal`, unless one of its
/// conditions pins one of those keys to fixed values ([`restricting_condition`]). Stricter than
/// the guide where it is silent: an `...IfExists` or `ForAnyValue:`/`ForAllValues:` operator
/// does not restrict (it passes when the key is absent), and an `aws:SourceIp` range wider
/// than /8 (IPv4) or /32 (IPv6) counts as the whole internet.
pub fn grants_public_access(statement: &Value) -> bool {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    let wildcard_principal = statement.get("NotPrincipal").is_some()
        || statement
            .get("Principal")
            .is_some_and(has_wildcard_principal);
    wildcard_principal && !restricting_condition(statement.get("Condition"))
}

/// `"*"`, `{"AWS": "*"}`, `{"AWS": ["arn:…", "*"]}`, or a `*` under any principal type.
fn has_wildcard_principal(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s.contains('*'),
        Value::Array(list) => list.iter().any(has_wildcard_principal),
        Value::Object(map) => map.values().any(has_wildcard_principal),
        _ => false,
    }
}

/// Condition keys that, pinned to fixed values, make a `*` principal non-public (lower case:
/// condition keys are case-insensitive).
const RESTRICTING_KEYS: [&str; 10] = [
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

/// Operators that compare with the given values (a `*` in a value, which `...Like` would read
/// as a wildcard, is refused by [`fixed_values`]).
const EQUALITY_OPERATORS: [&str; 5] = [
    "stringequals",
    "stringequalsignorecase",
    "stringlike",
    "arnequals",
    "arnlike",
];

/// Whether a statement's `Condition` pins a restricting key to fixed values. Every operator
/// and key of a `Condition` must hold (they are ANDed), so one restricting pair is enough.
fn restricting_condition(condition: Option<&Value>) -> bool {
    let Some(Value::Object(operators)) = condition else {
        return false;
    };
    operators.iter().any(|(operator, keys)| {
        let operator = operator.to_ascii_lowercase();
        let Value::Object(keys) = keys else {
            return false;
        };
        keys.iter().any(|(key, values)| {
            let key = key.to_ascii_lowercase();
            let Some(values) = fixed_values(values) else {
                return false;
            };
            if operator == "ipaddress" && key == "aws:sourceip" {
                values.iter().all(|cidr| narrow_cidr(cidr))
            } else {
                EQUALITY_OPERATORS.contains(&operator.as_str())
                    && RESTRICTING_KEYS.contains(&key.as_str())
            }
        })
    })
}

/// The values of a condition, when there is at least one and each is a fixed string: no
/// wildcard (`*`, `?`) and no policy variable (`${…}`).
fn fixed_values(values: &Value) -> Option<Vec<&str>> {
    let list: Vec<&Value> = match values {
        Value::Array(list) => list.iter().collect(),
        single => vec![single],
    };
    let strings: Vec<&str> = list.iter().filter_map(|v| v.as_str()).collect();
    let fixed = !strings.is_empty()
        && strings.len() == list.len()
        && strings
            .iter()
            .all(|s| !s.is_empty() && !s.contains(['*', '?', '$']));
    fixed.then_some(strings)
}

/// An address or a CIDR no wider than /8 (IPv4) or /32 (IPv6).
fn narrow_cidr(text: &str) -> bool {
    let (address, length) = match text.split_once('/') {
        Some((address, length)) => (address, length.parse::<u8>().ok()),
        None => (text, None),
    };
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => length.is_none_or(|l| (8..=32).contains(&l)),
        Ok(std::net::IpAddr::V6(_)) => length.is_none_or(|l| (32..=128).contains(&l)),
        Err(_) => false,
    }
}

/// `Allow s3:GetObject on arn:aws:s3:::b/* to *`, for a message.
fn summary(statement: &Value) -> String {
    let list = |key: &str| match statement.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let actions = match statement.get("NotAction") {
        Some(_) => format!("every action except {}", list("NotAction")),
        None => list("Action"),
    };
    let resources = match statement.get("NotResource") {
        Some(_) => format!("everything except {}", list("NotResource")),
        None => list("Resource"),
    };
    let principal = match statement.get("NotPrincipal") {
        Some(p) => format!("everyone except {p}"),
        None => match statement.get("Principal") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
    };
    let condition = if statement.get("Condition").is_some() {
        " (its Condition does not restrict it to fixed values)"
    } else {
        ""
    };
    format!("Allow {actions} on {resources} to {principal}{condition}")
}

/// Why the statement carrying our `Sid` is not one this tool wrote, or `None` when it is ours
/// in shape: `Allow`, principal `*` (or `{"AWS": "*"}`), the action `s3:GetObject` only, and
/// resources that are only document objects (`<prefix>/.well-known/openid-configuration`,
/// `<prefix>/openid/v1/jwks`) of `bucket`, with nothing else (no `Condition`, no `Not…`). Only
/// then may it be replaced: anything else was written or edited by someone, and replacing it
/// could drop their `Deny` or widen what they meant.
pub fn not_ours_because(statement: &Value, bucket: &str) -> Option<String> {
    let Value::Object(map) = statement else {
        return Some("it is not a JSON object".to_owned());
    };
    if let Some(key) = map
        .keys()
        .find(|k| !["Sid", "Effect", "Principal", "Action", "Resource"].contains(&k.as_str()))
    {
        return Some(format!("it has a {key} element"));
    }
    match map.get("Effect").and_then(Value::as_str) {
        Some("Allow") => {}
        Some(other) => return Some(format!("its Effect is {other}, not Allow")),
        None => return Some("it has no Effect".to_owned()),
    }
    let principal = map.get("Principal");
    let anonymous = match principal {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(p)) if p.len() == 1 => match p.get("AWS") {
            Some(Value::String(s)) => s == "*",
            Some(Value::Array(list)) => list.len() == 1 && list[0] == "*",
            _ => false,
        },
        _ => false,
    };
    if !anonymous {
        return Some(format!(
            "its Principal is {}, not \"*\"",
            principal.map_or("missing".to_owned(), Value::to_string)
        ));
    }
    let actions = string_list(map.get("Action"));
    if actions.is_empty()
        || actions
            .iter()
            .any(|a| !a.eq_ignore_ascii_case("s3:GetObject"))
    {
        return Some(format!(
            "its Action is {}, not only s3:GetObject",
            map.get("Action")
                .map_or("missing".to_owned(), Value::to_string)
        ));
    }
    let resources = string_list(map.get("Resource"));
    if resources.is_empty() {
        return Some("it has no Resource".to_owned());
    }
    if let Some(other) = resources.iter().find(|r| !is_document_object(r, bucket)) {
        return Some(format!(
            "its Resource {other:?} is not one of the two documents of bucket {bucket}"
        ));
    }
    None
}

/// The strings of a string-or-list element; a non-string item makes the list unusable (empty).
pub fn string_list(value: Option<&Value>) -> Vec<&str> {
    let items: Vec<&Value> = match value {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single) => vec![single],
        None => vec![],
    };
    let strings: Vec<&str> = items.iter().filter_map(|v| v.as_str()).collect();
    if strings.len() == items.len() {
        strings
    } else {
        vec![]
    }
}

/// `arn:<partition>:s3:::<bucket>/[<prefix>/]<document path>`, with no wildcard or variable.
fn is_document_object(resource: &str, bucket: &str) -> bool {
    let Some(rest) = resource.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    let Some(key) = rest
        .strip_prefix("s3:::")
        .and_then(|r| r.strip_prefix(bucket))
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    check_partition(partition).is_ok()
        && !key.contains(['*', '?', '$'])
        && [DISCOVERY_PATH, JWKS_PATH]
            .iter()
            .any(|doc| key == *doc || key.ends_with(&format!("/{doc}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn allow_all(extra: Value) -> Value {
        let mut s = json!({
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::my-oidc/*"
        });
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    }

    #[test]
    fn what_s3_counts_as_public() {
        // (case, statement, public)
        let cases = [
            ("principal *", allow_all(json!({})), true),
            (
                "AWS *",
                allow_all(json!({ "Principal": { "AWS": "*" } })),
                true,
            ),
            (
                "AWS list with *",
                allow_all(
                    json!({ "Principal": { "AWS": ["arn:aws:iam::111122223333:root", "*"] } }),
                ),
                true,
            ),
            (
                "a Deny is never public",
                allow_all(json!({ "Effect": "Deny" })),
                false,
            ),
            (
                "a fixed account principal",
                allow_all(json!({ "Principal": { "AWS": "arn:aws:iam::111122223333:root" } })),
                false,
            ),
            (
                "a fixed service principal",
                allow_all(json!({ "Principal": { "Service": "logging.s3.amazonaws.com" } })),
                false,
            ),
            (
                "NotPrincipal with Allow",
                json!({ "Effect": "Allow", "NotPrincipal": { "AWS": "arn:aws:iam::111122223333:root" }, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*" }),
                true,
            ),
            (
                "fixed aws:SourceVpce",
                allow_all(
                    json!({ "Condition": { "StringEquals": { "aws:SourceVpce": "vpce-1a2b3c4d" } } }),
                ),
                false,
            ),
            (
                "fixed aws:SourceArn (CloudFront OAC), key in another case",
                allow_all(
                    json!({ "Condition": { "StringEquals": { "AWS:SourceArn": "arn:aws:cloudfront::111122223333:distribution/E1" } } }),
                ),
                false,
            ),
            (
                "fixed aws:PrincipalOrgID list",
                allow_all(
                    json!({ "Condition": { "StringEquals": { "aws:PrincipalOrgID": ["o-abc", "o-def"] } } }),
                ),
                false,
            ),
            (
                "fixed aws:SourceVpc with ArnLike-free StringLike",
                allow_all(json!({ "Condition": { "StringLike": { "aws:SourceVpc": "vpc-111" } } })),
                false,
            ),
            (
                "wildcard aws:SourceVpc",
                allow_all(json!({ "Condition": { "StringLike": { "aws:SourceVpc": "vpc-*" } } })),
                true,
            ),
            (
                "policy variable",
                allow_all(
                    json!({ "Condition": { "StringEquals": { "aws:SourceAccount": "${aws:PrincipalAccount}" } } }),
                ),
                true,
            ),
            (
                "IfExists passes when the key is absent",
                allow_all(
                    json!({ "Condition": { "StringEqualsIfExists": { "aws:SourceVpce": "vpce-1" } } }),
                ),
                true,
            ),
            (
                "ForAnyValue set operator",
                allow_all(
                    json!({ "Condition": { "ForAnyValue:StringEquals": { "aws:SourceVpce": ["vpce-1"] } } }),
                ),
                true,
            ),
            (
                "StringNotEquals does not restrict",
                allow_all(
                    json!({ "Condition": { "StringNotEquals": { "aws:SourceVpce": "vpce-1" } } }),
                ),
                true,
            ),
            (
                "a key S3 does not count (aws:SecureTransport)",
                allow_all(json!({ "Condition": { "Bool": { "aws:SecureTransport": "true" } } })),
                true,
            ),
            (
                "a key S3 does not count (aws:Referer)",
                allow_all(
                    json!({ "Condition": { "StringEquals": { "aws:Referer": "https://x" } } }),
                ),
                true,
            ),
            (
                "empty value list",
                allow_all(json!({ "Condition": { "StringEquals": { "aws:SourceVpce": [] } } })),
                true,
            ),
            (
                "fixed aws:SourceIp CIDR",
                allow_all(
                    json!({ "Condition": { "IpAddress": { "aws:SourceIp": ["192.0.2.0/24", "2001:db8::/48", "198.51.100.7"] } } }),
                ),
                false,
            ),
            (
                "aws:SourceIp 0.0.0.0/0",
                allow_all(json!({ "Condition": { "IpAddress": { "aws:SourceIp": "0.0.0.0/0" } } })),
                true,
            ),
            (
                "aws:SourceIp half the internet",
                allow_all(
                    json!({ "Condition": { "IpAddress": { "aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"] } } }),
                ),
                true,
            ),
            (
                "aws:SourceIp ::/0",
                allow_all(json!({ "Condition": { "IpAddress": { "aws:SourceIp": "::/0" } } })),
                true,
            ),
            (
                "NotIpAddress does not restrict",
                allow_all(
                    json!({ "Condition": { "NotIpAddress": { "aws:SourceIp": "192.0.2.0/24" } } }),
                ),
                true,
            ),
            (
                "one restricting key among others is enough (ANDed)",
                allow_all(
                    json!({ "Condition": { "Bool": { "aws:SecureTransport": "true" }, "StringEquals": { "aws:SourceAccount": "111122223333" } } }),
                ),
                false,
            ),
        ];
        for (case, statement, public) in cases {
            assert_eq!(grants_public_access(&statement), public, "{case}");
        }
    }

    #[test]
    fn public_statements_are_named_by_sid_or_position_and_ours_is_skipped() {
        let policy = json!({ "Statement": [
            { "Sid": "KubeOidcPublisherPublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/.well-known/openid-configuration" },
            { "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*" },
            { "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"] },
            { "Sid": "Legacy", "Effect": "Allow", "Principal": "*", "NotAction": "s3:Delete*", "Resource": "arn:aws:s3:::b/*" },
        ]});
        let found = public_statements(&policy, "KubeOidcPublisherPublicRead");
        assert_eq!(
            found,
            [
                PublicStatement {
                    label: "statement #3".into(),
                    summary: "Allow s3:GetObject, s3:ListBucket on arn:aws:s3:::b, arn:aws:s3:::b/* to {\"AWS\":\"*\"}".into(),
                },
                PublicStatement {
                    label: "Sid \"Legacy\"".into(),
                    summary: "Allow every action except s3:Delete* on arn:aws:s3:::b/* to *".into(),
                },
            ]
        );
        // A single statement object.
        let single = json!({ "Statement": allow_all(json!({ "Sid": "Old" })) });
        assert_eq!(
            public_statements(&single, "KubeOidcPublisherPublicRead").len(),
            1
        );
        assert!(public_statements(&json!({}), "x").is_empty());
    }

    #[test]
    fn only_a_statement_of_our_shape_is_ours() {
        let ours = json!({
            "Sid": "KubeOidcPublisherPublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": [
                "arn:aws:s3:::my-oidc/c1/.well-known/openid-configuration",
                "arn:aws:s3:::my-oidc/c1/openid/v1/jwks"
            ]
        });
        assert_eq!(not_ours_because(&ours, "my-oidc"), None);
        let with = |key: &str, value: Value| {
            let mut s = ours.clone();
            s[key] = value;
            s
        };
        // Equivalent forms, another prefix, another partition: still ours.
        for (case, statement) in [
            ("AWS *", with("Principal", json!({ "AWS": "*" }))),
            ("AWS [*]", with("Principal", json!({ "AWS": ["*"] }))),
            ("action list", with("Action", json!(["s3:GetObject"]))),
            (
                "one document, no prefix",
                with("Resource", json!("arn:aws:s3:::my-oidc/openid/v1/jwks")),
            ),
            (
                "aws-cn",
                with(
                    "Resource",
                    json!("arn:aws-cn:s3:::my-oidc/old/.well-known/openid-configuration"),
                ),
            ),
        ] {
            assert_eq!(not_ours_because(&statement, "my-oidc"), None, "{case}");
        }
        for (case, statement, reason) in [
            ("Deny", with("Effect", json!("Deny")), "its Effect is Deny, not Allow"),
            (
                "a Condition",
                with("Condition", json!({ "IpAddress": { "aws:SourceIp": "192.0.2.0/24" } })),
                "it has a Condition element",
            ),
            (
                "an account principal",
                with("Principal", json!({ "AWS": "arn:aws:iam::111122223333:root" })),
                "its Principal is {\"AWS\":\"arn:aws:iam::111122223333:root\"}, not \"*\"",
            ),
            (
                "more actions",
                with("Action", json!(["s3:GetObject", "s3:PutObject"])),
                "its Action is [\"s3:GetObject\",\"s3:PutObject\"], not only s3:GetObject",
            ),
            (
                "a wildcard resource",
                with("Resource", json!("arn:aws:s3:::my-oidc/*")),
                "its Resource \"arn:aws:s3:::my-oidc/*\" is not one of the two documents of bucket my-oidc",
            ),
            (
                "another bucket",
                with("Resource", json!("arn:aws:s3:::my-oidc-2/openid/v1/jwks")),
                "its Resource \"arn:aws:s3:::my-oidc-2/openid/v1/jwks\" is not one of the two documents of bucket my-oidc",
            ),
            (
                "another object",
                with("Resource", json!(["arn:aws:s3:::my-oidc/openid/v1/jwks", "arn:aws:s3:::my-oidc/secret.txt"])),
                "its Resource \"arn:aws:s3:::my-oidc/secret.txt\" is not one of the two documents of bucket my-oidc",
            ),
            (
                "a document path as a suffix of another name",
                with("Resource", json!("arn:aws:s3:::my-oidc/xopenid/v1/jwks")),
                "its Resource \"arn:aws:s3:::my-oidc/xopenid/v1/jwks\" is not one of the two documents of bucket my-oidc",
            ),
        ] {
            assert_eq!(
                not_ours_because(&statement, "my-oidc").as_deref(),
                Some(reason),
                "{case}"
            );
        }
    }
}
