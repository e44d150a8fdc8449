//! `doctor` through the real binary, table-driven: one working setup, built for real (a public
//! host served over TLS from a private CA on loopback and reached with `--connect-to`, moto's
//! IAM holding the provider and a role, a fake kube-apiserver that mints tokens signed by a key
//! the test controls), then one broken variant per row, each asserting the finding, the STS
//! error string it names and that it is the only error. A clean run must come out clean, so a
//! doctor that always complains fails too.
//!
//! Every test uses its own public host (`oidc-doctor-<row>-<pid>.example.test`), so rows
//! running in parallel on the one moto server of this test process never share a provider.

mod doctor_support;
mod support;
#[allow(dead_code)] // the thumbprint tests use the rest of it
mod tls_server;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use doctor_support::{discovery, fake_api_server, jwks, ApiState, HttpsServer, Reply, SigningKey};
use serde_json::{json, Value};
use support::*;
use tls_server::Ca;

const ACCOUNT: &str = "123456789012";
const AUDIENCE: &str = "sts.amazonaws.com";
const SERVICE_ACCOUNT: &str = "shop/api";
const SUBJECT: &str = "system:serviceaccount:shop:api";
const NO_KEY: &str =
    "InvalidIdentityToken: Couldn't retrieve verification key from your identity provider";
const ACCESS_DENIED: &str = "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity";
const INCORRECT_AUDIENCE: &str = "InvalidIdentityToken: Incorrect token audience";
const THUMBPRINT: &str = "InvalidIdentityToken: OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint";
const EXPIRED: &str = "ExpiredToken";

/// The cluster's signing key: one per test process (RSA key generation is not free).
fn cluster_key() -> Arc<SigningKey> {
    static KEY: OnceLock<Arc<SigningKey>> = OnceLock::new();
    KEY.get_or_init(|| Arc::new(SigningKey::generate())).clone()
}

fn sha1_hex(der: &[u8]) -> String {
    use sha1::Digest as _;
    sha1::Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A working IRSA setup, ready to break.
struct Setup {
    host: String,
    /// `https://<host><path>`.
    issuer: String,
    /// `<host><path>`: the provider URL and the condition keys' prefix.
    host_path: String,
    root: Ca,
    intermediate: Ca,
    /// What the public host serves, by request path.
    served: Arc<Mutex<BTreeMap<String, Reply>>>,
    docs: HttpsServer,
    api: Arc<Mutex<ApiState>>,
    _api_server: HttpsServer,
    dir: tempfile::TempDir,
    /// The environment (moto's endpoint and test credentials); the flags are in `flags`.
    cmd: TestCommand,
    /// `doctor`'s flags, each at most once (a row replaces one with [`Setup::set`]).
    flags: Vec<(String, String)>,
    role_name: String,
    role_arn: String,
    provider_arn: String,
}

impl Setup {
    fn new(name: &str) -> Setup {
        // A DNS label holds at most 63 characters.
        let label: String = name.chars().take(40).collect();
        let host = format!(
            "oidc-doctor-{}-{}.example.test",
            label.trim_end_matches('-'),
            std::process::id()
        );
        Setup::with_issuer(name, &host, "/c1")
    }

    /// A working setup whose issuer is `https://<host><path>`.
    fn with_issuer(name: &str, host: &str, path: &str) -> Setup {
        let issuer = format!("https://{host}{path}");
        let host_path = format!("{host}{path}");
        let key = cluster_key();

        // The public host: root → intermediate → leaf; it serves leaf + intermediate, so the
        // thumbprint IAM compares is the intermediate's.
        let root = Ca::root("kop doctor test root");
        let intermediate = root.intermediate("kop doctor test intermediate");
        let leaf = intermediate.leaf_with(&[host], (2100, 1, 1));
        let documents = |jwks_body: Vec<u8>| {
            let mut served = BTreeMap::new();
            served.insert(
                format!("{path}/.well-known/openid-configuration"),
                Reply::json(discovery(&issuer)).header("cache-control", "public, max-age=300"),
            );
            served.insert(
                format!("{path}/openid/v1/jwks"),
                Reply::json(jwks_body).header("cache-control", "public, max-age=300"),
            );
            served
        };
        let served = Arc::new(Mutex::new(documents(jwks(&[key.public_jwk()]))));
        let lookup = served.clone();
        let docs = HttpsServer::start(
            &leaf,
            &[&intermediate.der],
            Arc::new(move |req| {
                lookup
                    .lock()
                    .unwrap()
                    .get(&req.path)
                    .cloned()
                    .unwrap_or_else(|| Reply::new(404, "<Error><Code>NoSuchKey</Code></Error>"))
            }),
        );

        // The cluster: same issuer, same key, one annotated ServiceAccount.
        let role_name = format!("doctor-{name}-{}", std::process::id());
        let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role_name}");
        let api_ca = Ca::root("kop doctor test API server CA");
        let mut annotations = BTreeMap::new();
        annotations.insert("eks.amazonaws.com/role-arn".to_owned(), role_arn.clone());
        let api = Arc::new(Mutex::new(ApiState {
            issuer: issuer.clone(),
            jwks: jwks(&[key.public_jwk()]),
            service_accounts: [(SERVICE_ACCOUNT.to_owned(), annotations)].into(),
            bearer: format!("doctor-admin-{name}"),
        }));
        let api_server = fake_api_server(&api_ca.leaf(), key, api.clone());

        let (dir, mut cmd) = setup(&format!("doctor-{name}"));
        let kubeconfig = write_kubeconfig_spec(
            &dir.path().join("kubeconfig"),
            &KubeconfigSpec {
                server: format!("https://127.0.0.1:{}", api_server.port()),
                ca_pem: Some(api_ca.pem.clone()),
                token: Some(format!("doctor-admin-{name}")),
                insecure_skip_tls_verify: false,
                context: "doctor".into(),
                namespace: None,
            },
        );
        let ca_file = dir.path().join("public-root.pem");
        std::fs::write(&ca_file, &root.pem).unwrap();

        // AWS: the provider with the right thumbprint and audience, and the role.
        let provider_arn = moto().create_provider(
            &issuer,
            &[AUDIENCE],
            Some(&[&sha1_hex(&intermediate.der)]),
            &[],
        );
        let setup_role = moto().iam_client().create_role().role_name(&role_name);
        let policy = trust_policy(&provider_arn, good_condition(&host_path));
        moto()
            .block_on(setup_role.assume_role_policy_document(policy).send())
            .expect("create the role");

        cmd.moto(moto());
        let flags = [
            ("--output", "json".to_owned()),
            ("--issuer", issuer.clone()),
            (
                "--connect-to",
                format!("{host}:443:127.0.0.1:{}", docs.port()),
            ),
            ("--ca-file", ca_file.display().to_string()),
            ("--kubeconfig", kubeconfig.display().to_string()),
            ("--service-account", SERVICE_ACCOUNT.to_owned()),
            ("--role-arn", role_arn.clone()),
        ]
        .into_iter()
        .map(|(flag, value)| (flag.to_owned(), value))
        .collect();
        Setup {
            host: host.to_owned(),
            issuer,
            host_path,
            root,
            intermediate,
            served,
            docs,
            api,
            _api_server: api_server,
            dir,
            cmd,
            flags,
            role_name,
            role_arn,
            provider_arn,
        }
    }

    /// Changes what the public host answers for the document whose path ends in `suffix`.
    fn serve(&self, suffix: &str, change: impl FnOnce(Reply) -> Reply) {
        let mut served = self.served.lock().unwrap();
        let (path, reply) = served
            .iter()
            .find(|(path, _)| path.ends_with(suffix))
            .map(|(p, r)| (p.clone(), r.clone()))
            .expect("a served document");
        served.insert(path, change(reply));
    }

    fn set_trust_policy(&self, policy: String) {
        let request = moto()
            .iam_client()
            .update_assume_role_policy()
            .role_name(&self.role_name)
            .policy_document(policy);
        moto()
            .block_on(request.send())
            .expect("update the trust policy");
    }

    /// The working trust policy with another Federated principal and condition.
    fn trust(&self, federated: &str, condition: Value) {
        self.set_trust_policy(trust_policy(federated, condition));
    }

    /// Replaces the provider with one for `url`, these client IDs and this thumbprint.
    fn replace_provider(&mut self, url: &str, client_ids: &[&str], thumbprint: &str) {
        moto().delete_provider(&self.provider_arn);
        self.provider_arn = moto().create_provider(url, client_ids, Some(&[thumbprint]), &[]);
    }

    fn thumbprint(&self) -> String {
        sha1_hex(&self.intermediate.der)
    }

    /// Publishes through an S3 bucket configured as bootstrap configures it (Block Public
    /// Access allowing a public policy, ACLs disabled) and passes `--store s3://BUCKET/c1`;
    /// with `public_read`, its policy grants anonymous s3:GetObject on both documents. The
    /// documents themselves are still served by the loopback host: moto does not serve
    /// anonymous GETs as S3 does, and step 6 reads only the bucket's configuration.
    fn use_bucket(&mut self, public_read: bool) -> String {
        use aws_sdk_s3::types::{
            ObjectOwnership, OwnershipControls, OwnershipControlsRule,
            PublicAccessBlockConfiguration,
        };
        // The harness's helper: <account>.s3-control.kop.test must resolve to loopback.
        support::moto::ensure_s3_control_host();
        let bucket = moto().new_bucket("doctor");
        let s3 = moto().client();
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(false)
            .restrict_public_buckets(false)
            .build();
        let ownership = OwnershipControls::builder()
            .rules(
                OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        moto()
            .block_on(
                s3.put_public_access_block()
                    .bucket(&bucket)
                    .public_access_block_configuration(block)
                    .send(),
            )
            .expect("put the bucket's Public Access Block");
        moto()
            .block_on(
                s3.put_bucket_ownership_controls()
                    .bucket(&bucket)
                    .ownership_controls(ownership)
                    .send(),
            )
            .expect("put the bucket's ownership controls");
        if public_read {
            let policy = json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "KubeOidcPublisherPublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [
                    format!("arn:aws:s3:::{bucket}/c1/.well-known/openid-configuration"),
                    format!("arn:aws:s3:::{bucket}/c1/openid/v1/jwks"),
                ],
            }]});
            moto()
                .block_on(
                    s3.put_bucket_policy()
                        .bucket(&bucket)
                        .policy(policy.to_string())
                        .send(),
                )
                .expect("put the bucket policy");
        }
        self.cmd
            .env("AWS_ENDPOINT_URL_S3_CONTROL", moto().s3_control_endpoint());
        self.set("--store", format!("s3://{bucket}/c1"));
        self.set("--s3-path-style", "");
        bucket
    }

    /// Sets a flag, replacing its value if it is already there (`""`: a flag without value).
    fn set(&mut self, flag: &str, value: impl Into<String>) {
        let value = value.into();
        match self.flags.iter_mut().find(|(f, _)| f == flag) {
            Some((_, v)) => *v = value,
            None => self.flags.push((flag.to_owned(), value)),
        }
    }

    fn unset(&mut self, flag: &str) {
        self.flags.retain(|(f, _)| f != flag);
    }

    /// Writes `token` to a file and passes it with `--token`.
    fn token_file(&mut self, token: &str) {
        let path = self.dir.path().join("token.jwt");
        std::fs::write(&path, token).unwrap();
        self.set("--token", path.display().to_string());
    }

    /// `kube-oidc-publisher doctor` with the flags, in the setup's environment.
    fn command(&self) -> TestCommand {
        let mut cmd = self.cmd.clone();
        cmd.arg("doctor");
        for (flag, value) in &self.flags {
            cmd.arg(flag);
            if !value.is_empty() {
                cmd.arg(value);
            }
        }
        cmd
    }

    /// Runs doctor, expecting `exit`; returns the JSON report.
    fn run(&self, exit: i32) -> Value {
        let output = self.command().assert_exit(exit);
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                stdout_str(&output),
                stderr_str(&output)
            )
        })
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // Leave moto as the row found it; other rows use other names anyway.
        let _ = moto().block_on(
            moto()
                .iam_client()
                .delete_role()
                .role_name(&self.role_name)
                .send(),
        );
        moto().delete_provider(&self.provider_arn);
    }
}

/// A trust policy for web identity federation with one statement.
fn trust_policy(federated: &str, condition: Value) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": federated},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }]
    })
    .to_string()
}

fn finding<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no finding {check} in {report:#}"))
}

/// `(check, sts_error)` of every error, in report order.
fn errors(report: &Value) -> Vec<(String, Option<String>)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_owned(),
                f["sts_error"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// The STS error a row expects.
#[derive(Clone, Copy, Debug)]
enum Sts {
    None,
    Is(&'static str),
    /// `No OpenIDConnect provider found in your account for <the setup's issuer>`.
    NoProvider,
}

/// One broken variant of the working setup.
struct Row {
    name: &'static str,
    /// How this row breaks the working setup.
    breaks: fn(&mut Setup),
    /// The finding it must produce, and its severity.
    check: &'static str,
    severity: &'static str,
    sts: Sts,
    /// Every error check of the report, in order (empty for a warning row, which exits 0).
    errors: &'static [&'static str],
    /// A phrase the finding's message must contain.
    says: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        name: "api_server_signs_with_another_issuer",
        breaks: |s| s.api.lock().unwrap().issuer = "https://kubernetes.default.svc".into(),
        check: "issuer.api_server",
        severity: "error",
        sts: Sts::Is(
            "InvalidIdentityToken: No OpenIDConnect provider found in your account for https://kubernetes.default.svc",
        ),
        errors: &["issuer.api_server", "token.issuer"],
        says: "signs tokens with issuer \"https://kubernetes.default.svc\"",
    },
    Row {
        name: "provider_missing",
        breaks: |s| moto().delete_provider(&s.provider_arn),
        check: "iam.provider",
        severity: "error",
        sts: Sts::NoProvider,
        errors: &["iam.provider"],
        says: "IAM has no OIDC provider",
    },
    Row {
        name: "provider_url_with_a_trailing_slash",
        breaks: |s| {
            let url = format!("{}/", s.issuer);
            let thumbprint = s.thumbprint();
            s.replace_provider(&url, &[AUDIENCE], &thumbprint);
        },
        check: "iam.provider",
        severity: "error",
        sts: Sts::NoProvider,
        errors: &["iam.provider"],
        says: "/c1/\"",
    },
    Row {
        name: "audience_not_in_client_ids",
        breaks: |s| {
            let (issuer, thumbprint) = (s.issuer.clone(), s.thumbprint());
            s.replace_provider(&issuer, &["vault.example"], &thumbprint);
        },
        check: "iam.client_ids",
        severity: "error",
        sts: Sts::Is(INCORRECT_AUDIENCE),
        errors: &["iam.client_ids"],
        says: "vault.example",
    },
    Row {
        name: "kid_missing_from_the_public_jwks",
        // The public JWKS still holds only an old key; the API server signs with a new one.
        breaks: |s| {
            s.serve("/openid/v1/jwks", |r| Reply {
                body: fixture("jwks-rsa.json"),
                ..r
            })
        },
        check: "keys.api_server",
        severity: "error",
        sts: Sts::Is(NO_KEY),
        errors: &["keys.api_server", "token.kid"],
        says: "public JWKS lacks",
    },
    Row {
        name: "public_get_answers_403",
        breaks: |s| {
            s.serve("/.well-known/openid-configuration", |_| {
                Reply::new(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
                    .header("content-type", "application/xml")
            })
        },
        check: "discovery.fetch",
        severity: "error",
        sts: Sts::Is(NO_KEY),
        errors: &["discovery.fetch"],
        says: "answered 403",
    },
    Row {
        name: "a_redirect",
        breaks: |s| {
            let to = format!("{}/moved/.well-known/openid-configuration", s.issuer);
            s.serve("/.well-known/openid-configuration", |_| {
                Reply::new(301, "").header("location", &to)
            })
        },
        check: "discovery.fetch",
        severity: "error",
        sts: Sts::Is(NO_KEY),
        errors: &["discovery.fetch"],
        says: "answered 301 redirecting to https://",
    },
    Row {
        name: "a_six_second_response",
        breaks: |s| {
            s.serve("/.well-known/openid-configuration", |r| {
                r.delay(Duration::from_secs(6))
            })
        },
        check: "discovery.fetch",
        severity: "error",
        sts: Sts::Is(NO_KEY),
        errors: &["discovery.fetch"],
        says: "no complete answer within 5 s",
    },
    Row {
        name: "cache_control_no_cache",
        breaks: |s| s.serve("/openid/v1/jwks", |r| r.header("cache-control", "no-cache")),
        check: "jwks.cache_control",
        severity: "warning",
        sts: Sts::Is(NO_KEY),
        errors: &[],
        says: "throttled",
    },
    Row {
        name: "wrong_thumbprint_behind_a_private_ca",
        breaks: |s| {
            let (issuer, stale) = (s.issuer.clone(), sha1_hex(&s.root.der));
            s.replace_provider(&issuer, &[AUDIENCE], &stale);
        },
        check: "iam.thumbprint",
        severity: "error",
        sts: Sts::Is(THUMBPRINT),
        errors: &["iam.thumbprint"],
        says: "does not lead to a publicly trusted root",
    },
    Row {
        name: "trust_policy_federated_arn_of_another_account",
        breaks: |s| {
            let other = format!("arn:aws:iam::999999999999:oidc-provider/{}", s.host_path);
            s.trust(&other, good_condition(&s.host_path));
        },
        check: "role.principal",
        severity: "error",
        sts: Sts::Is(ACCESS_DENIED),
        errors: &["role.principal"],
        says: "its own account 123456789012",
    },
    Row {
        name: "trust_policy_federated_arn_of_another_partition",
        breaks: |s| {
            let other = format!("arn:aws-cn:iam::{ACCOUNT}:oidc-provider/{}", s.host_path);
            s.trust(&other, good_condition(&s.host_path));
        },
        check: "role.principal",
        severity: "error",
        sts: Sts::Is(ACCESS_DENIED),
        errors: &["role.principal"],
        says: "partition is aws-cn",
    },
    Row {
        name: "trust_policy_https_inside_a_condition_key",
        breaks: |s| {
            let hp = s.host_path.clone();
            s.trust(
                &s.provider_arn,
                json!({"StringEquals": {
                    format!("https://{hp}:sub"): SUBJECT,
                    format!("{hp}:aud"): AUDIENCE,
                }}),
            );
        },
        check: "role.condition_keys",
        severity: "error",
        sts: Sts::Is(ACCESS_DENIED),
        errors: &["role.condition_keys"],
        says: "without https://",
    },
    Row {
        name: "trust_policy_trailing_slash_in_a_condition_key",
        breaks: |s| {
            let hp = s.host_path.clone();
            s.trust(
                &s.provider_arn,
                json!({"StringEquals": {
                    format!("{hp}:sub"): SUBJECT,
                    format!("{hp}/:aud"): AUDIENCE,
                }}),
            );
        },
        check: "role.condition_keys",
        severity: "error",
        sts: Sts::Is(ACCESS_DENIED),
        errors: &["role.condition_keys"],
        says: "trailing slash",
    },
    Row {
        name: "trust_policy_another_clusters_host_path",
        breaks: |s| {
            let hp = s.host_path.clone();
            let other = format!("{}/other-cluster", s.host);
            s.trust(
                &s.provider_arn,
                json!({"StringEquals": {
                    format!("{other}:sub"): SUBJECT,
                    format!("{hp}:aud"): AUDIENCE,
                }}),
            );
        },
        check: "role.condition_keys",
        severity: "error",
        sts: Sts::Is(ACCESS_DENIED),
        errors: &["role.condition_keys"],
        says: "another issuer",
    },
    Row {
        name: "trust_policy_sub_of_another_service_account",
        breaks: |s| {
            let hp = s.host_path.clone();
            s.trust(
                &s.provider_arn,
                json!({"StringEquals": {
                    format!("{hp}:sub"): "system:serviceaccount:shop:worker",
                    format!("{hp}:aud"): AUDIENCE,
                }}),
            );
        },
        check: "role.sub",
        severity: "error",
        sts: Sts::Is(ACCESS_DENIED),
        errors: &["role.sub"],
        says: "system:serviceaccount:shop:api",
    },
    Row {
        name: "trust_policy_string_like_wildcard",
        breaks: |s| {
            let hp = s.host_path.clone();
            s.trust(
                &s.provider_arn,
                json!({
                    "StringEquals": {format!("{hp}:aud"): AUDIENCE},
                    "StringLike": {format!("{hp}:sub"): "system:serviceaccount:shop:*"},
                }),
            );
        },
        check: "role.sub",
        severity: "warning",
        sts: Sts::None,
        errors: &[],
        says: "wildcard",
    },
    Row {
        name: "s3_bucket_without_a_public_read_policy",
        breaks: |s| {
            s.use_bucket(false);
        },
        check: "s3.bucket_policy",
        severity: "error",
        sts: Sts::Is(NO_KEY),
        errors: &["s3.bucket_policy"],
        says: "has no bucket policy",
    },
    Row {
        name: "a_token_signed_by_a_key_that_is_not_published",
        breaks: |s| {
            let stranger = SigningKey::generate();
            let token = stranger.token(&s.issuer, SUBJECT, &[AUDIENCE], 3600);
            s.token_file(&token);
        },
        check: "token.kid",
        severity: "error",
        sts: Sts::Is(NO_KEY),
        errors: &["token.kid"],
        says: "does not hold",
    },
];

fn good_condition(host_path: &str) -> Value {
    json!({"StringEquals": {
        format!("{host_path}:sub"): SUBJECT,
        format!("{host_path}:aud"): AUDIENCE,
    }})
}

/// Builds the working setup, breaks it as the row says, runs doctor and checks the report.
fn run_row(name: &str) {
    let row = ROWS
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name}"));
    let mut setup = Setup::new(&name.replace('_', "-"));
    (row.breaks)(&mut setup);
    let exit = if row.errors.is_empty() { 0 } else { 1 };
    let report = setup.run(exit);
    let f = finding(&report, row.check);
    assert_eq!(f["severity"], row.severity, "{name}: {f:#}");
    let expected_sts = match row.sts {
        Sts::None => None,
        Sts::Is(s) => Some(s.to_owned()),
        Sts::NoProvider => Some(format!(
            "InvalidIdentityToken: No OpenIDConnect provider found in your account for {}",
            setup.issuer
        )),
    };
    assert_eq!(
        f["sts_error"].as_str().map(str::to_owned),
        expected_sts,
        "{name}: {f:#}"
    );
    assert!(
        f["message"].as_str().unwrap().contains(row.says),
        "{name}: the message should say {:?}: {f:#}",
        row.says
    );
    assert!(
        f["fix"].as_str().is_some_and(|fix| !fix.is_empty()),
        "{name}: {f:#}"
    );
    let error_checks: Vec<String> = errors(&report).into_iter().map(|(c, _)| c).collect();
    assert_eq!(error_checks, row.errors, "{name}: {report:#}");
    assert_eq!(report["exit_code"], exit, "{name}");
    assert_eq!(
        report["status"],
        if exit == 0 { "pass" } else { "fail" },
        "{name}"
    );
}

macro_rules! rows {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_row(stringify!($name));
            }
        )*
        const ROW_TESTS: &[&str] = &[$(stringify!($name)),*];
    };
}

rows!(
    api_server_signs_with_another_issuer,
    provider_missing,
    provider_url_with_a_trailing_slash,
    audience_not_in_client_ids,
    kid_missing_from_the_public_jwks,
    public_get_answers_403,
    a_redirect,
    a_six_second_response,
    cache_control_no_cache,
    wrong_thumbprint_behind_a_private_ca,
    trust_policy_federated_arn_of_another_account,
    trust_policy_federated_arn_of_another_partition,
    trust_policy_https_inside_a_condition_key,
    trust_policy_trailing_slash_in_a_condition_key,
    trust_policy_another_clusters_host_path,
    trust_policy_sub_of_another_service_account,
    trust_policy_string_like_wildcard,
    s3_bucket_without_a_public_read_policy,
    a_token_signed_by_a_key_that_is_not_published,
);

#[test]
fn every_row_has_a_test() {
    let rows: Vec<&str> = ROWS.iter().map(|r| r.name).collect();
    assert_eq!(rows, ROW_TESTS);
}

#[test]
fn a_working_setup_is_reported_clean() {
    let setup = Setup::new("clean");
    let report = setup.run(0);
    assert_eq!(report["status"], "pass", "{report:#}");
    assert_eq!(report["issuer"], setup.issuer);
    for f in report["findings"].as_array().unwrap() {
        let check = f["check"].as_str().unwrap();
        let expected = if check.starts_with("s3.") {
            "skipped"
        } else {
            "ok"
        };
        assert_eq!(f["severity"], expected, "{f:#}");
        assert_eq!(f["sts_error"], Value::Null, "{f:#}");
    }
    // The thumbprint was compared (a private CA), the token was minted and verified.
    assert!(
        finding(&report, "iam.thumbprint")["message"]
            .as_str()
            .unwrap()
            .contains(&setup.thumbprint()),
        "{report:#}"
    );
    assert!(finding(&report, "token.kid")["message"]
        .as_str()
        .unwrap()
        .contains("TokenRequest for shop/api"));
    // Exactly the two GETs STS makes, anonymously.
    let requests = setup.docs.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/c1/.well-known/openid-configuration", "/c1/openid/v1/jwks"]
    );
    for request in &requests {
        assert_eq!(request.method, "GET");
        assert_eq!(request.header("authorization"), None, "{request:?}");
        assert_eq!(request.header("cookie"), None, "{request:?}");
    }
    assert!(
        finding(&report, "serviceaccount.annotation")["message"]
            .as_str()
            .unwrap()
            .contains(&setup.role_arn),
        "{report:#}"
    );
    // Doctor writes nothing to IAM.
    let iam = moto().iam_requests(&setup.issuer);
    assert_eq!(iam.writes(), 0, "{:?}", iam.counts());
}

#[test]
fn an_s3_store_configured_as_bootstrap_does_it_is_clean() {
    let mut setup = Setup::new("s3-clean");
    let bucket = setup.use_bucket(true);
    let report = setup.run(0);
    for check in [
        "s3.public_access_block",
        "s3.account_public_access_block",
        "s3.object_ownership",
        "s3.bucket_policy",
    ] {
        assert_eq!(finding(&report, check)["severity"], "ok", "{report:#}");
    }
    assert_eq!(report["summary"]["error"], 0, "{report:#}");
    assert_eq!(report["summary"]["warning"], 0, "{report:#}");
    assert_eq!(report["summary"]["skipped"], 0, "{report:#}");
    // Read-only: the bucket's request log holds no write.
    let requests = moto().requests(&bucket);
    assert_eq!(requests.writes(), 0, "{:?}", requests.counts());
    assert_eq!(
        requests.count_op("GET", "", "policy"),
        1,
        "{:?}",
        requests.counts()
    );
}

#[test]
fn the_text_report_names_the_sts_error_and_the_fix() {
    let mut setup = Setup::new("text");
    moto().delete_provider(&setup.provider_arn);
    setup.set("--output", "text");
    let output = setup.command().assert_exit(1);
    let text = stdout_str(&output);
    assert!(
        text.starts_with(&format!("doctor: issuer {}\n", setup.issuer)),
        "{text}"
    );
    assert!(text.contains("5. IAM OIDC provider"), "{text}");
    assert!(
        text.contains(&format!(
            "STS: InvalidIdentityToken: No OpenIDConnect provider found in your account for {}",
            setup.issuer
        )),
        "{text}"
    );
    assert!(text.contains("fix: run sync without --no-iam"), "{text}");
    assert!(text.trim_end().ends_with("(exit 1)"), "{text}");
    assert!(
        !text.contains("eyJ"),
        "the token never appears in the output: {text}"
    );
}

#[test]
fn an_issuer_with_a_trailing_slash_is_the_first_finding() {
    let mut setup = Setup::new("issuer-slash");
    let with_slash = format!("{}/", setup.issuer);
    setup.set("--issuer", with_slash.clone());
    let report = setup.run(1);
    let first = &errors(&report)[0];
    assert_eq!(
        first,
        &(
            "issuer.format".to_owned(),
            Some(format!(
                "InvalidIdentityToken: No OpenIDConnect provider found in your account for {with_slash}"
            ))
        ),
        "{report:#}"
    );
    assert!(finding(&report, "issuer.format")["message"]
        .as_str()
        .unwrap()
        .contains("trailing slash"));
}

#[test]
fn an_expired_token_recorded_from_a_real_api_server() {
    // The recorded token: issuer https://oidc.example.test/cluster-a, signed by the recorded
    // RSA key, expired since 2026-11-22. The public JWKS holds that key beside the cluster's.
    let mut setup = Setup::with_issuer("expired", "oidc.example.test", "/cluster-a");
    let recorded: Value = serde_json::from_slice(&fixture("jwks-rsa.json")).unwrap();
    let mut keys = recorded["keys"].as_array().unwrap().clone();
    keys.push(cluster_key().public_jwk());
    setup.serve("/openid/v1/jwks", |r| Reply {
        body: jwks(&keys),
        ..r
    });
    setup.token_file(fixture_str("token-rsa.jwt").trim());
    let report = setup.run(1);
    assert_eq!(
        errors(&report),
        [("token.expiry".to_owned(), Some(EXPIRED.to_owned()))],
        "{report:#}"
    );
    let f = finding(&report, "token.expiry");
    assert!(
        f["message"].as_str().unwrap().contains("2026-11-22"),
        "{f:#}"
    );
    assert_eq!(
        finding(&report, "token.signature")["severity"],
        "ok",
        "{report:#}"
    );
}

#[test]
fn checks_without_their_inputs_are_skipped_with_what_to_pass() {
    let setup = Setup::new("bare");
    let (_dir, mut cmd) = support::setup("doctor-bare");
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["doctor", "--output", "json", "--issuer", &setup.issuer])
        .args([
            "--connect-to",
            &format!("{}:443:127.0.0.1:{}", setup.host, setup.docs.port()),
        ])
        .arg("--ca-file")
        .arg(setup.dir.path().join("public-root.pem"));
    let output = cmd.assert_exit(0);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "pass", "{report:#}");
    for (check, pass) in [
        ("issuer.api_server", "--kubeconfig"),
        ("token.kid", "--token FILE"),
        ("iam.provider", "AWS credentials"),
        ("s3.bucket_policy", "--store s3://"),
        ("role.sub", "--role-arn"),
        ("serviceaccount.annotation", "--service-account"),
    ] {
        let f = finding(&report, check);
        assert_eq!(f["severity"], "skipped", "{f:#}");
        assert_eq!(f["could_not_run"], false, "{f:#}");
        assert!(f["fix"].as_str().unwrap().contains(pass), "{f:#}");
    }
    assert_eq!(
        finding(&report, "jwks.keys")["severity"],
        "ok",
        "{report:#}"
    );
}

#[test]
fn an_unreachable_api_server_makes_the_report_incomplete() {
    let mut setup = Setup::new("unreachable");
    let kubeconfig = write_kubeconfig_spec(
        &setup.dir.path().join("unreachable-kubeconfig"),
        &KubeconfigSpec {
            server: unreachable_url(),
            ca_pem: Some(untrusted_ca_pem()),
            token: Some("x".into()),
            insecure_skip_tls_verify: false,
            context: "gone".into(),
            namespace: None,
        },
    );
    setup.set("--kubeconfig", kubeconfig.display().to_string());
    setup.set("--timeout", "3");
    let report = setup.run(2);
    assert_eq!(report["status"], "incomplete", "{report:#}");
    assert_eq!(errors(&report), [], "{report:#}");
    let f = finding(&report, "issuer.api_server");
    assert_eq!(f["could_not_run"], true, "{f:#}");
    assert!(
        f["message"].as_str().unwrap().contains("cannot reach"),
        "{f:#}"
    );
}

#[test]
fn a_private_ca_without_ca_file_is_not_a_verdict() {
    // STS can still accept the host through the thumbprint: doctor says it could not check.
    let mut setup = Setup::new("no-ca-file");
    setup.unset("--ca-file");
    let report = setup.run(2);
    assert_eq!(report["status"], "incomplete", "{report:#}");
    let f = finding(&report, "discovery.fetch");
    assert_eq!(f["severity"], "skipped", "{f:#}");
    assert_eq!(f["could_not_run"], true, "{f:#}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("issuer is not trusted"),
        "{f:#}"
    );
    assert!(f["fix"].as_str().unwrap().contains("--ca-file"), "{f:#}");
    assert_eq!(errors(&report), [], "{report:#}");
}

#[test]
fn doctor_that_cannot_start_exits_2_with_a_json_error() {
    let (_dir, mut cmd) = support::setup("doctor-no-token");
    cmd.env("AWS_EC2_METADATA_DISABLED", "true").args([
        "doctor",
        "--output",
        "json",
        "--issuer",
        "https://oidc.example.test/c1",
        "--token",
        "missing.jwt",
    ]);
    let output = cmd.assert_exit(2);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "error");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("cannot read --token missing.jwt"),
        "{report:#}"
    );
    assert!(stderr_str(&output).contains("error: cannot read --token"));
}

#[test]
fn ca_file_certificate_cannot_be_a_trust_anchor_is_reported_not_dropped() {
    // Issue #14: doctor silently dropped a --ca-file certificate it could not parse, while
    // thumbprint and sync reported it. A garbled CA beside a good one is now the same error.
    let mut setup = Setup::new("garbled-ca");
    let ca_file = setup.dir.path().join("garbled-ca.pem");
    let garbled = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    std::fs::write(&ca_file, format!("{}{garbled}", setup.root.pem)).unwrap();
    setup.set("--ca-file", ca_file.display().to_string());
    let output = setup.command().assert_exit(2);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "error", "{report:#}");
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains("garbled-ca.pem: certificate 2 cannot be a trust anchor"),
        "{report:#}"
    );
    assert!(
        stderr_str(&output).contains("certificate 2 cannot be a trust anchor"),
        "{}",
        stderr_str(&output)
    );
}

#[test]
fn http_issuer_skips_the_iam_checks_that_depend_on_issuer_format() {
    // Issue #14: after the format error, doctor still looked up the IAM provider for the
    // http:// URL and suggested `aws iam create-open-id-connect-provider --url http://…`,
    // a command IAM refuses. The checks built on the issuer now say what they depend on.
    let mut setup = Setup::new("http-issuer");
    let http = setup.issuer.replacen("https://", "http://", 1);
    setup.set("--issuer", http.clone());
    let report = setup.run(1);
    assert_eq!(errors(&report)[0].0, "issuer.format", "{report:#}");
    for check in [
        "iam.provider",
        "iam.client_ids",
        "iam.thumbprint",
        "role.principal",
        "role.condition_keys",
    ] {
        let f = finding(&report, check);
        assert_eq!(f["severity"], "skipped", "{f:#}");
        assert_eq!(
            f["message"], "skipped: depends on issuer.format, which failed",
            "{f:#}"
        );
        assert_eq!(f["fix"], "fix issuer.format first", "{f:#}");
    }
    let text = report.to_string();
    assert!(
        !text.contains("create-open-id-connect-provider"),
        "no command IAM refuses: {report:#}"
    );
}

#[test]
fn without_a_token_iam_client_ids_names_the_audience_flag_not_the_tokens_audience() {
    // Issue #14: with no --token and no --service-account, iam.client_ids spoke of "the
    // token's audience" although no token was read.
    let mut setup = Setup::new("no-token-aud");
    setup.unset("--service-account");
    let (issuer, thumbprint) = (setup.issuer.clone(), setup.thumbprint());
    setup.replace_provider(&issuer, &["vault.example"], &thumbprint);
    let report = setup.run(1);
    let f = finding(&report, "iam.client_ids");
    assert_eq!(f["severity"], "error", "{f:#}");
    assert_eq!(f["sts_error"], INCORRECT_AUDIENCE, "{f:#}");
    let message = f["message"].as_str().unwrap();
    assert!(!message.contains("token's audience"), "{f:#}");
    assert!(
        message.contains("the audience [\"sts.amazonaws.com\"] (--audience; no token was given"),
        "{f:#}"
    );
}
