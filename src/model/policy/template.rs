//! The policy templates (`templates/*.json`, embedded with `include_str!`) and their renderer:
//! parse the template with serde_json, then substitute `${NAME}` inside the parsed strings and
//! keys, so a value is always escaped and can never change the document's structure. Knows
//! nothing of what the placeholders mean; [`super::trust`], [`super::bucket`] and
//! [`super::role`] fill them.

use serde_json::{Map, Value};

use super::PolicyError;

/// One embedded template: its file name (for messages) and its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    pub name: &'static str,
    pub text: &'static str,
}

/// `Template { name: "templates/<file>", text: <the file, embedded> }`.
macro_rules! template {
    ($file:literal) => {
        Template {
            name: concat!("templates/", $file),
            text: include_str!(concat!("../../../templates/", $file)),
        }
    };
}

/// Role trust policy for one ServiceAccount (`sts:AssumeRoleWithWebIdentity`).
pub const TRUST_POLICY: Template = template!("trust-policy.json");

/// The bucket-policy statement: anonymous `s3:GetObject` on exactly the two documents.
pub const BUCKET_POLICY_STATEMENT: Template = template!("bucket-policy-statement.json");

/// The bucket-policy statement of `--hosting cloudfront`: `s3:GetObject` on exactly the two
/// documents for the CloudFront service principal, from one distribution only.
pub const BUCKET_POLICY_CLOUDFRONT_STATEMENT: Template =
    template!("bucket-policy-cloudfront-statement.json");

/// Inline policy of the in-cluster publisher's role.
pub const PUBLISHER_ROLE_POLICY: Template = template!("publisher-role-policy.json");

/// What the workstation user running `bootstrap` needs.
pub const OPERATOR_POLICY: Template = template!("operator-policy.json");

/// Every template, for tests and documentation.
pub const TEMPLATES: [Template; 5] = [
    TRUST_POLICY,
    BUCKET_POLICY_STATEMENT,
    BUCKET_POLICY_CLOUDFRONT_STATEMENT,
    PUBLISHER_ROLE_POLICY,
    OPERATOR_POLICY,
];

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
}
