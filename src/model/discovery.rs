//! The OIDC discovery document, rendered exactly as kube-apiserver renders it
//! (`pkg/serviceaccount/openidmetadata.go`): the same five fields in the same order, compact, no
//! trailing newline. It is always rendered from the public issuer, never copied from the API
//! server, whose `jwks_uri` may point at its own address (PROTOCOL.md §1).

use serde::Serialize;

use super::{Issuer, KeySet};

/// The discovery document for an issuer and the keys it publishes.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Discovery<'a> {
    pub issuer: &'a str,
    pub jwks_uri: String,
    pub response_types_supported: [&'static str; 1],
    pub subject_types_supported: [&'static str; 1],
    pub id_token_signing_alg_values_supported: Vec<&'a str>,
}

impl<'a> Discovery<'a> {
    pub fn new(issuer: &'a Issuer, keys: &'a KeySet) -> Discovery<'a> {
        Discovery {
            issuer: issuer.as_str(),
            jwks_uri: issuer.jwks_uri(),
            response_types_supported: ["id_token"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: keys.algorithms(),
        }
    }

    pub fn render(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a discovery document always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::jwk::parse_jwks;

    fn render(jwks: &[u8]) -> Vec<u8> {
        let issuer = Issuer::parse("https://oidc.example.test/cluster-a").unwrap();
        let keys = KeySet::new(parse_jwks(jwks).unwrap().keys).unwrap();
        Discovery::new(&issuer, &keys).render()
    }

    #[test]
    fn byte_identical_to_kube_apiserver_for_every_recorded_key_type() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/kube-apiserver/"
        );
        for (jwks, discovery) in [
            ("jwks-rsa.json", "openid-configuration.json"),
            ("jwks-rotation-two-keys.json", "openid-configuration.json"),
            ("jwks-ec.json", "openid-configuration-ec.json"),
            ("jwks-ec384.json", "openid-configuration-ec384.json"),
            (
                "jwks-mixed-rsa-ec.json",
                "openid-configuration-mixed-rsa-ec.json",
            ),
        ] {
            let jwks = std::fs::read(format!("{dir}{jwks}")).unwrap();
            let expected = std::fs::read(format!("{dir}{discovery}")).unwrap();
            assert_eq!(
                String::from_utf8(render(&jwks)).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{discovery}"
            );
        }
    }
}
