//! How long IAM counts a role trust policy, and IAM's "Role trust policy length" quota: a
//! warning past the default quota, a refusal past the largest one an account can get. Pure:
//! it measures a rendered document and never asks AWS for the account's applied quota.

use serde_json::Value;

use super::PolicyError;

// IAM user guide, "IAM and AWS STS quotas" (reference_iam-quotas), table "Default quotas for
// IAM entities": "Role trust policy length | 2048 characters | 4096 characters" (default,
// maximum), adjustable in Service Quotas (service `iam`, quota code L-C07B4B0D, requested in
// us-east-1). IAM refuses a longer policy with `LimitExceeded: Cannot exceed quota for
// ACLSizePerRole: 2048`. How the length is counted: the same page says of inline and managed
// policies that "IAM does not count white space when calculating the size of a policy against
// these quotas", and the quota is in characters; it says nothing more for trust policies, so
// we count the same way: the characters of the compact JSON (no whitespace between tokens).
// Whitespace inside a string value is counted, which can only overestimate.

/// IAM's default "Role trust policy length" quota, in characters.
pub const TRUST_POLICY_DEFAULT_QUOTA: usize = 2048;

/// The largest "Role trust policy length" an account can be granted (Service Quotas).
pub const TRUST_POLICY_MAX_QUOTA: usize = 4096;

/// The length of `document` as IAM counts it against its quotas: characters (not bytes), with
/// no whitespace between JSON tokens.
pub fn policy_characters(document: &Value) -> usize {
    document.to_string().chars().count()
}

/// Checks a trust policy's length against IAM's quota: `Ok(None)` within the default quota,
/// `Ok(Some(warning))` past it (fine only where the quota was raised), and
/// [`PolicyError::TrustPolicyTooLong`] past the largest quota.
pub fn check_trust_policy_length(document: &Value) -> Result<Option<String>, PolicyError> {
    let characters = policy_characters(document);
    let statements = document
        .get("Statement")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if characters > TRUST_POLICY_MAX_QUOTA {
        return Err(PolicyError::TrustPolicyTooLong {
            characters,
            statements,
        });
    }
    Ok((characters > TRUST_POLICY_DEFAULT_QUOTA).then(|| {
        format!(
            "the trust policy is {characters} characters ({statements} statements; whitespace \
             not counted, as IAM counts), over IAM's default \"Role trust policy length\" quota \
             of {TRUST_POLICY_DEFAULT_QUOTA}: creating or updating the role fails with \
             LimitExceeded (ACLSizePerRole) unless the account's quota is at least \
             {characters}. Raise it in Service Quotas (AWS Identity and Access Management (IAM), \
             \"Role trust policy length\", code L-C07B4B0D, region us-east-1; up to \
             {TRUST_POLICY_MAX_QUOTA}), or split the clusters over several roles"
        )
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A policy of exactly `characters` characters as IAM counts them.
    fn policy_of(characters: usize) -> Value {
        let empty = json!({ "Version": "2012-10-17", "Statement": [{ "Sid": "" }] });
        let padding = characters
            .checked_sub(policy_characters(&empty))
            .expect("longer than an empty policy");
        json!({ "Version": "2012-10-17", "Statement": [{ "Sid": "x".repeat(padding) }] })
    }

    #[test]
    fn counts_characters_without_the_whitespace_between_tokens() {
        let document = json!({ "a": ["b c", 1] });
        assert_eq!(policy_characters(&document), r#"{"a":["b c",1]}"#.len());
        // Pretty-printing changes nothing: the document is measured, not its text.
        let pretty = serde_json::to_string_pretty(&document).unwrap();
        let reparsed: Value = serde_json::from_str(&pretty).unwrap();
        assert!(pretty.len() > policy_characters(&document));
        assert_eq!(policy_characters(&reparsed), policy_characters(&document));
        // Characters, not bytes: IAM takes U+0020 to U+00FF, two UTF-8 bytes past U+007F.
        assert_eq!(policy_characters(&json!("é")), 3);
    }

    #[test]
    fn warns_past_the_default_quota_and_refuses_past_the_largest() {
        assert_eq!(policy_characters(&policy_of(2048)), 2048);
        assert_eq!(check_trust_policy_length(&policy_of(100)), Ok(None));
        assert_eq!(check_trust_policy_length(&policy_of(2048)), Ok(None));

        for characters in [2049, 4096] {
            let warning = check_trust_policy_length(&policy_of(characters))
                .unwrap()
                .expect("a warning past 2048");
            assert!(
                warning.contains(&format!("is {characters} characters")),
                "{warning}"
            );
            assert!(warning.contains("Role trust policy length"), "{warning}");
            assert!(warning.contains("L-C07B4B0D"), "{warning}");
        }

        let error = check_trust_policy_length(&policy_of(4097)).unwrap_err();
        assert_eq!(
            error,
            PolicyError::TrustPolicyTooLong {
                characters: 4097,
                statements: 1
            }
        );
        let message = error.to_string();
        assert!(message.contains("4097 characters"), "{message}");
        assert!(message.contains("Role trust policy length"), "{message}");
        assert!(message.contains("4096"), "{message}");
    }
}
