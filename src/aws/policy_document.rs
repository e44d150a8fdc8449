//! IAM answers policy documents (GetRole, GetRolePolicy) URL-encoded: decoded here, once, for
//! `bootstrap::aws` and doctor.

/// IAM answers policy documents (GetRole, GetRolePolicy) URL-encoded (RFC 3986); decode them
/// once. Text that already parses as JSON, or would not decode to UTF-8, is returned as it is.
pub fn decode_policy_document(text: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(text).is_ok() {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_or_else(|_| text.to_owned(), |decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_documents_are_url_decoded_unless_already_json() {
        let json = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(decode_policy_document(json), json);
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(decode_policy_document(encoded), json);
        // A stray '%' is kept as it is.
        assert_eq!(decode_policy_document("100%"), "100%");
    }

    #[test]
    fn policy_documents_are_url_decoded_once() {
        assert_eq!(decode_policy_document("{\"a\":1}"), "{\"a\":1}");
        assert_eq!(
            decode_policy_document("%7B%22Version%22%3A%222012-10-17%22%7D"),
            "{\"Version\":\"2012-10-17\"}"
        );
        assert_eq!(decode_policy_document("100%"), "100%");
        assert_eq!(decode_policy_document("%7"), "%7");
    }
}
