//! The pure checks against hand-built facts: a working setup (the recorded fixtures, checked
//! at a moment when the recorded token was valid) passes every check, and each broken variant
//! produces exactly the finding, and the STS error, it should.

use super::checks::check;
use super::facts::*;
use super::findings::{sts, Finding, Report, Severity, Verdict, CATALOGUE};

const ISSUER: &str = "https://oidc.example.test/cluster-a";
const JWKS: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
const JWKS_ROTATION: &[u8] =
    include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
const DISCOVERY: &[u8] =
    include_bytes!("../../tests/fixtures/kube-apiserver/openid-configuration.json");
const TOKEN: &str = include_str!("../../tests/fixtures/kube-apiserver/token-rsa.jwt");
const TOKEN_ROTATED: &str =
    include_str!("../../tests/fixtures/kube-apiserver/token-rsa-rotated.jwt");
const KID: &str = "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM";
/// Ten minutes after the recorded token was issued (it lives an hour).
const NOW: i64 = 1_795_325_798;
const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/cluster-a";
const ROLE: &str = "arn:aws:iam::123456789012:role/publisher";
const SHA1: &str = "3c8f1f1b0b3a2f5e6d7c8b9a0f1e2d3c4b5a6978";

fn answer(body: &[u8], content_type: &str) -> Answer {
    Answer {
        status: 200,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("cache-control".into(), "public, max-age=300".into()),
        ],
        body: body.to_vec(),
        elapsed_ms: 40,
    }
}

fn fetched(url: &str, answer: Answer) -> Fetched {
    Fetched {
        url: url.into(),
        result: Ok(answer),
        tls: Some(TlsFacts {
            host: "oidc.example.test".into(),
            last_sha1: SHA1.into(),
            last_subject: "CN=Example Issuing CA".into(),
            publicly_trusted: false,
        }),
    }
}

fn trust_policy(sub: &str) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            "oidc.example.test/cluster-a:sub": sub,
            "oidc.example.test/cluster-a:aud": "sts.amazonaws.com",
        }},
    }]})
    .to_string()
}

/// Everything right, as the recorded cluster serves it behind a private CA.
fn working() -> Facts {
    Facts {
        issuer: ISSUER.into(),
        audience: "sts.amazonaws.com".into(),
        service_account: Some(ServiceAccountRef {
            namespace: "oidc-test".into(),
            name: "publisher-sa".into(),
        }),
        role_arn: Some(ROLE.into()),
        public: PublicFacts {
            discovery: Some(fetched(
                &format!("{ISSUER}/.well-known/openid-configuration"),
                answer(DISCOVERY, "application/json"),
            )),
            jwks: Some(fetched(
                &format!("{ISSUER}/openid/v1/jwks"),
                answer(JWKS, "application/json"),
            )),
        },
        cluster: Gathered::Got(ClusterFacts {
            server: "https://127.0.0.1:6443".into(),
            issuer: ISSUER.into(),
            kids: vec![KID.into()],
        }),
        token: Gathered::Got(Token {
            origin: "--token token.jwt".into(),
            jwt: TOKEN.trim().into(),
        }),
        annotation: Gathered::Got(Some(ROLE.into())),
        aws: Gathered::Got(AwsFacts {
            account: "123456789012".into(),
            partition: "aws".into(),
            provider_account: "123456789012".into(),
            provider: Gathered::Got(Some(ProviderFacts {
                arn: ARN.into(),
                url: "oidc.example.test/cluster-a".into(),
                client_ids: vec!["sts.amazonaws.com".into()],
                thumbprints: vec![SHA1.into()],
            })),
            other_providers: vec![],
        }),
        s3: Gathered::Got(S3Facts {
            bucket: "acme-oidc".into(),
            prefix: "cluster-a".into(),
            partition: "aws".into(),
            bucket_block: Gathered::Got(None),
            account_block: Gathered::Got(None),
            ownership: Gathered::Got(Some("BucketOwnerEnforced".into())),
            policy: Gathered::Got(Some(
                serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": "*",
                    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-oidc/cluster-a/*"}]})
                .to_string(),
            )),
        }),
        role: Gathered::Got(RoleFacts {
            arn: ROLE.into(),
            trust_policy: Some(trust_policy("system:serviceaccount:oidc-test:publisher-sa")),
        }),
        cloudfront: None,
        migration: Gathered::Got(None),
    }
}

fn run(facts: &Facts) -> Report {
    Report {
        issuer: facts.issuer.clone(),
        findings: check(facts, NOW),
    }
}

fn finding<'a>(report: &'a Report, check: &str) -> &'a Finding {
    report
        .find(check)
        .unwrap_or_else(|| panic!("no {check} in\n{}", report.to_text()))
}

/// The report has exactly these errors (check ids), each with an STS error or none.
fn assert_errors(report: &Report, expected: &[(&str, Option<&str>)]) {
    let errors: Vec<(&str, Option<&str>)> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.check, f.sts_error.as_deref()))
        .collect();
    assert_eq!(errors, expected, "\n{}", report.to_text());
    assert_eq!(report.verdict(), Verdict::Fail);
}

mod cloudfront;
mod migration;

#[test]
fn a_working_setup_passes_every_check_in_catalogue_order() {
    let report = run(&working());
    let ids: Vec<&str> = report.findings.iter().map(|f| f.check).collect();
    // Not served by CloudFront, no migration recorded: no cloudfront.* or *.migration check.
    let catalogue: Vec<&str> = CATALOGUE
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !id.starts_with("cloudfront.") && !id.ends_with(".migration"))
        .collect();
    assert_eq!(ids, catalogue);
    for f in &report.findings {
        assert_eq!(f.severity, Severity::Ok, "{f:#?}");
        assert_eq!(f.sts_error, None);
    }
    assert_eq!(report.verdict(), Verdict::Pass);
}

#[test]
fn missing_inputs_are_skipped_with_what_to_pass_and_still_pass() {
    let mut facts = working();
    facts.cluster = Gathered::not_given("no cluster", "pass --kubeconfig");
    facts.token = Gathered::not_given("no token", "pass --token FILE");
    facts.aws = Gathered::not_given("no AWS credentials", "configure AWS credentials");
    facts.s3 = Gathered::not_given("no S3 store", "pass --store");
    facts.role = Gathered::not_given("no role", "pass --role-arn");
    facts.annotation = Gathered::not_given("no SA", "pass --service-account");
    let report = run(&facts);
    assert_eq!(report.verdict(), Verdict::Pass, "{}", report.to_text());
    let f = finding(&report, "iam.provider");
    assert_eq!(f.severity, Severity::Skipped);
    assert!(!f.could_not_run);
    assert_eq!(f.fix.as_deref(), Some("configure AWS credentials"));
    assert_eq!(finding(&report, "discovery.fetch").severity, Severity::Ok);

    facts.aws = Gathered::failed("access denied: sts:GetCallerIdentity");
    let report = run(&facts);
    assert_eq!(report.verdict(), Verdict::Incomplete);
    assert!(finding(&report, "iam.provider").could_not_run);
}

#[test]
fn the_issuer_string_and_the_api_servers() {
    let mut facts = working();
    facts.issuer = format!("{ISSUER}/");
    let report = run(&facts);
    let f = finding(&report, "issuer.format");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.sts_error, Some(sts::no_provider(&format!("{ISSUER}/"))));

    let mut facts = working();
    if let Gathered::Got(cluster) = &mut facts.cluster {
        cluster.issuer = "https://kubernetes.default.svc.cluster.local".into();
    }
    let report = run(&facts);
    assert_errors(
        &report,
        &[(
            "issuer.api_server",
            Some("InvalidIdentityToken: No OpenIDConnect provider found in your account for https://kubernetes.default.svc.cluster.local"),
        )],
    );
    assert!(finding(&report, "issuer.api_server")
        .fix
        .as_deref()
        .unwrap()
        .contains("--service-account-issuer=https://oidc.example.test/cluster-a"));
}

fn with_discovery(status: u16, headers: &[(&str, &str)], elapsed_ms: u64) -> Facts {
    let mut facts = working();
    let d = facts.public.discovery.as_mut().unwrap();
    let a = d.result.as_mut().unwrap();
    a.status = status;
    a.elapsed_ms = elapsed_ms;
    for (name, value) in headers {
        a.headers.retain(|(n, _)| n != name);
        a.headers.push(((*name).into(), (*value).into()));
    }
    facts
}

#[test]
fn the_anonymous_get_as_sts_makes_it() {
    let report = run(&with_discovery(403, &[], 30));
    let f = finding(&report, "discovery.fetch");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.sts_error.as_deref(), Some(sts::NO_KEY));
    assert!(f.message.contains("403"), "{}", f.message);
    assert_eq!(
        finding(&report, "discovery.document").severity,
        Severity::Skipped
    );

    let report = run(&with_discovery(
        301,
        &[("location", "https://elsewhere.example/x")],
        30,
    ));
    let f = finding(&report, "discovery.fetch");
    assert_eq!(f.sts_error.as_deref(), Some(sts::NO_KEY));
    assert!(
        f.message.contains("https://elsewhere.example/x"),
        "{}",
        f.message
    );

    let report = run(&with_discovery(200, &[], 3_100));
    assert_eq!(
        finding(&report, "discovery.fetch").severity,
        Severity::Warning
    );
    assert_eq!(report.verdict(), Verdict::Pass);

    let mut facts = working();
    facts.public.discovery.as_mut().unwrap().result = Err(FetchError::Timeout { budget_ms: 5000 });
    let report = run(&facts);
    let f = finding(&report, "discovery.fetch");
    assert_eq!(f.sts_error.as_deref(), Some(sts::NO_KEY));
    assert!(f.message.contains("5 s"), "{}", f.message);

    // An untrusted chain is not a verdict: STS may accept it through the thumbprint.
    let mut facts = working();
    facts.public.discovery.as_mut().unwrap().result = Err(FetchError::UnknownIssuer {
        detail: "its issuer is not trusted".into(),
    });
    let report = run(&facts);
    assert!(finding(&report, "discovery.fetch").could_not_run);
    assert_eq!(report.verdict(), Verdict::Incomplete);

    for value in ["no-cache", "public, max-age=0", "max-age=86400"] {
        let report = run(&with_discovery(200, &[("cache-control", value)], 30));
        let f = finding(&report, "discovery.cache_control");
        assert_eq!(f.severity, Severity::Warning, "{value}");
        assert_eq!(report.verdict(), Verdict::Pass);
    }
    let report = run(&with_discovery(200, &[("content-type", "text/plain")], 30));
    assert_eq!(
        finding(&report, "discovery.content_type").severity,
        Severity::Warning
    );
}

#[test]
fn the_discovery_document_must_name_this_issuer_and_an_https_jwks_uri() {
    let mut facts = working();
    let body = String::from_utf8(DISCOVERY.to_vec()).unwrap().replace(
        "https://oidc.example.test/cluster-a/openid/v1/jwks",
        "https://127.0.0.1:6443/openid/v1/jwks",
    );
    let body = body.replace(
        "\"issuer\":\"https://oidc.example.test/cluster-a\"",
        "\"issuer\":\"https://other.example\"",
    );
    facts
        .public
        .discovery
        .as_mut()
        .unwrap()
        .result
        .as_mut()
        .unwrap()
        .body = body.into_bytes();
    let report = run(&facts);
    let f = finding(&report, "discovery.document");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("https://other.example"), "{}", f.message);

    let mut facts = working();
    facts.public.discovery.as_mut().unwrap().result.as_mut().unwrap().body =
        br#"{"issuer":"https://oidc.example.test/cluster-a","jwks_uri":"http://oidc.example.test/keys"}"#.to_vec();
    facts.public.jwks = None;
    let report = run(&facts);
    assert_eq!(
        finding(&report, "discovery.document").sts_error.as_deref(),
        Some(sts::NO_KEY)
    );
    let jwks = finding(&report, "jwks.fetch");
    assert_eq!(jwks.severity, Severity::Skipped);
    assert_eq!(jwks.fix.as_deref(), Some("fix discovery.document first"));
}

#[test]
fn keys_and_token() {
    // The API server signs with a key that is not public yet.
    let mut facts = working();
    if let Gathered::Got(cluster) = &mut facts.cluster {
        cluster
            .kids
            .push("ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc".into());
    }
    facts.token = Gathered::Got(Token {
        origin: "--token rotated.jwt".into(),
        jwt: TOKEN_ROTATED.trim().into(),
    });
    let report = run(&facts);
    assert_errors(
        &report,
        &[
            ("keys.api_server", Some(sts::NO_KEY)),
            ("token.kid", Some(sts::NO_KEY)),
        ],
    );
    assert_eq!(
        finding(&report, "token.signature").severity,
        Severity::Skipped
    );

    // Published beside the old one: fine.
    let mut facts = working();
    facts
        .public
        .jwks
        .as_mut()
        .unwrap()
        .result
        .as_mut()
        .unwrap()
        .body = JWKS_ROTATION.to_vec();
    facts.token = Gathered::Got(Token {
        origin: "--token rotated.jwt".into(),
        jwt: TOKEN_ROTATED.trim().into(),
    });
    assert_eq!(
        run(&facts).verdict(),
        Verdict::Pass,
        "{}",
        run(&facts).to_text()
    );

    // Expired: more than 5 minutes past exp.
    let facts = working();
    let report = Report {
        issuer: ISSUER.into(),
        findings: check(&facts, 1_795_328_798 + 301),
    };
    assert_errors(&report, &[("token.expiry", Some(sts::EXPIRED))]);
    let report = Report {
        issuer: ISSUER.into(),
        findings: check(&facts, 1_795_328_798 + 200),
    };
    assert_eq!(finding(&report, "token.expiry").severity, Severity::Warning);

    // Not a JWT: doctor could not run the token checks.
    let mut facts = working();
    facts.token = Gathered::Got(Token {
        origin: "--token x".into(),
        jwt: "not a token".into(),
    });
    let report = run(&facts);
    assert_eq!(report.verdict(), Verdict::Incomplete);
    assert!(finding(&report, "token.kid").could_not_run);
    assert!(
        !format!("{:?}", facts.token).contains("not a token"),
        "Debug hides the token"
    );
}

#[test]
fn the_iam_provider() {
    let mut facts = working();
    if let Gathered::Got(aws) = &mut facts.aws {
        aws.provider = Gathered::Got(None);
        aws.other_providers = vec![
            "oidc.example.test/cluster-a/".into(),
            "unrelated.example".into(),
        ];
    }
    let report = run(&facts);
    assert_errors(
        &report,
        &[("iam.provider", Some(&sts::no_provider(ISSUER)))],
    );
    let f = finding(&report, "iam.provider");
    assert!(
        f.message.contains("oidc.example.test/cluster-a/") && !f.message.contains("unrelated"),
        "{}",
        f.message
    );

    let mut facts = working();
    if let Gathered::Got(aws) = &mut facts.aws {
        if let Gathered::Got(Some(p)) = &mut aws.provider {
            p.client_ids = vec!["vault".into()];
            p.thumbprints = vec!["0".repeat(40)];
        }
    }
    let report = run(&facts);
    assert_errors(
        &report,
        &[
            ("iam.client_ids", Some(sts::INCORRECT_AUDIENCE)),
            ("iam.thumbprint", Some(sts::THUMBPRINT)),
        ],
    );
    assert!(finding(&report, "iam.thumbprint")
        .fix
        .as_deref()
        .unwrap()
        .contains(SHA1));

    // A publicly trusted chain: IAM ignores the thumbprint.
    for fetched in [facts.public.discovery.as_mut(), facts.public.jwks.as_mut()]
        .into_iter()
        .flatten()
    {
        fetched.tls.as_mut().unwrap().publicly_trusted = true;
    }
    let report = run(&facts);
    let f = finding(&report, "iam.thumbprint");
    assert_eq!(f.severity, Severity::Ok);
    assert!(f.message.contains("CA library"), "{}", f.message);
}

#[test]
fn the_role_and_the_service_account() {
    let mut facts = working();
    facts.role = Gathered::Got(RoleFacts {
        arn: ROLE.into(),
        trust_policy: Some(trust_policy("system:serviceaccount:oidc-test:other")),
    });
    facts.annotation = Gathered::Got(Some("arn:aws:iam::123456789012:role/other".into()));
    let report = run(&facts);
    assert_errors(
        &report,
        &[
            ("role.sub", Some(sts::ACCESS_DENIED)),
            ("serviceaccount.annotation", None),
        ],
    );

    // Without --service-account the token's sub is what the role must accept.
    let mut facts = working();
    facts.service_account = None;
    facts.annotation = Gathered::not_given("no SA", "pass --service-account");
    facts.role = Gathered::Got(RoleFacts {
        arn: ROLE.into(),
        trust_policy: Some(trust_policy("system:serviceaccount:oidc-test:other")),
    });
    assert_errors(&run(&facts), &[("role.sub", Some(sts::ACCESS_DENIED))]);

    let mut facts = working();
    facts.role = Gathered::Got(RoleFacts {
        arn: ROLE.into(),
        trust_policy: None,
    });
    assert_errors(&run(&facts), &[("role.exists", Some(sts::ACCESS_DENIED))]);

    let mut facts = working();
    facts.annotation = Gathered::Got(None);
    let report = run(&facts);
    assert_eq!(
        finding(&report, "serviceaccount.annotation").severity,
        Severity::Warning
    );
    assert_eq!(report.verdict(), Verdict::Pass);
}

#[test]
fn the_block_public_access_fix_names_the_owners_public_statements_it_would_make_live() {
    let on = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    let ours = serde_json::json!({"Sid": "KubeOidcPublisherPublicRead", "Effect": "Allow",
        "Principal": "*", "Action": "s3:GetObject",
        "Resource": ["arn:aws:s3:::acme-oidc/cluster-a/.well-known/openid-configuration",
                     "arn:aws:s3:::acme-oidc/cluster-a/openid/v1/jwks"]});
    let owners = serde_json::json!({"Sid": "LegacyWebsite", "Effect": "Allow",
        "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-oidc/*"});
    let with_policy = |statements: serde_json::Value| {
        let mut facts = working();
        let Gathered::Got(s3) = &mut facts.s3 else {
            unreachable!()
        };
        s3.bucket_block = Gathered::Got(Some(on));
        s3.policy = Gathered::Got(Some(
            serde_json::json!({ "Statement": statements }).to_string(),
        ));
        facts
    };

    let report = run(&with_policy(serde_json::json!([ours.clone(), owners])));
    let fix = finding(&report, "s3.public_access_block")
        .fix
        .clone()
        .unwrap();
    assert!(
        fix.starts_with("first remove or restrict") && fix.contains("Sid \"LegacyWebsite\""),
        "{fix}"
    );
    assert!(!fix.contains("KubeOidcPublisherPublicRead"), "{fix}");

    let report = run(&with_policy(serde_json::json!([ours])));
    let fix = finding(&report, "s3.public_access_block")
        .fix
        .clone()
        .unwrap();
    assert!(
        fix.starts_with("aws s3api put-public-access-block"),
        "{fix}"
    );
}
