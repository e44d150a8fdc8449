//! A service-account token taken apart and verified the way STS does: its `kid` looked up in
//! the **public** JWKS, the signature checked with that key (josekit, OpenSSL underneath),
//! `iss` compared byte for byte, `exp` with 5 minutes of skew. Pure: the caller passes `now`.
//! The token's text is never copied into a message.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::model::Jwk;

/// How far past `exp` STS still accepts a token (PROTOCOL.md §5).
pub const SKEW_SECONDS: i64 = 300;

/// A JWT's header and claims, decoded but not yet trusted.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: serde_json::Map<String, Value>,
    /// `header.payload`, what the signature covers.
    signing_input: String,
    signature: Vec<u8>,
}

impl Decoded {
    pub fn iss(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    pub fn sub(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    /// `aud` as a list (a single string is a list of one).
    pub fn aud(&self) -> Vec<String> {
        super::trust::strings(self.claims.get("aud"))
    }

    pub fn exp(&self) -> Option<i64> {
        self.claims.get("exp").and_then(Value::as_i64)
    }

    pub fn nbf(&self) -> Option<i64> {
        self.claims.get("nbf").and_then(Value::as_i64)
    }
}

/// Why a string is not a JWT doctor can read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("it is not a JWT (three base64url parts separated by dots); pass the token file exactly as the pod sees it (/var/run/secrets/eks.amazonaws.com/serviceaccount/token, or `kubectl create token`)")]
    Shape,
    #[error("its {0} is not base64url-encoded JSON")]
    Part(&'static str),
    #[error("its header has no \"alg\"")]
    NoAlg,
}

/// Splits and decodes a compact JWS (`header.payload.signature`).
pub fn decode(jwt: &str) -> Result<Decoded, DecodeError> {
    let jwt = jwt.trim();
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(DecodeError::Shape);
    };
    let json = |part: &str, what: &'static str| -> Result<serde_json::Map<String, Value>, _> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| DecodeError::Part(what))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(DecodeError::Part(what)),
        }
    };
    let header_map = json(header, "header")?;
    let claims = json(payload, "payload")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| DecodeError::Part("signature"))?;
    let alg = header_map
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(DecodeError::NoAlg)?
        .to_owned();
    Ok(Decoded {
        alg,
        kid: header_map
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        claims,
        signing_input: format!("{header}.{payload}"),
        signature,
    })
}

/// Checks the token's signature with `key` (the key whose `kid` the token names).
pub fn verify(token: &Decoded, key: &Jwk) -> Result<(), String> {
    if token.alg != key.alg {
        return Err(format!(
            "the token is signed with {} but the published key {:?} is for {}",
            token.alg, key.kid, key.alg
        ));
    }
    let json = serde_json::to_vec(key).map_err(|e| e.to_string())?;
    let jwk = josekit::jwk::Jwk::from_bytes(json).map_err(|e| format!("{e:#}"))?;
    use josekit::jws::alg::{ecdsa::EcdsaJwsAlgorithm, rsassa::RsassaJwsAlgorithm};
    use josekit::jws::{JwsVerifier, ES256, ES384, ES512, RS256, RS384, RS512};
    use josekit::JoseError;
    let rsa = |alg: RsassaJwsAlgorithm| -> Result<Box<dyn JwsVerifier>, JoseError> {
        Ok(Box::new(alg.verifier_from_jwk(&jwk)?))
    };
    let ec = |alg: EcdsaJwsAlgorithm| -> Result<Box<dyn JwsVerifier>, JoseError> {
        Ok(Box::new(alg.verifier_from_jwk(&jwk)?))
    };
    let verifier = match key.alg.as_str() {
        "RS256" => rsa(RS256),
        "RS384" => rsa(RS384),
        "RS512" => rsa(RS512),
        "ES256" => ec(ES256),
        "ES384" => ec(ES384),
        "ES512" => ec(ES512),
        other => return Err(format!("algorithm {other} is not one STS verifies")),
    }
    .map_err(|e| format!("{e:#}"))?;
    verifier
        .verify(token.signing_input.as_bytes(), &token.signature)
        .map_err(|_| {
            format!(
                "the signature does not verify with the published key {:?}: the token was signed by another key that claims the same kid",
                key.kid
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::jwk::parse_jwks;

    const TOKEN_RSA: &str = include_str!("../../tests/fixtures/kube-apiserver/token-rsa.jwt");
    const TOKEN_ROTATED: &str =
        include_str!("../../tests/fixtures/kube-apiserver/token-rsa-rotated.jwt");
    const TOKEN_EC: &str = include_str!("../../tests/fixtures/kube-apiserver/token-ec.jwt");
    const JWKS_RSA: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
    const JWKS_ROTATION: &[u8] =
        include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
    const JWKS_EC: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-ec.json");

    fn key(jwks: &[u8], kid: &str) -> Jwk {
        parse_jwks(jwks)
            .unwrap()
            .keys
            .into_iter()
            .find(|k| k.kid == kid)
            .unwrap()
    }

    #[test]
    fn recorded_tokens_decode_with_the_claims_kube_apiserver_sets() {
        let t = decode(TOKEN_RSA).unwrap();
        assert_eq!(t.alg, "RS256");
        assert_eq!(
            t.kid.as_deref(),
            Some("biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM")
        );
        assert_eq!(t.iss(), Some("https://oidc.example.test/cluster-a"));
        assert_eq!(
            t.sub(),
            Some("system:serviceaccount:oidc-test:publisher-sa")
        );
        assert_eq!(t.aud(), ["sts.amazonaws.com"]);
        assert_eq!(t.exp(), Some(1795328798));
    }

    #[test]
    fn recorded_tokens_verify_with_their_key_and_fail_with_any_other() {
        let old = key(JWKS_RSA, "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM");
        let new = key(JWKS_ROTATION, "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc");
        let ec = key(JWKS_EC, "7Dr4HLddxeDMYkcnLmRqj6wd6qegXy4bssk7m1-o-Lg");
        verify(&decode(TOKEN_RSA).unwrap(), &old).unwrap();
        verify(&decode(TOKEN_ROTATED).unwrap(), &new).unwrap();
        verify(&decode(TOKEN_EC).unwrap(), &ec).unwrap();
        let err = verify(&decode(TOKEN_ROTATED).unwrap(), &old).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        let err = verify(&decode(TOKEN_EC).unwrap(), &old).unwrap_err();
        assert!(err.contains("signed with ES256"), "{err}");
    }

    #[test]
    fn a_tampered_payload_does_not_verify() {
        let parts: Vec<&str> = TOKEN_RSA.trim().split('.').collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = "system:serviceaccount:kube-system:admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        let old = key(JWKS_RSA, "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM");
        assert!(verify(&decode(&forged).unwrap(), &old).is_err());
    }

    #[test]
    fn non_tokens_are_refused_with_a_reason() {
        assert_eq!(decode("abc").unwrap_err(), DecodeError::Shape);
        assert_eq!(decode("a.b.c").unwrap_err(), DecodeError::Part("header"));
        let header = URL_SAFE_NO_PAD.encode(br#"{"kid":"x"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{}"#);
        assert_eq!(
            decode(&format!("{header}.{payload}.")).unwrap_err(),
            DecodeError::NoAlg
        );
    }
}
