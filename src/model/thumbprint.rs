//! The IAM OIDC provider thumbprint, as data: the SHA-1 of the DER of the **last** certificate
//! the `jwks_uri` host serves (what `openssl s_client -showcerts` shows last; IAM user guide
//! "Obtain the thumbprint"; see docs/thumbprint.md and PROTOCOL.md §4), summaries of the served
//! certificates, the `thumbprint` command's target and report, and validation of pinned
//! thumbprints. Pure: no network, no clock (callers pass `now`). Fetching and verifying the
//! chain is `tls`'s job; nothing here decides whether a chain is trusted.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;
use sha1::{Digest, Sha1};
use x509_parser::extensions::GeneralName;

/// IAM accepts at most five thumbprints per OIDC provider.
pub const MAX_PINNED: usize = 5;

/// Why a pinned thumbprint or a certificate cannot be used. Each message says what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThumbprintError {
    #[error("thumbprint {value:?} has colons; pass the 40 hex digits without them: {suggestion}")]
    Colons { value: String, suggestion: String },
    #[error("thumbprint {value:?} has {len} characters; a thumbprint is exactly 40 hex digits (the SHA-1 of a certificate; `kube-oidc-publisher thumbprint URL` prints it)")]
    Length { value: String, len: usize },
    #[error("thumbprint {value:?} is not hexadecimal; a thumbprint is 40 characters 0-9 and a-f (`kube-oidc-publisher thumbprint URL` prints it)")]
    NotHex { value: String },
    #[error("{count} distinct thumbprints given; IAM accepts at most 5 per OIDC provider: keep the ones of the certificates the jwks_uri host serves now and during the next rotation")]
    TooMany { count: usize },
    #[error("certificate {index} of the served chain is not a parsable X.509 certificate ({detail}); check what the server is configured to serve")]
    Certificate { index: usize, detail: String },
}

/// Why a `thumbprint` URL argument cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("{url:?} is not a URL ({detail}); pass the https:// URL of the JWKS host, for example https://{example}")]
    NotUrl {
        url: String,
        detail: String,
        example: String,
    },
    #[error("{url:?} must be an https:// URL (the thumbprint is of the certificate STS sees over HTTPS); pass https://…")]
    NotHttps { url: String },
    #[error("{url:?} has no host; pass the https:// URL of the JWKS host, for example https://oidc.example.com")]
    NoHost { url: String },
}

/// SHA-1 of `der`, as 40 lowercase hex digits: the form IAM stores and the AWS CLI prints.
pub fn thumbprint(der: &[u8]) -> String {
    hex(&Sha1::digest(der))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The host and port to fetch a chain from, taken from an `https://` URL. The path is ignored:
/// a thumbprint belongs to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// A DNS name, or an IP literal without brackets (`127.0.0.1`, `::1`).
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn from_url(raw: &str) -> Result<Endpoint, UrlError> {
        let url = url::Url::parse(raw).map_err(|e| UrlError::NotUrl {
            url: raw.into(),
            detail: e.to_string(),
            example: match raw.split("://").last() {
                Some(rest) if !rest.is_empty() => rest.to_owned(),
                _ => "oidc.example.com".to_owned(),
            },
        })?;
        if url.scheme() != "https" {
            return Err(UrlError::NotHttps { url: raw.into() });
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(UrlError::NoHost { url: raw.into() }),
        };
        // `Url` drops an explicit :443, so the known default is the right fallback.
        let port = url.port_or_known_default().unwrap_or(443);
        Ok(Endpoint { host, port })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What a user needs to know about one served certificate. The serialised fields are the
/// `--output json` interface; the others serve messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    /// Subject equals issuer (a root, or another self-issued certificate). Whether its
    /// signature verifies is the verifier's business, which has already run.
    pub self_signed: bool,
    /// [`thumbprint`] of this certificate.
    pub sha1: String,
    #[serde(skip)]
    pub not_before_unix: i64,
    #[serde(skip)]
    pub not_after_unix: i64,
    /// DNS names and IP addresses of the subject alternative names, for name-mismatch messages.
    #[serde(skip)]
    pub names: Vec<String>,
}

impl CertSummary {
    /// Summarises certificate number `index` (0 = the leaf) of a served chain.
    pub fn from_der(index: usize, der: &[u8]) -> Result<CertSummary, ThumbprintError> {
        let bad = |detail: String| ThumbprintError::Certificate { index, detail };
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
        let names = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(|ip| ip.to_string()),
                    _ => None,
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(e) => return Err(bad(format!("subject alternative names: {e}"))),
        };
        let validity = cert.validity();
        let not_after_unix = validity.not_after.timestamp();
        Ok(CertSummary {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_after: rfc3339(not_after_unix),
            self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
            sha1: thumbprint(der),
            not_before_unix: validity.not_before.timestamp(),
            not_after_unix,
            names,
        })
    }

    /// The subject for messages: never empty.
    pub fn name(&self) -> &str {
        if self.subject.is_empty() {
            "(empty subject)"
        } else {
            &self.subject
        }
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// Summarises a whole served chain, leaf first.
pub fn summarise(chain: &[impl AsRef<[u8]>]) -> Result<Vec<CertSummary>, ThumbprintError> {
    chain
        .iter()
        .enumerate()
        .map(|(i, der)| CertSummary::from_der(i, der.as_ref()))
        .collect()
}

/// Which served certificate an "expired" verdict is about: the one whose notAfter the verifier
/// reported if known, else the first (leaf-most) one expired at `now`.
pub fn find_expired(
    chain: &[CertSummary],
    reported_not_after: Option<i64>,
    now: i64,
) -> Option<usize> {
    reported_not_after
        .and_then(|t| chain.iter().position(|c| c.not_after_unix == t))
        .or_else(|| chain.iter().position(|c| c.not_after_unix < now))
}

/// Which served certificate a "not valid yet" verdict is about (see [`find_expired`]).
pub fn find_not_yet_valid(
    chain: &[CertSummary],
    reported_not_before: Option<i64>,
    now: i64,
) -> Option<usize> {
    reported_not_before
        .and_then(|t| chain.iter().position(|c| c.not_before_unix == t))
        .or_else(|| chain.iter().position(|c| c.not_before_unix > now))
}

/// How messages refer to certificate `index` of a chain of `len`.
pub fn position(index: usize, len: usize) -> String {
    let role = match (index, len) {
        (0, _) => "the leaf",
        (i, n) if i + 1 == n => "the last served",
        _ => "an intermediate",
    };
    format!("certificate {} of {len} ({role})", index + 1)
}

/// Unix seconds as RFC 3339 in UTC (`2025-01-31T12:00:00Z`), for any date X.509 can hold.
pub fn rfc3339(unix: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{unix}"))
}

/// Validates thumbprints given by a user (a later `--thumbprint HEX` flag): exactly 40 hex
/// digits each, returned lowercased (IAM stores and returns lowercase; comparing mixed case
/// would report drift that is not there), duplicates removed keeping the first occurrence,
/// at most [`MAX_PINNED`] distinct values.
pub fn parse_pinned(values: &[String]) -> Result<Vec<String>, ThumbprintError> {
    let mut pinned: Vec<String> = Vec::new();
    for value in values {
        let trimmed = value.trim();
        if trimmed.contains(':') {
            let suggestion = trimmed.replace(':', "").to_ascii_lowercase();
            return Err(ThumbprintError::Colons {
                value: value.clone(),
                suggestion,
            });
        }
        let len = trimmed.chars().count();
        if len != 40 {
            return Err(ThumbprintError::Length {
                value: value.clone(),
                len,
            });
        }
        if !trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ThumbprintError::NotHex {
                value: value.clone(),
            });
        }
        let lower = trimmed.to_ascii_lowercase();
        if !pinned.contains(&lower) {
            pinned.push(lower);
        }
    }
    if pinned.len() > MAX_PINNED {
        return Err(ThumbprintError::TooMany {
            count: pinned.len(),
        });
    }
    Ok(pinned)
}

/// The result of `kube-oidc-publisher thumbprint`: the thumbprint and the verified chain it was
/// computed from. Serialises to the `--output json` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThumbprintReport {
    pub thumbprint: String,
    pub host: String,
    pub port: u16,
    /// As served, leaf first; the thumbprint is the last one's `sha1`.
    pub chain: Vec<CertSummary>,
}

impl ThumbprintReport {
    /// Builds the report for a verified, non-empty served chain.
    pub fn new(
        endpoint: &Endpoint,
        chain: &[impl AsRef<[u8]>],
    ) -> Result<ThumbprintReport, ThumbprintError> {
        let chain = summarise(chain)?;
        let Some(last) = chain.last() else {
            return Err(ThumbprintError::Certificate {
                index: 0,
                detail: "the server presented no certificate".into(),
            });
        };
        Ok(ThumbprintReport {
            thumbprint: last.sha1.clone(),
            host: endpoint.host.clone(),
            port: endpoint.port,
            chain,
        })
    }

    /// The `--output text` form: the thumbprint alone on the first line (so
    /// `| head -n1` works in scripts), then a short summary of the chain.
    pub fn text(&self) -> String {
        let endpoint = Endpoint {
            host: self.host.clone(),
            port: self.port,
        };
        let n = self.chain.len();
        let mut out = format!(
            "{}\n{endpoint} served {n} certificate{} (chain verified); the thumbprint is the SHA-1 of the last:\n",
            self.thumbprint,
            if n == 1 { "" } else { "s" },
        );
        for (i, cert) in self.chain.iter().enumerate() {
            let issuer = if cert.self_signed {
                "self-signed".to_owned()
            } else {
                format!("issued by {}", cert.issuer)
            };
            let marker = if i + 1 == n { "  <- thumbprint" } else { "" };
            let _ = writeln!(
                out,
                "  {}. {} ({issuer}; expires {}){marker}",
                i + 1,
                cert.name(),
                cert.not_after
            );
        }
        if n == 1 {
            out.push_str("note: only the leaf certificate is served, so this thumbprint changes whenever it is renewed\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX_A: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn thumbprint_is_lowercase_sha1_hex() {
        for (input, expected) in [
            (&b""[..], "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ] {
            assert_eq!(thumbprint(input), expected);
            assert_eq!(thumbprint(input).len(), 40);
        }
    }

    #[test]
    fn parse_pinned_table() {
        let upper = HEX_A.to_ascii_uppercase();
        let b = "a".repeat(40);
        // (input, Ok(normalised) or Err(variant name))
        type Case = (Vec<String>, Result<Vec<String>, &'static str>);
        let cases: Vec<Case> = vec![
            (vec![], Ok(vec![])),
            (strings(&[HEX_A]), Ok(strings(&[HEX_A]))),
            (vec![upper.clone()], Ok(strings(&[HEX_A]))),
            (vec![format!(" {HEX_A}\n")], Ok(strings(&[HEX_A]))),
            (
                vec![upper.clone(), HEX_A.into(), b.clone(), HEX_A.into()],
                Ok(vec![HEX_A.into(), b.clone()]),
            ),
            (
                (0..5).map(|i| format!("{i}").repeat(40)).collect(),
                Ok((0..5).map(|i| format!("{i}").repeat(40)).collect()),
            ),
            (
                (0..6).map(|i| format!("{i}").repeat(40)).collect(),
                Err("TooMany"),
            ),
            // Six values, five distinct: duplicates do not count against the limit.
            (
                (0..6).map(|i| format!("{}", i.min(4)).repeat(40)).collect(),
                Ok((0..5).map(|i| format!("{i}").repeat(40)).collect()),
            ),
            (strings(&[&HEX_A[..39]]), Err("Length")),
            (vec![format!("{HEX_A}0")], Err("Length")),
            (strings(&[""]), Err("Length")),
            (vec![format!("{}g", &HEX_A[..39])], Err("NotHex")),
            (vec![format!("0x{}", &HEX_A[..38])], Err("NotHex")),
            (vec!["é".repeat(40)], Err("NotHex")),
            (
                strings(&["9E:99:A4:8A:99:60:B1:49:26:BB:7F:3B:02:E2:2D:A2:B0:AB:72:80"]),
                Err("Colons"),
            ),
            (vec![HEX_A.into(), "x".into()], Err("Length")),
        ];
        for (input, expected) in cases {
            let got = parse_pinned(&input);
            match (&got, &expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{input:?}"),
                (Err(e), Err(kind)) => {
                    assert!(format!("{e:?}").starts_with(kind), "{input:?}: {e:?}")
                }
                _ => panic!("{input:?}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn errors_say_what_to_pass() {
        let err = parse_pinned(&strings(&[
            "9E:99:A4:8A:99:60:B1:49:26:BB:7F:3B:02:E2:2D:A2:B0:AB:72:80",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains(HEX_A), "{err}");
        let six: Vec<String> = (0..6).map(|i| format!("{i}").repeat(40)).collect();
        let err = parse_pinned(&six).unwrap_err();
        assert_eq!(err, ThumbprintError::TooMany { count: 6 });
        assert!(err.to_string().contains("at most 5"));
    }

    #[test]
    fn endpoint_from_url_table() {
        let ok = |host: &str, port| {
            Ok(Endpoint {
                host: host.into(),
                port,
            })
        };
        let cases: Vec<(&str, Result<Endpoint, &str>)> = vec![
            ("https://oidc.example.com", ok("oidc.example.com", 443)),
            (
                "https://oidc.example.com/c1/openid/v1/jwks",
                ok("oidc.example.com", 443),
            ),
            ("https://oidc.example.com:443/", ok("oidc.example.com", 443)),
            ("https://127.0.0.1:8443", ok("127.0.0.1", 8443)),
            ("https://localhost:1/x?y#z", ok("localhost", 1)),
            ("https://[::1]:9443/", ok("::1", 9443)),
            ("https://OIDC.Example.COM", ok("oidc.example.com", 443)),
            ("http://oidc.example.com", Err("NotHttps")),
            ("s3://bucket/prefix", Err("NotHttps")),
            ("oidc.example.com", Err("NotUrl")),
            ("https://", Err("NotUrl")),
            ("https://oidc.example.com:99999", Err("NotUrl")),
        ];
        for (input, expected) in cases {
            let got = Endpoint::from_url(input);
            match (&got, &expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{input}"),
                (Err(e), Err(kind)) => {
                    assert!(format!("{e:?}").starts_with(kind), "{input}: {e:?}")
                }
                _ => panic!("{input}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn not_url_error_suggests_https() {
        let err = Endpoint::from_url("oidc.example.com/c1").unwrap_err();
        assert!(
            err.to_string().contains("https://oidc.example.com/c1"),
            "{err}"
        );
    }

    #[test]
    fn endpoint_display_brackets_ipv6() {
        let e = |host: &str| {
            Endpoint {
                host: host.into(),
                port: 443,
            }
            .to_string()
        };
        assert_eq!(e("::1"), "[::1]:443");
        assert_eq!(e("127.0.0.1"), "127.0.0.1:443");
        assert_eq!(e("oidc.example.com"), "oidc.example.com:443");
    }

    #[test]
    fn rfc3339_table() {
        for (unix, expected) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (1_735_689_600, "2025-01-01T00:00:00Z"),
            (2_524_607_999, "2049-12-31T23:59:59Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (-2_208_988_800, "1900-01-01T00:00:00Z"),
        ] {
            assert_eq!(rfc3339(unix), expected, "{unix}");
        }
    }

    fn summary(not_before: i64, not_after: i64) -> CertSummary {
        CertSummary {
            subject: String::new(),
            issuer: String::new(),
            not_after: rfc3339(not_after),
            self_signed: false,
            sha1: String::new(),
            not_before_unix: not_before,
            not_after_unix: not_after,
            names: vec![],
        }
    }

    #[test]
    fn find_expired_prefers_the_reported_certificate() {
        let chain = [summary(0, 100), summary(0, 50), summary(0, 1000)];
        assert_eq!(find_expired(&chain, Some(50), 200), Some(1));
        assert_eq!(find_expired(&chain, None, 200), Some(0));
        assert_eq!(find_expired(&chain, Some(7), 75), Some(1));
        assert_eq!(find_expired(&chain, None, 10), None);
        let chain = [summary(10, 100), summary(500, 1000)];
        assert_eq!(find_not_yet_valid(&chain, Some(500), 20), Some(1));
        assert_eq!(find_not_yet_valid(&chain, None, 5), Some(0));
        assert_eq!(find_not_yet_valid(&chain, None, 50), Some(1));
        assert_eq!(find_not_yet_valid(&chain, None, 600), None);
    }

    #[test]
    fn position_names_the_role() {
        assert_eq!(position(0, 3), "certificate 1 of 3 (the leaf)");
        assert_eq!(position(1, 3), "certificate 2 of 3 (an intermediate)");
        assert_eq!(position(2, 3), "certificate 3 of 3 (the last served)");
        assert_eq!(position(0, 1), "certificate 1 of 1 (the leaf)");
    }

    /// A leaf signed by a self-signed CA, both as DER.
    fn chain() -> Vec<Vec<u8>> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "Unit Root");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.not_after = rcgen::date_time_ymd(2040, 6, 30);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        leaf.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        leaf.subject_alt_names
            .push(SanType::IpAddress("::1".parse().unwrap()));
        leaf.distinguished_name
            .push(DnType::CommonName, "unit leaf");
        leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(2030, 1, 2);
        let leaf_cert = leaf
            .signed_by(&KeyPair::generate().unwrap(), &issuer)
            .unwrap();
        vec![leaf_cert.der().to_vec(), ca_cert.der().to_vec()]
    }

    #[test]
    fn summary_of_a_chain() {
        let ders = chain();
        let s = summarise(&ders).unwrap();
        assert_eq!(s[0].subject, "CN=unit leaf");
        assert_eq!(s[0].issuer, "CN=Unit Root");
        assert!(!s[0].self_signed);
        assert_eq!(s[0].not_after, "2030-01-02T00:00:00Z");
        assert_eq!(s[0].not_before_unix, 1_577_836_800);
        assert_eq!(s[0].names, ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(s[0].sha1, thumbprint(&ders[0]));
        assert!(s[1].self_signed);
        assert_eq!(s[1].subject, "CN=Unit Root");
        assert_eq!(s[1].not_after, "2040-06-30T00:00:00Z");
        let err = CertSummary::from_der(3, b"not a certificate").unwrap_err();
        assert!(matches!(err, ThumbprintError::Certificate { index: 3, .. }));
    }

    #[test]
    fn report_covers_the_last_certificate() {
        let ders = chain();
        let endpoint = Endpoint {
            host: "localhost".into(),
            port: 8443,
        };
        let report = ThumbprintReport::new(&endpoint, &ders).unwrap();
        assert_eq!(report.thumbprint, thumbprint(&ders[1]));
        assert_ne!(report.thumbprint, thumbprint(&ders[0]));

        let text = report.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], report.thumbprint);
        assert!(
            lines[1].starts_with("localhost:8443 served 2 certificates"),
            "{text}"
        );
        assert!(
            lines[2].contains("CN=unit leaf (issued by CN=Unit Root;"),
            "{text}"
        );
        assert!(
            lines[3].contains(
                "CN=Unit Root (self-signed; expires 2040-06-30T00:00:00Z)  <- thumbprint"
            ),
            "{text}"
        );
        assert_eq!(lines.len(), 4, "{text}");

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["thumbprint"], report.thumbprint.as_str());
        assert_eq!(json["host"], "localhost");
        assert_eq!(json["port"], 8443);
        let keys: Vec<&String> = json["chain"][0].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["subject", "issuer", "not_after", "self_signed", "sha1"]
        );
        assert_eq!(json["chain"][1]["self_signed"], true);

        let leaf_only = ThumbprintReport::new(&endpoint, &ders[..1]).unwrap();
        assert_eq!(leaf_only.thumbprint, thumbprint(&ders[0]));
        assert!(leaf_only.text().contains("changes whenever it is renewed"));
        let empty: &[Vec<u8>] = &[];
        assert!(ThumbprintReport::new(&endpoint, empty).is_err());
    }
}
