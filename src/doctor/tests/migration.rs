//! The `*.migration` checks and the token and API-server checks during a move to another
//! issuer (issue #13), against hand-built facts: the working setup with a migration recorded
//! from its issuer (the old side) to `NEW`, both sides published with the same key. Each
//! broken variant is judged by when pods need the broken side: an error now, a warning for a
//! later step, harmless once every old token has expired.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;

use super::*;
use crate::model::migration::{Migration, Side, Which};

const NEW: &str = "https://new.example.test/cluster-a";
const NEW_ARN: &str = "arn:aws:iam::123456789012:oidc-provider/new.example.test/cluster-a";
const OLD_STORE: &str = "s3://acme-oidc/cluster-a";
const NEW_STORE: &str = "s3://acme-oidc-new/cluster-a";
const SUB: &str = "system:serviceaccount:oidc-test:publisher-sa";

/// The cluster's key, made here: the recorded fixtures hold no private key to sign a token
/// for the new issuer with.
struct Key {
    pair: josekit::jws::alg::rsassa::RsassaJwsSigner,
    jwk: serde_json::Value,
    kid: String,
}

fn key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let kid = crate::model::jwk::kid_from_spki_der(&pair.to_der_public_key());
        let public = pair.to_jwk_public_key();
        let jwk = json!({"use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256",
            "n": public.parameter("n").unwrap(), "e": public.parameter("e").unwrap()});
        let signer = josekit::jws::RS256
            .signer_from_der(pair.to_der_private_key())
            .unwrap();
        Key {
            pair: signer,
            jwk,
            kid,
        }
    })
}

fn jwks_body(keys: &[&serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

/// A token of `issuer` for the working ServiceAccount, valid around `NOW`.
fn token(issuer: &str) -> Gathered<Token> {
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id(&key().kid);
    let mut payload = josekit::jwt::JwtPayload::new();
    payload.set_issuer(issuer);
    payload.set_subject(SUB);
    payload
        .set_claim("aud", Some(json!(["sts.amazonaws.com"])))
        .unwrap();
    let at = |t: i64| std::time::UNIX_EPOCH + Duration::from_secs(t as u64);
    payload.set_issued_at(&at(NOW - 600));
    payload.set_expires_at(&at(NOW + 3000));
    Gathered::Got(Token {
        origin: "--token pod.jwt".into(),
        jwt: josekit::jwt::encode_with_signer(&payload, &header, &key().pair).unwrap(),
    })
}

fn at(seconds_before_now: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW - seconds_before_now).unwrap()
}

fn discovery_of(issuer: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/openid/v1/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .unwrap()
}

fn statement(host_path: &str) -> serde_json::Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::123456789012:oidc-provider/{host_path}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{host_path}:sub"): SUB,
            format!("{host_path}:aud"): "sts.amazonaws.com",
        }},
    })
}

fn trusting(host_paths: &[&str]) -> Gathered<RoleFacts> {
    let statements: Vec<serde_json::Value> = host_paths.iter().map(|hp| statement(hp)).collect();
    Gathered::Got(RoleFacts {
        arn: ROLE.into(),
        trust_policy: Some(json!({"Version": "2012-10-17", "Statement": statements}).to_string()),
    })
}

const OLD_HP: &str = "oidc.example.test/cluster-a";
const NEW_HP: &str = "new.example.test/cluster-a";

/// The working setup during a migration from `ISSUER` to `NEW`, prepared two hours ago and
/// switched `switched` seconds ago (`None`: not yet); both sides published with the key, both
/// providers there, the role extended. A token of the old issuer.
fn migrating(switched: Option<i64>) -> Facts {
    let mut facts = working();
    let body = jwks_body(&[&key().jwk]);
    facts
        .public
        .jwks
        .as_mut()
        .unwrap()
        .result
        .as_mut()
        .unwrap()
        .body = body.clone();
    facts.token = token(ISSUER);
    if let Gathered::Got(cluster) = &mut facts.cluster {
        cluster.kids = vec![key().kid.clone()];
        if switched.is_some() {
            cluster.issuer = NEW.into();
        }
    }
    facts.role = trusting(&[OLD_HP, NEW_HP]);
    let record = Migration {
        old: Side {
            issuer: ISSUER.into(),
            store: OLD_STORE.into(),
        },
        new: Side {
            issuer: NEW.into(),
            store: NEW_STORE.into(),
        },
        prepared_at: at(7200),
        switched_at: switched.map(at),
        roles: vec!["publisher".into()],
    };
    facts.migration = Gathered::Got(Some(MigrationFacts {
        store: OLD_STORE.into(),
        record,
        token_lifetime: Duration::from_secs(24 * 3600),
        other: Some(OtherSide {
            which: Which::New,
            public: PublicFacts {
                discovery: Some(fetched(
                    &format!("{NEW}/.well-known/openid-configuration"),
                    answer(&discovery_of(NEW), "application/json"),
                )),
                jwks: Some(fetched(
                    &format!("{NEW}/openid/v1/jwks"),
                    answer(&body, "application/json"),
                )),
            },
            provider: Gathered::Got(Some(ProviderFacts {
                arn: NEW_ARN.into(),
                url: NEW_HP.into(),
                client_ids: vec!["sts.amazonaws.com".into()],
                thumbprints: vec![SHA1.into()],
            })),
        }),
    }));
    facts
}

fn other_side(facts: &mut Facts) -> &mut OtherSide {
    match &mut facts.migration {
        Gathered::Got(Some(m)) => m.other.as_mut().unwrap(),
        _ => unreachable!(),
    }
}

fn assert_severity(report: &Report, check: &str, severity: Severity) -> Finding {
    let f = finding(report, check).clone();
    assert_eq!(f.severity, severity, "{check}\n{}", report.to_text());
    f
}

#[test]
fn a_prepared_migration_with_both_sides_in_place_passes_and_names_the_side() {
    let report = run(&migrating(None));
    let ids: Vec<&str> = report.findings.iter().map(|f| f.check).collect();
    let catalogue: Vec<&str> = CATALOGUE
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !id.starts_with("cloudfront."))
        .collect();
    assert_eq!(ids, catalogue, "every migration check is reported");
    for f in &report.findings {
        assert_eq!(f.severity, Severity::Ok, "{f:#?}");
    }
    let f = finding(&report, "issuer.migration");
    assert!(
        f.message.contains("its old side") && f.message.contains("not switched yet"),
        "{}",
        f.message
    );
    assert!(finding(&report, "token.issuer")
        .message
        .contains("the old side"));
    assert!(finding(&report, "role.migration")
        .message
        .contains("trusts both"));
}

#[test]
fn no_record_reports_no_migration_check_and_one_that_cannot_be_read_only_says_so() {
    let report = run(&working());
    assert!(report
        .findings
        .iter()
        .all(|f| !f.check.ends_with(".migration")));

    let mut facts = migrating(None);
    facts.migration = Gathered::failed(
        "access denied: s3:GetObject on s3://acme-oidc/cluster-a/.kube-oidc-publisher/state.json",
    );
    let report = run(&facts);
    let migration: Vec<&str> = report
        .findings
        .iter()
        .map(|f| f.check)
        .filter(|c| c.ends_with(".migration"))
        .collect();
    assert_eq!(migration, ["issuer.migration"]);
    let f = assert_severity(&report, "issuer.migration", Severity::Skipped);
    assert!(
        !f.could_not_run,
        "the migration is an extra, not what doctor was asked"
    );
    assert!(f.message.contains("access denied"), "{}", f.message);
    // A token of the new issuer is then just another issuer's.
    facts.token = token(NEW);
    assert_errors(
        &run(&facts),
        &[("token.issuer", Some(&sts::no_provider(NEW)))],
    );
}

#[test]
fn a_record_naming_neither_issuer_is_a_warning_and_skips_the_other_side() {
    let mut facts = migrating(None);
    if let Gathered::Got(Some(m)) = &mut facts.migration {
        m.other = None;
    }
    facts.issuer = "https://third.example.test/x".into();
    let report = run(&facts);
    let f = assert_severity(&report, "issuer.migration", Severity::Warning);
    assert!(f.fix.unwrap().contains(ISSUER));
    for check in ["jwks.migration", "iam.migration", "role.migration"] {
        let f = assert_severity(&report, check, Severity::Skipped);
        assert_eq!(f.fix.as_deref(), Some("fix issuer.migration first"));
    }
}

#[test]
fn a_token_of_the_new_issuer_is_judged_against_the_new_issuers_documents() {
    // After the switch: the API server signs with the new issuer, doctor runs as sync does.
    let mut facts = migrating(Some(3600));
    facts.token = token(NEW);
    let report = run(&facts);
    assert_eq!(report.verdict(), Verdict::Pass, "{}", report.to_text());
    let f = finding(&report, "token.issuer");
    assert!(
        f.message.contains(&format!("iss is {NEW}, the new side")),
        "{}",
        f.message
    );
    assert!(finding(&report, "token.kid").message.contains(NEW));
    assert!(finding(&report, "issuer.api_server")
        .message
        .contains("the new issuer"));
    assert!(finding(&report, "issuer.migration")
        .message
        .contains("switched at"));

    // The new issuer's JWKS lacks the key: the token and the side are both reported.
    let other = jwks_body(&[
        &json!({"use": "sig", "kty": "RSA", "kid": "someone-else", "alg": "RS256",
        "n": key().jwk["n"], "e": "AQAB"}),
    ]);
    other_side(&mut facts)
        .public
        .jwks
        .as_mut()
        .unwrap()
        .result
        .as_mut()
        .unwrap()
        .body = other;
    let report = run(&facts);
    assert_errors(
        &report,
        &[
            ("jwks.migration", Some(sts::NO_KEY)),
            ("token.kid", Some(sts::NO_KEY)),
        ],
    );
    assert!(finding(&report, "token.kid").message.contains(NEW));

    // Unreadable: the token's key checks depend on it.
    other_side(&mut facts).public.jwks = None;
    let report = run(&facts);
    let f = assert_severity(&report, "token.kid", Severity::Skipped);
    assert_eq!(f.fix.as_deref(), Some("fix jwks.migration first"));

    // A token of neither issuer stays an error, naming both.
    let mut facts = migrating(Some(3600));
    facts.token = token("https://third.example.test/x");
    let report = run(&facts);
    assert_errors(
        &report,
        &[(
            "token.issuer",
            Some(&sts::no_provider("https://third.example.test/x")),
        )],
    );
    assert!(finding(&report, "token.issuer").message.contains(NEW));
}

#[test]
fn the_new_side_missing_is_a_warning_before_the_switch_and_an_error_after() {
    for switched in [None, Some(3600)] {
        let mut facts = migrating(switched);
        other_side(&mut facts).provider = Gathered::Got(None);
        let public = &mut other_side(&mut facts).public;
        public
            .discovery
            .as_mut()
            .unwrap()
            .result
            .as_mut()
            .unwrap()
            .status = 403;
        let report = run(&facts);
        if switched.is_none() {
            let f = assert_severity(&report, "iam.migration", Severity::Warning);
            assert_eq!(f.sts_error, Some(sts::no_provider(NEW)));
            assert!(f.message.contains("will fail from step 2"), "{}", f.message);
            assert!(f.fix.unwrap().contains("issuer prepare"));
            let f = assert_severity(&report, "jwks.migration", Severity::Warning);
            assert!(f.message.contains("answered 403"), "{}", f.message);
            assert_eq!(report.verdict(), Verdict::Pass);
        } else {
            assert_errors(
                &report,
                &[
                    ("jwks.migration", Some(sts::NO_KEY)),
                    ("iam.migration", Some(&sts::no_provider(NEW))),
                ],
            );
        }
    }
    // A token of the new issuer in hand needs that side now, switched or not.
    let mut facts = migrating(None);
    other_side(&mut facts).provider = Gathered::Got(None);
    facts.token = token(NEW);
    let report = run(&facts);
    let f = assert_severity(&report, "iam.migration", Severity::Error);
    assert!(f.message.contains("the token given"), "{}", f.message);

    // The provider without the token's audience.
    let mut facts = migrating(Some(3600));
    if let Gathered::Got(Some(p)) = &mut other_side(&mut facts).provider {
        p.client_ids = vec!["vault".into()];
    }
    assert_errors(
        &run(&facts),
        &[("iam.migration", Some(sts::INCORRECT_AUDIENCE))],
    );
}

#[test]
fn a_role_trusting_only_the_old_provider_breaks_pods_on_new_tokens_from_the_switch() {
    let mut facts = migrating(None);
    facts.role = trusting(&[OLD_HP]);
    let report = run(&facts);
    let f = assert_severity(&report, "role.migration", Severity::Warning);
    assert_eq!(f.sts_error.as_deref(), Some(sts::ACCESS_DENIED));
    assert!(
        f.message.contains(&format!("not the new issuer {NEW}"))
            && f.message.contains("will fail from step 2"),
        "{}",
        f.message
    );
    let fix = f.fix.unwrap();
    assert!(
        fix.contains("issuer prepare")
            && fix.contains("--role publisher")
            && fix.contains(&format!("--new-store {NEW_STORE}")),
        "{fix}"
    );
    assert_eq!(report.verdict(), Verdict::Pass);

    // After the switch every new token carries the new iss: AccessDenied now.
    let mut facts = migrating(Some(60));
    facts.role = trusting(&[OLD_HP]);
    assert_errors(
        &run(&facts),
        &[("role.migration", Some(sts::ACCESS_DENIED))],
    );

    // A statement for the new provider that lets another ServiceAccount in does not count.
    let mut facts = migrating(Some(60));
    let mut other_sa = statement(NEW_HP);
    other_sa["Condition"]["StringEquals"][format!("{NEW_HP}:sub")] =
        json!("system:serviceaccount:oidc-test:other");
    facts.role = Gathered::Got(RoleFacts {
        arn: ROLE.into(),
        trust_policy: Some(
            json!({"Version": "2012-10-17", "Statement": [statement(OLD_HP), other_sa]})
                .to_string(),
        ),
    });
    let report = run(&facts);
    assert_errors(&report, &[("role.migration", Some(sts::ACCESS_DENIED))]);
    assert!(finding(&report, "role.migration")
        .message
        .contains("role.sub"));
}

#[test]
fn a_role_trusting_only_the_new_provider_breaks_pods_on_old_tokens_until_they_expire() {
    // Switched an hour ago: old tokens live for another 23 h.
    let mut facts = migrating(Some(3600));
    facts.role = trusting(&[NEW_HP]);
    let report = run(&facts);
    assert_errors(
        &report,
        &[
            ("role.principal", Some(sts::ACCESS_DENIED)),
            ("role.migration", Some(sts::ACCESS_DENIED)),
        ],
    );
    let f = finding(&report, "role.migration");
    assert!(
        f.message.contains(&format!("not the old issuer {ISSUER}"))
            && f.message.contains("may be alive until"),
        "{}",
        f.message
    );
    assert!(f.fix.as_deref().unwrap().contains("issuer finish"));

    // Before the switch, every pod is on the old issuer.
    let mut facts = migrating(None);
    facts.role = trusting(&[NEW_HP]);
    let f = assert_severity(&run(&facts), "role.migration", Severity::Error);
    assert!(
        f.message.contains("signs every new token with it"),
        "{}",
        f.message
    );

    // Switched 25 hours ago (> 24 h + 5 min): no old token is alive; run as the new issuer.
    let mut facts = migrating(Some(25 * 3600));
    facts.role = trusting(&[NEW_HP]);
    facts.issuer = NEW.into();
    facts.token = token(NEW);
    facts.public.discovery.as_mut().unwrap().url =
        format!("{NEW}/.well-known/openid-configuration");
    facts
        .public
        .discovery
        .as_mut()
        .unwrap()
        .result
        .as_mut()
        .unwrap()
        .body = discovery_of(NEW);
    if let Gathered::Got(aws) = &mut facts.aws {
        if let Gathered::Got(Some(p)) = &mut aws.provider {
            p.arn = NEW_ARN.into();
        }
    }
    let side = other_side(&mut facts);
    side.which = Which::Old;
    // The old documents are already gone, and its provider too.
    side.public
        .discovery
        .as_mut()
        .unwrap()
        .result
        .as_mut()
        .unwrap()
        .status = 404;
    side.provider = Gathered::Got(None);
    let report = run(&facts);
    assert_eq!(report.verdict(), Verdict::Pass, "{}", report.to_text());
    for check in ["jwks.migration", "iam.migration", "role.migration"] {
        let f = assert_severity(&report, check, Severity::Ok);
        assert!(f.message.contains("no longer matters"), "{}", f.message);
    }

    // Neither side: the role.* findings say it; role.migration adds nothing.
    let mut facts = migrating(Some(3600));
    facts.role = trusting(&["elsewhere.example.test/x"]);
    assert_severity(&run(&facts), "role.migration", Severity::Skipped);
}
