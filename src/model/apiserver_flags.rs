//! The kube-apiserver flags that serve an issuer: what `bootstrap` prints and what `sync`'s
//! issuer-mismatch message names. Pure: strings in, flags out.

/// The kube-apiserver flags that make tokens verifiable by STS, in order.
///
/// The new issuer comes first (the API server signs with the first) and the current one, when
/// known and different, second (tokens already issued keep being accepted, PROTOCOL.md §1).
/// `--api-audiences` gets the configured audiences, after the current issuer: without the
/// flag the API server's audience defaults to its first issuer, so changing the first issuer
/// would otherwise stop it from accepting the in-cluster tokens already issued.
pub fn api_server_flags(issuer: &str, current: Option<&str>, audiences: &[String]) -> Vec<String> {
    let current = current.filter(|c| *c != issuer);
    let mut flags = vec![format!("--service-account-issuer={issuer}")];
    if let Some(current) = current {
        flags.push(format!("--service-account-issuer={current}"));
    }
    flags.push(format!(
        "--service-account-jwks-uri={issuer}/openid/v1/jwks"
    ));
    let mut api_audiences: Vec<&str> = Vec::new();
    for audience in current
        .into_iter()
        .chain(audiences.iter().map(String::as_str))
    {
        if !api_audiences.contains(&audience) {
            api_audiences.push(audience);
        }
    }
    if !api_audiences.is_empty() {
        flags.push(format!("--api-audiences={}", api_audiences.join(",")));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_server_flags_put_the_new_issuer_first_and_keep_the_current_one() {
        let audiences = vec!["sts.amazonaws.com".to_owned()];
        let new = "https://acme-oidc.s3.eu-west-1.amazonaws.com/prod-1";
        let current = "https://kubernetes.default.svc.cluster.local";
        assert_eq!(
            api_server_flags(new, Some(current), &audiences),
            [
                format!("--service-account-issuer={new}"),
                format!("--service-account-issuer={current}"),
                format!("--service-account-jwks-uri={new}/openid/v1/jwks"),
                format!("--api-audiences={current},sts.amazonaws.com"),
            ]
        );
        // Already migrated, or unknown: one issuer.
        for current in [Some(new), None] {
            assert_eq!(
                api_server_flags(new, current, &audiences),
                [
                    format!("--service-account-issuer={new}"),
                    format!("--service-account-jwks-uri={new}/openid/v1/jwks"),
                    "--api-audiences=sts.amazonaws.com".to_owned(),
                ]
            );
        }
    }
}
