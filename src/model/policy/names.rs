//! Checks of every value that goes into a policy, as Kubernetes, S3 and IAM define them
//! (namespace, ServiceAccount, audience, account id, partition, bucket, prefix, role name,
//! provider ARN), so that no IAM wildcard or policy variable can widen a resource; and the
//! provider ARN built from checked parts.

use super::PolicyError;
use crate::model::issuer::Issuer;

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

/// `""` for no prefix, else `prefix/`: object ARNs are then `bucket/<key prefix><key>`. The
/// prefix passes the one validator every command uses ([`crate::model::prefix::check`]): no wildcard
/// or policy variable can widen a resource beyond the documents.
pub(super) fn key_prefix(prefix: &str) -> Result<String, PolicyError> {
    let prefix = prefix.trim_matches('/');
    crate::model::prefix::check(prefix)?;
    if prefix.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("{prefix}/"))
}

pub(super) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// A DNS-1123 label: 1-63 of `[a-z0-9-]`, starting and ending alphanumeric. With wildcards,
/// the other characters must still be label characters.
pub(super) fn check_namespace(namespace: &str) -> Result<(), PolicyError> {
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
pub(super) fn check_service_account(name: &str) -> Result<(), PolicyError> {
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

pub(super) fn check_audience(audience: &str) -> Result<(), PolicyError> {
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

pub(super) fn check_account(account: &str) -> Result<(), PolicyError> {
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

pub(super) fn check_bucket(bucket: &str) -> Result<(), PolicyError> {
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
pub(super) fn check_provider_arn(arn: &str, host_path: &str) -> Result<(), PolicyError> {
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
pub(super) fn check_arn_of_provider(arn: &str, partition: &str) -> Result<(), PolicyError> {
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

    use crate::model::policy::partition;

    const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c1";

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
}
