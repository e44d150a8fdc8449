//! Access to the recorded kube-apiserver fixtures in `tests/fixtures/kube-apiserver/` (copied
//! byte for byte from a real API server; see the README there). Helpers panic with the path
//! when a file is missing, so a typo fails the test loudly.

use std::path::{Path, PathBuf};

/// The issuer every recorded discovery document names.
pub const ISSUER: &str = "https://oidc.example.test/cluster-a";

/// `tests/fixtures/kube-apiserver` inside this repository.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kube-apiserver")
}

/// Absolute path of one fixture file, e.g. `fixture_path("key-rsa-old.pub.pem")`.
pub fn fixture_path(name: &str) -> PathBuf {
    let path = fixtures_dir().join(name);
    assert!(path.is_file(), "fixture {} does not exist", path.display());
    path
}

/// The exact bytes of one fixture file.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// One fixture file as UTF-8 text.
pub fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap_or_else(|e| panic!("fixture {name} is not UTF-8: {e}"))
}

/// The JWKS a cluster serves after rotation once only the new key is trusted: the
/// `ck0v...` key cut out of `jwks-rotation-two-keys.json`, members in the recorded order,
/// compact, without a trailing newline.
pub fn jwks_only_new_key() -> Vec<u8> {
    let two = fixture_str("jwks-rotation-two-keys.json");
    let start = two
        .find(r#"{"use":"sig","kty":"RSA","kid":"ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc""#)
        .expect("new key in jwks-rotation-two-keys.json");
    let end = two.rfind("]}").expect("end of keys array");
    let out = format!(r#"{{"keys":[{}]}}"#, &two[start..end]);
    let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(parsed["keys"].as_array().map(Vec::len), Some(1));
    out.into_bytes()
}
