//! `doctor` during a move to another issuer (issue #13), through the real binary: the cluster
//! publishes the old issuer to a directory store and `issuer prepare` adds the new one (the
//! fake kube-apiserver serves whichever issuer it "signs with", moto's IAM holds the providers
//! and the roles, as in tests/issuer_migration.rs). Each store is served over TLS from a
//! private CA on loopback, reached with `--connect-to`, so doctor reads both issuers'
//! documents anonymously as STS would. Doctor runs with the old store's options, as sync does:
//! a token of the new issuer verifies against the new issuer's documents and provider, and a
//! role that trusts one side only is named with the pods that break and when.

mod doctor_support;
mod support;
#[allow(dead_code)] // doctor_support's HTTPS server uses it
mod tls_server;

use std::path::PathBuf;
use std::sync::Arc;

use doctor_support::{HttpsServer, Reply, SigningKey};
use serde_json::{json, Value};
use support::*;
use tls_server::Ca;

const ACCOUNT: &str = "123456789012";
const SUBJECT: &str = "system:serviceaccount:shop:api";
const ACCESS_DENIED: &str = "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity";

fn host_path(issuer: &str) -> &str {
    issuer.trim_start_matches("https://")
}

fn host(issuer: &str) -> &str {
    host_path(issuer).split('/').next().unwrap()
}

fn provider_arn(issuer: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{}", host_path(issuer))
}

fn sha1_hex(der: &[u8]) -> String {
    use sha1::Digest as _;
    sha1::Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the API server serves while it signs with `issuer`.
fn serving(key: &SigningKey, issuer: &str) -> Scenario {
    Scenario::Custom {
        jwks: serde_json::to_vec(&json!({ "keys": [key.public_jwk()] })).unwrap(),
        discovery: serde_json::to_vec(&json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
        .unwrap(),
    }
}

/// Serves the files of `store` under the issuer's path `/c1/`, as a web server in front of a
/// directory store would.
fn serve_store(leaf: &tls_server::Leaf, intermediate: &Ca, store: PathBuf) -> HttpsServer {
    HttpsServer::start(
        leaf,
        &[&intermediate.der],
        Arc::new(move |req| {
            let file = req
                .path
                .strip_prefix("/c1/")
                .filter(|rest| !rest.contains(".."))
                .map(|rest| store.join(rest));
            match file.and_then(|f| std::fs::read(f).ok()) {
                Some(body) => Reply::json(body).header("cache-control", "public, max-age=300"),
                None => Reply::new(404, "not found"),
            }
        }),
    )
}

/// A trust policy with one statement per issuer given.
fn trusting(issuers: &[&str]) -> String {
    let statements: Vec<Value> = issuers
        .iter()
        .map(|issuer| {
            let hp = host_path(issuer);
            json!({
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn(issuer)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    format!("{hp}:sub"): SUBJECT,
                    format!("{hp}:aud"): "sts.amazonaws.com",
                }},
            })
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn finding<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no finding {check} in {report:#}"))
}

fn errors(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["check"].as_str().unwrap().to_owned())
        .collect()
}

struct World {
    dir: tempfile::TempDir,
    cmd: TestCommand,
    server: FakeApiServer,
    key: SigningKey,
    kubeconfig: PathBuf,
    old_store: PathBuf,
    new_store: PathBuf,
    old: String,
    new: String,
    thumbprint: String,
    connect_to: Vec<String>,
    ca_file: PathBuf,
    roles: Vec<String>,
    _docs: Vec<HttpsServer>,
}

impl World {
    fn new(name: &str) -> World {
        let id = std::process::id();
        let old = format!("https://old-{name}-{id}.example.test/c1");
        let new = format!("https://new-{name}-{id}.example.test/c1");
        let key = SigningKey::generate();
        let server = FakeApiServer::with_scenario(serving(&key, &old));
        let (dir, mut cmd) = setup(name);
        cmd.moto(moto());
        let kubeconfig = write_kubeconfig(dir.path(), &server);
        let old_store = dir.path().join("old");
        let new_store = dir.path().join("new");
        // Both public hosts: root → intermediate → leaf, the root given with --ca-file, so
        // IAM's view is the thumbprint of the intermediate (the last certificate served).
        let root = Ca::root("kop doctor migration root");
        let intermediate = root.intermediate("kop doctor migration intermediate");
        let ca_file = dir.path().join("public-root.pem");
        std::fs::write(&ca_file, &root.pem).unwrap();
        let mut docs = Vec::new();
        let mut connect_to = Vec::new();
        for (issuer, store) in [(&old, &old_store), (&new, &new_store)] {
            let leaf = intermediate.leaf_with(&[host(issuer)], (2100, 1, 1));
            let served = serve_store(&leaf, &intermediate, store.clone());
            connect_to.push(format!("{}:443:127.0.0.1:{}", host(issuer), served.port()));
            docs.push(served);
        }
        World {
            dir,
            cmd,
            server,
            key,
            kubeconfig,
            old_store,
            new_store,
            old,
            new,
            thumbprint: sha1_hex(&intermediate.der),
            connect_to,
            ca_file,
            roles: Vec::new(),
            _docs: docs,
        }
    }

    /// `words` with the old store's sync options.
    fn run(&self, words: &[&str]) -> TestCommand {
        let mut c = self.cmd.clone();
        c.args(words)
            .arg("--store")
            .arg(&self.old_store)
            .args(["--issuer", &self.old, "--output", "json"])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig);
        c
    }

    fn sync(&self) {
        let mut c = self.run(&["sync"]);
        c.args(["--thumbprint", &self.thumbprint]);
        c.assert_success();
    }

    fn prepare(&self, roles: &[&str]) {
        let mut c = self.run(&["issuer", "prepare"]);
        c.args(["--thumbprint", &self.thumbprint])
            .arg("--new-store")
            .arg(&self.new_store)
            .args(["--new-issuer", &self.new]);
        for role in roles {
            c.args(["--role", role]);
        }
        c.assert_success();
    }

    fn role(&mut self, suffix: &str, policy: &str) -> String {
        let name = format!("{suffix}-{}", std::process::id());
        let request = moto()
            .iam_client()
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(policy);
        moto().block_on(request.send()).expect("CreateRole");
        self.roles.push(name.clone());
        name
    }

    /// doctor as sync runs (the old store and issuer), with a token of `iss` and a role;
    /// returns the JSON report after asserting the exit code.
    fn doctor(&self, iss: &str, role: &str, exit: i32) -> Value {
        let token = self.dir.path().join("token.jwt");
        std::fs::write(
            &token,
            self.key.token(iss, SUBJECT, &["sts.amazonaws.com"], 3600),
        )
        .unwrap();
        let mut c = self.run(&["doctor"]);
        c.arg("--ca-file")
            .arg(&self.ca_file)
            .arg("--token")
            .arg(&token);
        for connect in &self.connect_to {
            c.args(["--connect-to", connect]);
        }
        c.args(["--role-arn", &format!("arn:aws:iam::{ACCOUNT}:role/{role}")]);
        let output = c.assert_exit(exit);
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\nstderr: {}",
                stdout_str(&output),
                stderr_str(&output)
            )
        })
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for role in &self.roles {
            let _ = moto().block_on(moto().iam_client().delete_role().role_name(role).send());
        }
        for issuer in [&self.old, &self.new] {
            moto().delete_provider(&provider_arn(issuer));
        }
    }
}

fn assert_ok(report: &Value, checks: &[&str]) {
    for check in checks {
        let f = finding(report, check);
        assert_eq!(f["severity"], "ok", "{check}: {f:#}");
    }
}

#[test]
fn doctor_judges_each_token_by_its_own_issuer_and_names_a_role_trusting_one_side() {
    let mut w = World::new("doctor-migrate");
    w.sync();
    let (old, new) = (w.old.clone(), w.new.clone());
    let extended = w.role("dm-extended", &trusting(&[&old]));
    let old_only = w.role("dm-old-only", &trusting(&[&old]));
    let new_only = w.role("dm-new-only", &trusting(&[&new]));
    w.prepare(&[&extended]);

    // Step 1: a token of the new issuer passes the key and token checks against the new
    // issuer's own documents, and doctor says which side it belongs to.
    let report = w.doctor(&new, &extended, 0);
    assert_eq!(report["status"], "pass", "{report:#}");
    assert_ok(
        &report,
        &[
            "issuer.api_server",
            "issuer.migration",
            "jwks.keys",
            "jwks.migration",
            "keys.api_server",
            "token.kid",
            "token.signature",
            "token.issuer",
            "iam.provider",
            "iam.thumbprint",
            "iam.migration",
            "role.principal",
            "role.migration",
        ],
    );
    let side = finding(&report, "token.issuer")["message"]
        .as_str()
        .unwrap();
    assert!(
        side.contains(&format!("iss is {new}, the new side")),
        "{side}"
    );
    assert!(finding(&report, "token.kid")["message"]
        .as_str()
        .unwrap()
        .contains(&new));
    assert!(finding(&report, "issuer.migration")["message"]
        .as_str()
        .unwrap()
        .contains("its old side"));

    // A role extended to neither: its pods break at the switch; before it, a warning.
    let report = w.doctor(&old, &old_only, 0);
    let f = finding(&report, "role.migration");
    assert_eq!(f["severity"], "warning", "{f:#}");
    assert_eq!(f["sts_error"], ACCESS_DENIED);
    let fix = f["fix"].as_str().unwrap();
    assert!(
        fix.contains(&format!("--role {old_only}")) && fix.contains("issuer prepare"),
        "{fix}"
    );
    // A pod already holding a token of the new issuer breaks now.
    let report = w.doctor(&new, &old_only, 1);
    assert_eq!(errors(&report), ["role.migration"], "{report:#}");

    // Step 2: the API server signs with the new issuer; sync records the switch.
    w.server.set_scenario(serving(&w.key, &new));
    w.sync();
    let report = w.doctor(&old, &extended, 0);
    assert!(finding(&report, "issuer.api_server")["message"]
        .as_str()
        .unwrap()
        .contains("the new issuer"));
    assert!(finding(&report, "issuer.migration")["message"]
        .as_str()
        .unwrap()
        .contains("switched at"));
    // Every new token carries the new iss now: the old-only role fails.
    let report = w.doctor(&old, &old_only, 1);
    assert_eq!(errors(&report), ["role.migration"], "{report:#}");
    // A role trusting only the new provider fails the pods still on old tokens, until they
    // expire.
    let report = w.doctor(&old, &new_only, 1);
    assert_eq!(
        errors(&report),
        ["role.principal", "role.migration"],
        "{report:#}"
    );
    let message = finding(&report, "role.migration")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains(&format!("not the old issuer {old}"))
            && message.contains("may be alive until"),
        "{message}"
    );

    // A token of neither issuer stays an error.
    let third = format!("https://third-{}.example.test/c1", std::process::id());
    let report = w.doctor(&third, &extended, 1);
    assert!(
        errors(&report).contains(&"token.issuer".to_owned()),
        "{report:#}"
    );

    // The new store's documents gone: its tokens cannot be verified now.
    std::fs::remove_file(w.new_store.join("openid/v1/jwks")).unwrap();
    let report = w.doctor(&new, &extended, 1);
    let f = finding(&report, "jwks.migration");
    assert_eq!(f["severity"], "error", "{f:#}");
    assert!(
        f["message"].as_str().unwrap().contains("answered 404"),
        "{f:#}"
    );
    assert_eq!(finding(&report, "token.kid")["severity"], "skipped");
}

#[test]
fn without_a_migration_doctor_reports_no_migration_check() {
    let mut w = World::new("doctor-no-migrate");
    w.sync();
    let old = w.old.clone();
    let role = w.role("dm-plain", &trusting(&[&old]));
    let report = w.doctor(&old, &role, 0);
    let migration: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().ends_with(".migration"))
        .collect();
    assert!(migration.is_empty(), "{migration:#?}");
    // And the new issuer's token is just another issuer's.
    let new = w.new.clone();
    let report = w.doctor(&new, &role, 1);
    assert!(errors(&report).contains(&"token.issuer".to_owned()));
}
