//! The publisher's own lock-out, explained. In the cluster the publisher gets AWS credentials by
//! exchanging its ServiceAccount token with STS (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE). If
//! the API server signs that token with a key the public JWKS does not list yet, STS refuses it
//! (`InvalidIdentityToken`) and the publisher can never publish the key that would fix it.
//!
//! When a run failed because STS refused the web identity token ([`aws::WEB_IDENTITY_REFUSED`]),
//! this reads the token's `kid` (the header only, with josekit; the token itself is never
//! printed) and GETs the published JWKS anonymously over verified TLS, as STS does (doctor's
//! client). A `kid` missing from it is a lock-out: the error is replaced by one that names the
//! key and the command to run from a workstation. Otherwise the original error is kept, with a
//! note saying what was found. This only reads; it never retries the publish.

use std::path::Path;
use std::time::Duration;

use crate::aws;
use crate::config::SyncConfig;
use crate::doctor::checks::STS_BUDGET_MS;
use crate::doctor::facts::fetch_problem;
use crate::doctor::http::PublicClient;
use crate::model::jwk::parse_jwks;
use crate::model::Issuer;

/// The variable the AWS SDK reads the web identity token file from (deploy/ sets it).
const TOKEN_FILE_VAR: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";

/// What the check found, for [`message`]. Pure data, so the wording is unit-tested.
#[derive(Debug, PartialEq, Eq)]
pub enum Finding {
    /// The token's key is not in the published JWKS: the lock-out.
    Missing { kid: String, published: Vec<String> },
    /// The token's key is published: STS refused the token for another reason.
    Published { kid: String },
    /// The check could not be made (no token file, no `kid`, JWKS unreachable).
    Unknown { why: String },
}

/// `error` unchanged unless STS refused the web identity token; then checked for a lock-out.
/// `store` is the `--store` value (`s3://bucket/prefix`), for the command printed.
pub async fn explain(
    error: anyhow::Error,
    config: &SyncConfig,
    issuer: &Issuer,
    store: &str,
) -> anyhow::Error {
    if !format!("{error:#}").contains(aws::WEB_IDENTITY_REFUSED) {
        return error;
    }
    let jwks_uri = issuer.jwks_uri();
    let finding = check(config, &jwks_uri).await;
    match message(&finding, issuer, &jwks_uri, store) {
        Replace(text) => anyhow::anyhow!(text),
        Note(text) => anyhow::anyhow!("{error:#}; {text}"),
    }
}

async fn check(config: &SyncConfig, jwks_uri: &str) -> Finding {
    let Some(path) = std::env::var_os(TOKEN_FILE_VAR) else {
        return Finding::Unknown {
            why: format!("{TOKEN_FILE_VAR} is not set"),
        };
    };
    let kid = match token_kid(Path::new(&path)).await {
        Ok(kid) => kid,
        Err(why) => return Finding::Unknown { why },
    };
    let client = match PublicClient::new(
        &config.ca_files,
        &config.connect_to,
        Duration::from_millis(STS_BUDGET_MS),
    )
    .await
    {
        Ok(client) => client,
        Err(e) => return Finding::Unknown { why: e.to_string() },
    };
    let fetched = client.get(jwks_uri).await;
    let published = match fetched.result {
        Ok(answer) if answer.status == 200 => match parse_jwks(&answer.body) {
            Ok(parsed) => parsed.keys.into_iter().map(|k| k.kid).collect::<Vec<_>>(),
            Err(e) => {
                return Finding::Unknown {
                    why: format!("the published JWKS is not valid: {e}"),
                }
            }
        },
        Ok(answer) => {
            return Finding::Unknown {
                why: format!("GET {jwks_uri} answered HTTP {}", answer.status),
            }
        }
        Err(e) => {
            return Finding::Unknown {
                why: format!("GET {jwks_uri} failed: {}", fetch_problem(&e)),
            }
        }
    };
    if published.contains(&kid) {
        Finding::Published { kid }
    } else {
        Finding::Missing { kid, published }
    }
}

/// The `kid` in the header of the token in `path`. Errors never quote the token.
async fn token_kid(path: &Path) -> Result<String, String> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("cannot read {TOKEN_FILE_VAR} {}: {e}", path.display()))?;
    let header = josekit::jwt::decode_header(text.trim()).map_err(|_| {
        format!(
            "the token in {TOKEN_FILE_VAR} {} is not a JWT with a readable header",
            path.display()
        )
    })?;
    header
        .claim("kid")
        .and_then(|kid| kid.as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("the token in {} names no \"kid\"", path.display()))
}

/// Either a whole new message (the lock-out) or a note added after the original error.
#[derive(Debug, PartialEq, Eq)]
pub enum Explained {
    Replace(String),
    Note(String),
}
use Explained::{Note, Replace};

pub fn message(finding: &Finding, issuer: &Issuer, jwks_uri: &str, store: &str) -> Explained {
    match finding {
        Finding::Missing { kid, published } => Replace(format!(
            "locked out: STS refused this pod's ServiceAccount token (InvalidIdentityToken) because it is signed with key {kid}, which is not in the published JWKS ({jwks_uri} lists {}). \
             The API server signs with a key that was never published, so the publisher cannot get the AWS credentials it needs to publish that key, on this run or any later one. \
             From a workstation with AWS credentials allowed to write the store, publish the API server's public key: \
             `kube-oidc-publisher rotate stage --store {store} --issuer {issuer} --key-file <the API server's --service-account-key-file, e.g. /etc/kubernetes/pki/sa.pub>` \
             (or `kube-oidc-publisher sync --store {store} --issuer {issuer}` with a kubeconfig for the cluster); the next run here then succeeds. \
             Next time, publish a new key before the API server signs with it (docs/rotation.md)",
            if published.is_empty() {
                "no key".to_owned()
            } else {
                published.join(", ")
            }
        )),
        Finding::Published { kid } => Note(format!(
            "the token's signing key {kid} is in the published JWKS ({jwks_uri}), so this is not a lock-out by an unpublished key; \
             STS refused the token for another reason (IAM OIDC provider, thumbprint, audience, or the documents not reachable from AWS): \
             run `kube-oidc-publisher doctor --issuer {issuer}` to find which"
        )),
        Finding::Unknown { why } => Note(format!(
            "could not check whether the API server signs with a key that is not published ({why})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        Issuer::parse("https://oidc.example.test/c1").unwrap()
    }

    #[test]
    fn a_missing_kid_is_a_lockout_that_names_the_key_and_the_command() {
        let finding = Finding::Missing {
            kid: "new".into(),
            published: vec!["old".into()],
        };
        let Replace(text) = message(&finding, &issuer(), "https://x/jwks", "s3://b/c1") else {
            panic!("a lock-out replaces the message");
        };
        assert!(text.contains("signed with key new, which is not in the published JWKS"));
        assert!(text.contains("lists old"));
        assert!(text.contains(
            "rotate stage --store s3://b/c1 --issuer https://oidc.example.test/c1 --key-file"
        ));
    }

    #[test]
    fn a_published_kid_keeps_the_sts_message_with_a_note() {
        let finding = Finding::Published { kid: "old".into() };
        let Note(text) = message(&finding, &issuer(), "https://x/jwks", "s3://b/c1") else {
            panic!("not a lock-out");
        };
        assert!(text.contains("key old is in the published JWKS"));
        assert!(text.contains("doctor --issuer https://oidc.example.test/c1"));
    }
}
