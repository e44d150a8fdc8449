//! JSON Web Keys as STS consumes them: validation of keys from any source, the kube-apiserver
//! key id, and the canonical JWKS rendering.
//!
//! Canonical means: the same keys give the same bytes whatever order they arrive in (sorted by
//! `kid`), compact JSON without a trailing newline, and members in kube-apiserver's order
//! (`use, kty, kid, alg, n, e` for RSA, `use, kty, kid, crv, alg, x, y` for EC), so a key set
//! whose keys are already in `kid` order renders byte-identical to the API server's.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The algorithms STS verifies (AssumeRoleWithWebIdentity reference). Keys with any other
/// algorithm are dropped with a warning: STS could not use them anyway.
pub const STS_ALGORITHMS: [&str; 6] = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"];

/// Members that only private keys carry. A key holding any of them is never published.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Reported STS limit per key type (spiffe/spire#4699).
pub const MAX_KEYS_PER_TYPE: usize = 100;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// One public signing key, holding only the members STS needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    #[serde(rename = "use")]
    pub use_: String,
    pub kty: String,
    pub kid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    pub alg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// What checking one key found: a key to publish, or one STS cannot use (dropped, with why).
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    Usable(Jwk),
    Unsupported { kid: String, reason: String },
}

/// A key that must not be published. Publishing stops: silently dropping a key that tokens
/// may carry would break pods, and the fix belongs at the source.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwkError {
    #[error("key #{index} is not a JSON object")]
    NotAnObject { index: usize },
    #[error(
        "key #{index} has no \"kid\"; STS finds a token's key by its kid, so every key needs one"
    )]
    MissingKid { index: usize },
    #[error("key {kid:?} carries the private member {member:?}; private key material is never published: give the tool public keys (or let it derive them) and check where this key set came from")]
    PrivateMember { kid: String, member: String },
    #[error("key {kid:?} has no \"alg\"; kube-apiserver always sets one, so this key set did not come from it as expected")]
    MissingAlg { kid: String },
    #[error("key {kid:?} is an RSA key of {bits} bits; STS needs at least {MIN_RSA_BITS}: generate a new key with `openssl genrsa 2048` (or larger) and rotate to it")]
    RsaTooSmall { kid: String, bits: usize },
    #[error("key {kid:?} is not a valid {what}: {detail}")]
    Invalid {
        kid: String,
        what: String,
        detail: String,
    },
}

/// Why a set of valid keys cannot be published as a whole.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeySetError {
    #[error("the key set is empty; publishing it would make STS reject every token. Check that the API server has --service-account-key-file set, or pass --key-file")]
    Empty,
    #[error("two different keys share the kid {0:?}; STS could verify tokens against the wrong one: remove one of them")]
    ConflictingKid(String),
    #[error("{count} {kty} keys exceed the limit of {MAX_KEYS_PER_TYPE} per key type that STS accepts; remove keys no token carries any more")]
    TooMany { kty: String, count: usize },
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key id kube-apiserver gives a public key: base64url without padding of SHA-256 over
/// the DER SubjectPublicKeyInfo (`pkg/serviceaccount/jwt.go`, kubernetes/kubernetes#78502).
pub fn kid_from_spki_der(spki_der: &[u8]) -> String {
    b64(&Sha256::digest(spki_der))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The `alg` kube-apiserver assigns to an EC curve, and the coordinate length in bytes.
pub fn ec_curve_params(crv: &str) -> Option<(&'static str, usize)> {
    match crv {
        "P-256" => Some(("ES256", 32)),
        "P-384" => Some(("ES384", 48)),
        "P-521" => Some(("ES512", 66)),
        _ => None,
    }
}

impl Jwk {
    /// An RSA key from its big-endian modulus and exponent (leading zeros allowed).
    pub fn rsa(kid: String, modulus: &[u8], exponent: &[u8]) -> Jwk {
        Jwk {
            use_: "sig".into(),
            kty: "RSA".into(),
            kid,
            crv: None,
            alg: "RS256".into(),
            n: Some(b64(strip_leading_zeros(modulus))),
            e: Some(b64(strip_leading_zeros(exponent))),
            x: None,
            y: None,
        }
    }

    /// An EC key from its curve name and fixed-length coordinates.
    pub fn ec(kid: String, crv: &str, alg: &str, x: &[u8], y: &[u8]) -> Jwk {
        Jwk {
            use_: "sig".into(),
            kty: "EC".into(),
            kid,
            crv: Some(crv.into()),
            alg: alg.into(),
            n: None,
            e: None,
            x: Some(b64(x)),
            y: Some(b64(y)),
        }
    }

    /// Checks a key from any source (`index` is its position, for messages). Keys that STS
    /// cannot use are reported as [`Checked::Unsupported`]; keys that are broken or unsafe to
    /// publish are errors.
    pub fn check(value: &Value, index: usize) -> Result<Checked, JwkError> {
        let obj = value.as_object().ok_or(JwkError::NotAnObject { index })?;
        let text = |name: &str| obj.get(name).and_then(Value::as_str);
        let kid = match text("kid") {
            Some(k) if !k.is_empty() => k.to_owned(),
            _ => return Err(JwkError::MissingKid { index }),
        };
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(JwkError::PrivateMember {
                kid,
                member: (*member).into(),
            });
        }
        let unsupported = |reason: String| {
            Ok(Checked::Unsupported {
                kid: kid.clone(),
                reason,
            })
        };
        if let Some(use_) = text("use") {
            if use_ != "sig" {
                return unsupported(format!("\"use\" is {use_:?}, not \"sig\""));
            }
        }
        let kty = text("kty").unwrap_or_default();
        let Some(alg) = text("alg") else {
            if kty != "RSA" && kty != "EC" {
                return unsupported(format!(
                    "key type {kty:?} is not one STS verifies (RSA, EC)"
                ));
            }
            return Err(JwkError::MissingAlg { kid });
        };
        if !STS_ALGORITHMS.contains(&alg) {
            return unsupported(format!(
                "algorithm {alg:?} is not one STS verifies ({})",
                STS_ALGORITHMS.join(", ")
            ));
        }
        let invalid = |what: &str, detail: String| JwkError::Invalid {
            kid: kid.clone(),
            what: what.into(),
            detail,
        };
        let field = |name: &str, what: &str| -> Result<Vec<u8>, JwkError> {
            let s =
                text(name).ok_or_else(|| invalid(what, format!("member {name:?} is missing")))?;
            URL_SAFE_NO_PAD.decode(s).map_err(|e| {
                invalid(
                    what,
                    format!("member {name:?} is not unpadded base64url: {e}"),
                )
            })
        };
        let jwk = match (kty, &alg[..2]) {
            ("RSA", "RS") => {
                let n = field("n", "RSA key")?;
                let e = field("e", "RSA key")?;
                let bits = strip_leading_zeros(&n).len() * 8;
                if bits < MIN_RSA_BITS {
                    return Err(JwkError::RsaTooSmall { kid, bits });
                }
                let mut jwk = Jwk::rsa(kid.clone(), &n, &e);
                jwk.alg = alg.into();
                jwk
            }
            ("EC", "ES") => {
                let crv = text("crv").unwrap_or_default();
                let (curve_alg, len) = ec_curve_params(crv).ok_or_else(|| {
                    invalid(
                        "EC key",
                        format!("curve {crv:?} is not P-256, P-384 or P-521"),
                    )
                })?;
                if curve_alg != alg {
                    return Err(invalid(
                        "EC key",
                        format!("curve {crv} goes with {curve_alg}, not {alg}"),
                    ));
                }
                let x = field("x", "EC key")?;
                let y = field("y", "EC key")?;
                if x.len() != len || y.len() != len {
                    return Err(invalid(
                        "EC key",
                        format!("{crv} coordinates must be {len} bytes each"),
                    ));
                }
                Jwk::ec(kid.clone(), crv, alg, &x, &y)
            }
            _ => {
                return Err(invalid(
                    "JWK",
                    format!("key type {kty:?} does not go with algorithm {alg}"),
                ));
            }
        };
        jwk.verify_with_jose()
            .map_err(|detail| invalid(&format!("{kty} key for {alg}"), detail))?;
        Ok(Checked::Usable(jwk))
    }

    /// Builds a verifier from the key with josekit, which rejects what OpenSSL rejects: an EC
    /// point that is not on its curve, an RSA key it cannot load.
    fn verify_with_jose(&self) -> Result<(), String> {
        let json = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        let jwk = josekit::jwk::Jwk::from_bytes(json).map_err(|e| e.to_string())?;
        use josekit::jws::{ES256, ES384, ES512, RS256, RS384, RS512};
        let result = match self.alg.as_str() {
            "RS256" => RS256.verifier_from_jwk(&jwk).map(drop),
            "RS384" => RS384.verifier_from_jwk(&jwk).map(drop),
            "RS512" => RS512.verifier_from_jwk(&jwk).map(drop),
            "ES256" => ES256.verifier_from_jwk(&jwk).map(drop),
            "ES384" => ES384.verifier_from_jwk(&jwk).map(drop),
            "ES512" => ES512.verifier_from_jwk(&jwk).map(drop),
            other => return Err(format!("unsupported algorithm {other}")),
        };
        result.map_err(|e| format!("{e:#}"))
    }
}

/// A non-empty set of valid keys, unique by `kid`, in canonical order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    /// Sorts by `kid`, merges identical duplicates (the same key from two sources), and
    /// refuses conflicting kids, an empty set and sets over STS's limits.
    pub fn new(keys: impl IntoIterator<Item = Jwk>) -> Result<KeySet, KeySetError> {
        let mut by_kid: BTreeMap<String, Jwk> = BTreeMap::new();
        for key in keys {
            match by_kid.get(&key.kid) {
                Some(existing) if *existing != key => {
                    return Err(KeySetError::ConflictingKid(key.kid))
                }
                Some(_) => {}
                None => {
                    by_kid.insert(key.kid.clone(), key);
                }
            }
        }
        if by_kid.is_empty() {
            return Err(KeySetError::Empty);
        }
        for kty in ["RSA", "EC"] {
            let count = by_kid.values().filter(|k| k.kty == kty).count();
            if count > MAX_KEYS_PER_TYPE {
                return Err(KeySetError::TooMany {
                    kty: kty.into(),
                    count,
                });
            }
        }
        Ok(KeySet {
            keys: by_kid.into_values().collect(),
        })
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The sorted, de-duplicated algorithms, as `id_token_signing_alg_values_supported`.
    pub fn algorithms(&self) -> Vec<&str> {
        let mut algs: Vec<&str> = self.keys.iter().map(|k| k.alg.as_str()).collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }

    /// The JWKS document: `{"keys":[...]}`, compact, no trailing newline.
    pub fn render(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Doc<'a> {
            keys: &'a [Jwk],
        }
        serde_json::to_vec(&Doc { keys: &self.keys }).expect("a key set always serialises")
    }
}

/// What a JWKS document parsed into: the usable keys and the keys dropped with their reason.
#[derive(Debug, Default)]
pub struct ParsedJwks {
    pub keys: Vec<Jwk>,
    pub dropped: Vec<(String, String)>,
}

/// Why a JWKS document could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("not a valid JWKS: {0}")]
    Json(String),
    #[error(transparent)]
    Key(#[from] JwkError),
}

/// Parses a JWKS document (as served by kube-apiserver) and checks every key.
pub fn parse_jwks(bytes: &[u8]) -> Result<ParsedJwks, JwksError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| JwksError::Json(e.to_string()))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| JwksError::Json("expected an object with a \"keys\" array".into()))?;
    let mut parsed = ParsedJwks::default();
    for (index, key) in keys.iter().enumerate() {
        match Jwk::check(key, index)? {
            Checked::Usable(jwk) => parsed.keys.push(jwk),
            Checked::Unsupported { kid, reason } => parsed.dropped.push((kid, reason)),
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JWKS_RSA: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
    const JWKS_EC: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-ec.json");
    const JWKS_EC384: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-ec384.json");
    const JWKS_ROTATION: &[u8] =
        include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
    const JWKS_MIXED: &[u8] =
        include_bytes!("../../tests/fixtures/kube-apiserver/jwks-mixed-rsa-ec.json");

    fn set(bytes: &[u8]) -> KeySet {
        let parsed = parse_jwks(bytes).unwrap();
        assert!(parsed.dropped.is_empty());
        KeySet::new(parsed.keys).unwrap()
    }

    fn first_key(bytes: &[u8]) -> Value {
        serde_json::from_slice::<Value>(bytes).unwrap()["keys"][0].clone()
    }

    #[test]
    fn renders_single_key_sets_byte_identical_to_kube_apiserver() {
        for fixture in [JWKS_RSA, JWKS_EC, JWKS_EC384] {
            assert_eq!(set(fixture).render(), fixture);
        }
    }

    #[test]
    fn rendering_is_canonical_whatever_the_input_order() {
        // The rotation fixture lists new before old: the same keys in kid order.
        let rotation = set(JWKS_ROTATION);
        let mut reversed: Value = serde_json::from_slice(JWKS_ROTATION).unwrap();
        reversed["keys"].as_array_mut().unwrap().reverse();
        let reversed = set(&serde_json::to_vec(&reversed).unwrap());
        assert_eq!(rotation.render(), reversed.render());
        let kids: Vec<&str> = rotation.kids().collect();
        assert_eq!(
            kids,
            [
                "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM",
                "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc"
            ]
        );
        assert!(!rotation.render().ends_with(b"\n"));
    }

    #[test]
    fn algorithms_are_sorted_and_unique() {
        assert_eq!(set(JWKS_MIXED).algorithms(), ["ES256", "RS256"]);
        assert_eq!(set(JWKS_ROTATION).algorithms(), ["RS256"]);
    }

    #[test]
    fn identical_duplicates_merge_and_conflicting_kids_are_refused() {
        let keys = set(JWKS_ROTATION).keys().to_vec();
        let merged = KeySet::new(keys.iter().cloned().chain(keys.iter().cloned())).unwrap();
        assert_eq!(merged.keys().len(), 2);
        let mut conflicting = keys[1].clone();
        conflicting.kid = keys[0].kid.clone();
        assert_eq!(
            KeySet::new([keys[0].clone(), conflicting]),
            Err(KeySetError::ConflictingKid(keys[0].kid.clone()))
        );
    }

    #[test]
    fn empty_and_oversized_sets_are_refused() {
        assert_eq!(KeySet::new([]), Err(KeySetError::Empty));
        let key = set(JWKS_RSA).keys()[0].clone();
        let many = (0..=MAX_KEYS_PER_TYPE).map(|i| Jwk {
            kid: format!("k{i}"),
            ..key.clone()
        });
        assert!(matches!(
            KeySet::new(many),
            Err(KeySetError::TooMany { count: 101, .. })
        ));
    }

    #[test]
    fn private_members_are_never_accepted() {
        for member in PRIVATE_MEMBERS {
            let mut key = first_key(JWKS_RSA);
            key[member] = json!("AQAB");
            assert!(
                matches!(Jwk::check(&key, 0), Err(JwkError::PrivateMember { .. })),
                "{member}"
            );
        }
    }

    #[test]
    fn unsupported_algorithms_and_types_are_dropped_with_a_reason() {
        let mldsa = json!({"use":"sig","kty":"AKP","kid":"pq","alg":"ML-DSA-65","pub":"AAAA"});
        let hs = json!({"kty":"oct","kid":"h","alg":"HS256"});
        let enc = json!({"use":"enc","kty":"RSA","kid":"e","alg":"RSA-OAEP"});
        for key in [mldsa, hs, enc] {
            match Jwk::check(&key, 0).unwrap() {
                Checked::Unsupported { kid, reason } => {
                    assert_eq!(kid, key["kid"]);
                    assert!(!reason.is_empty());
                }
                other => panic!("{other:?}"),
            }
        }
        let doc = json!({"keys":[first_key(JWKS_RSA), {"kty":"AKP","kid":"pq","alg":"ML-DSA-44"}]});
        let parsed = parse_jwks(&serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(parsed.keys.len(), 1);
        assert_eq!(parsed.dropped[0].0, "pq");
        assert!(parsed.dropped[0].1.contains("ML-DSA-44"));
    }

    #[test]
    fn broken_keys_are_errors() {
        let rsa = first_key(JWKS_RSA);
        let ec = first_key(JWKS_EC);
        let mut no_kid = rsa.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        assert_eq!(
            Jwk::check(&no_kid, 3),
            Err(JwkError::MissingKid { index: 3 })
        );

        let mut small = rsa.clone();
        small["n"] = json!(b64(&[0xc5; 128]));
        assert!(matches!(
            Jwk::check(&small, 0),
            Err(JwkError::RsaTooSmall { bits: 1024, .. })
        ));

        let mut off_curve = ec.clone();
        off_curve["y"] = json!(b64(&[7; 32]));
        let err = Jwk::check(&off_curve, 0).unwrap_err();
        assert!(matches!(err, JwkError::Invalid { .. }), "{err}");

        let mut short = ec.clone();
        short["x"] = json!(b64(&[7; 31]));
        assert!(matches!(
            Jwk::check(&short, 0),
            Err(JwkError::Invalid { .. })
        ));

        let mut mismatched = ec.clone();
        mismatched["alg"] = json!("ES384");
        assert!(matches!(
            Jwk::check(&mismatched, 0),
            Err(JwkError::Invalid { .. })
        ));

        let mut no_alg = rsa.clone();
        no_alg.as_object_mut().unwrap().remove("alg");
        assert!(matches!(
            Jwk::check(&no_alg, 0),
            Err(JwkError::MissingAlg { .. })
        ));

        assert!(matches!(
            parse_jwks(b"{\"keys\":[{\"kty\":"),
            Err(JwksError::Json(_))
        ));
        assert!(matches!(parse_jwks(b"[]"), Err(JwksError::Json(_))));
        assert!(matches!(
            parse_jwks(b"{\"keys\":[1]}"),
            Err(JwksError::Key(JwkError::NotAnObject { index: 0 }))
        ));
    }

    #[test]
    fn extra_members_are_not_republished() {
        let mut key = first_key(JWKS_RSA);
        key["x5c"] = json!(["MIIB"]);
        let Checked::Usable(jwk) = Jwk::check(&key, 0).unwrap() else {
            panic!()
        };
        let rendered = serde_json::to_string(&jwk).unwrap();
        assert!(!rendered.contains("x5c"));
    }
}
