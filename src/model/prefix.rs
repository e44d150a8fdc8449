//! The key prefix of an S3 store (`s3://BUCKET/PREFIX`): one validator for every command, so
//! that `sync`, `run`, `rotate` and `bootstrap` accept and refuse the same prefixes. Pure: the
//! store parser and bootstrap call it before any request.

use super::state::STATE_PATH;
use super::{DISCOVERY_PATH, JWKS_PATH};

/// S3's limit on an object key, in bytes (UTF-8).
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest key this tool writes under the prefix, so that every one fits.
const LONGEST_SUFFIX: usize = {
    let (a, b, c) = (DISCOVERY_PATH.len(), JWKS_PATH.len(), STATE_PATH.len());
    let ab = if a > b { a } else { b };
    if ab > c {
        ab
    } else {
        c
    }
};

/// The longest usable prefix: the longest key, its `/` and the prefix within 1024 bytes.
pub const MAX_PREFIX_BYTES: usize = MAX_KEY_BYTES - LONGEST_SUFFIX - 1;

/// Why a prefix cannot be used. Each message says what to use instead.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("prefix {prefix:?} is not usable: {reason}; use path segments of letters, digits and -_. such as prod-1 or clusters/prod-1")]
pub struct PrefixError {
    pub prefix: String,
    pub reason: String,
}

/// Checks a prefix given without its leading and trailing `/` (empty: the bucket's root).
///
/// - at most [`MAX_PREFIX_BYTES`]: S3 keys are at most 1024 bytes, and the longest document
///   key is added under it;
/// - no control characters (they would reach logs and URLs);
/// - no `*` or `?` (wildcards in policy resources), no `$` (an IAM policy variable starts with
///   `${`), no `#` (the issuer URL would end at a fragment; `?` would start a query);
/// - no empty, `.` or `..` segments (a URL normaliser would fold them into another path).
pub fn check(prefix: &str) -> Result<(), PrefixError> {
    let bad = |reason: String| {
        Err(PrefixError {
            prefix: prefix.to_owned(),
            reason,
        })
    };
    if prefix.is_empty() {
        return Ok(());
    }
    if prefix.len() > MAX_PREFIX_BYTES {
        return bad(format!(
            "it is {} bytes; S3 keys are at most {MAX_KEY_BYTES} bytes and the longest key written under it adds {}, so a prefix can be at most {MAX_PREFIX_BYTES} bytes",
            prefix.len(),
            LONGEST_SUFFIX + 1
        ));
    }
    if prefix.chars().any(char::is_control) {
        return bad("it contains control characters".into());
    }
    if prefix.contains(['*', '?', '$', '#']) {
        return bad("it contains '*', '?', '$' and '#', which widen a policy resource or cut the issuer URL short".into());
    }
    if prefix
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return bad("it has empty, '.' or '..' path segments".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_prefixes_pass() {
        for prefix in ["", "prod-1", "clusters/prod-1", "a.b/c_d", "ünïcode"] {
            assert_eq!(check(prefix), Ok(()), "{prefix:?}");
        }
        assert_eq!(
            MAX_PREFIX_BYTES,
            1024 - ".well-known/openid-configuration".len() - 1
        );
        assert_eq!(check(&"p".repeat(MAX_PREFIX_BYTES)), Ok(()));
    }

    #[test]
    fn prefixes_s3_or_a_policy_cannot_hold_are_refused() {
        for (prefix, words) in [
            ("x?y", "'*', '?', '$' and '#'"),
            ("x#y", "'*', '?', '$' and '#'"),
            ("c*", "'*', '?', '$' and '#'"),
            ("a/${aws:username}", "'*', '?', '$' and '#'"),
            ("a\tb", "control characters"),
            ("a\u{7f}b", "control characters"),
            ("a//b", "empty, '.' or '..'"),
            ("a/./b", "empty, '.' or '..'"),
            ("../b", "empty, '.' or '..'"),
        ] {
            let error = check(prefix).unwrap_err();
            assert!(error.to_string().contains(words), "{prefix:?}: {error}");
        }
        let long = "p".repeat(MAX_PREFIX_BYTES + 1);
        let error = check(&long).unwrap_err().to_string();
        assert!(error.contains("1024 bytes"), "{error}");
        // Bytes, not characters: S3 counts the UTF-8 encoding.
        assert!(check(&"é".repeat(MAX_PREFIX_BYTES / 2 + 1)).is_err());
    }
}
