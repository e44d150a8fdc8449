//! `bootstrap --delete` through the real binary against moto and a fake kube-apiserver:
//! three clusters share a bucket with the owner's own statement; removing one (dry run first)
//! leaves the others' grants, objects, providers and roles and the owner's statement as they
//! were, and a re-run writes nothing; removing the rest leaves the owner's statement alone (or
//! no policy at all); a provider and a role without our tag are kept; a role IAM refuses to
//! delete (DeleteConflict: moto answers as IAM does) says what to detach; a refused call
//! names its action and a re-run finishes; and the command
//! refuses while the API server still signs for the issuer, or when it cannot tell, unless
//! --force. Each test has its own bucket, roles and access key id (see tests/bootstrap.rs).

mod support;

use serde_json::{json, Value};
use support::bootstrap::*;
use support::moto::provider_arn;
use support::*;

const STATE_PATH: &str = ".kube-oidc-publisher/state.json";

fn issuer_of(w: &World, prefix: &str) -> String {
    format!("https://{}.s3.us-east-1.amazonaws.com/{prefix}", w.bucket)
}

fn role_of(w: &World, prefix: &str) -> String {
    format!("{}-{prefix}", w.role)
}

fn keys_of(prefix: &str) -> Vec<String> {
    [DISCOVERY_PATH, JWKS_PATH, STATE_PATH]
        .iter()
        .map(|k| format!("{prefix}/{}", k.trim_start_matches('/')))
        .collect()
}

fn role_exists(name: &str) -> bool {
    moto()
        .block_on(moto().iam_client().get_role().role_name(name).send())
        .is_ok()
}

/// Bootstraps `prefix` with its own publisher role.
fn bootstrap(w: &World, prefix: &str) {
    let role = role_of(w, prefix);
    w.bootstrap_prefix(prefix, &["--publisher-role", &role])
        .assert_success();
}

/// `bootstrap --delete` of `prefix` (with its publisher role) plus `extra`.
fn delete(w: &World, prefix: &str, extra: &[&str]) -> TestCommand {
    let role = role_of(w, prefix);
    let mut args = vec!["--delete", "--publisher-role", role.as_str()];
    args.extend_from_slice(extra);
    w.bootstrap_prefix(prefix, &args)
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn assert_cluster_intact(w: &World, prefix: &str) {
    for key in keys_of(prefix) {
        assert!(moto().get_object(&w.bucket, &key).is_some(), "{key}");
    }
    assert!(
        moto()
            .get_provider(&provider_arn(&issuer_of(w, prefix)))
            .is_some(),
        "{prefix}'s provider"
    );
    assert!(role_exists(&role_of(w, prefix)), "{prefix}'s role");
}

fn assert_cluster_gone(w: &World, prefix: &str) {
    for key in keys_of(prefix) {
        assert!(moto().get_object(&w.bucket, &key).is_none(), "{key}");
    }
    assert!(moto()
        .get_provider(&provider_arn(&issuer_of(w, prefix)))
        .is_none());
    assert!(!role_exists(&role_of(w, prefix)));
}

/// Issue 11: removing one cluster of a shared bucket, then the others in another order.
#[test]
fn removing_clusters_from_a_shared_bucket_touches_nothing_of_the_others_or_the_owner() {
    let w = world("delete-shared");
    moto().create_bucket(&w.bucket);
    let owner = json!({ "Version": "2012-10-17", "Statement": [access_logs_statement(&w.bucket)] });
    put_bucket_policy(&w.bucket, &owner);
    for prefix in ["c1", "c2", "c3"] {
        bootstrap(&w, prefix);
    }
    assert_eq!(
        our_resources(&w.bucket),
        documents_of(&w.bucket, &["c1", "c2", "c3"])
    );
    let extra_key = "c2/notes/keep-me.txt";
    moto().put_object(&w.bucket, extra_key, b"not ours", None, None);

    // --check: exit 1 while something is left to remove; --dry-run: every call listed,
    // none made.
    moto().reset_requests(&w.bucket);
    let iam_before = w.iam_requests().writes();
    let out = delete(&w, "c2", &["--check"]).assert_exit(1);
    assert!(stdout_str(&out).contains("changes pending (--check, nothing changed)"));
    assert_eq!(w.iam_requests().writes(), iam_before);
    let iam_before = w.iam_requests().writes();
    let out = delete(&w, "c2", &["--dry-run", "--output", "json"]).assert_success();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "planned", "{summary}");
    assert_eq!(summary["writes"], 0, "{summary}");
    let actions: Vec<&str> = summary["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "put_bucket_policy",
            "delete_object",
            "delete_object",
            "delete_object",
            "delete_provider",
            "delete_role_policy",
            "delete_role"
        ],
        "{summary}"
    );
    assert_eq!(summary["calls"].as_array().unwrap().len(), 7, "{summary}");
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    assert_eq!(w.iam_requests().writes(), iam_before);
    assert_cluster_intact(&w, "c2");

    // For real: exactly c2's things go.
    let out = delete(&w, "c2", &[]).assert_success();
    let text = stdout_str(&out);
    assert!(text.contains("removed: s3:PutBucketPolicy"), "{text}");
    assert!(text.contains("7 writes"), "{text}");
    assert_eq!(
        our_resources(&w.bucket),
        documents_of(&w.bucket, &["c1", "c3"])
    );
    let policy = bucket_policy(&w.bucket).unwrap();
    assert_eq!(
        policy["Statement"][0],
        access_logs_statement(&w.bucket),
        "{policy:#}"
    );
    assert_cluster_gone(&w, "c2");
    assert!(moto().get_object(&w.bucket, extra_key).is_some());
    assert_cluster_intact(&w, "c1");
    assert_cluster_intact(&w, "c3");

    // Re-run: nothing to delete, 0 writes.
    moto().reset_requests(&w.bucket);
    let iam_before = w.iam_requests().writes();
    let out = delete(&w, "c2", &["--output", "json"]).assert_success();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "nothing_to_delete", "{summary}");
    assert_eq!(summary["writes"], 0, "{summary}");
    assert_eq!(
        summary["bucket_policy_bytes"],
        bucket_policy(&w.bucket).unwrap().to_string().len(),
        "{summary}"
    );
    assert_eq!(summary["gone"].as_array().unwrap().len(), 6, "{summary}");
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    assert_eq!(w.iam_requests().writes(), iam_before);

    // The rest, in another order: only the owner's statement is left, as it was.
    delete(&w, "c3", &[]).assert_success();
    assert_cluster_intact(&w, "c1");
    delete(&w, "c1", &[]).assert_success();
    assert_cluster_gone(&w, "c1");
    assert_cluster_gone(&w, "c3");
    assert_eq!(bucket_policy(&w.bucket).unwrap(), owner);
    assert!(bucket_exists(&w.bucket), "the bucket is the owner's");
}

#[test]
fn without_an_owners_statement_the_last_cluster_leaves_no_bucket_policy() {
    let w = world("delete-last");
    for prefix in ["c1", "c2"] {
        bootstrap(&w, prefix);
    }
    delete(&w, "c1", &[]).assert_success();
    assert_eq!(our_resources(&w.bucket), documents_of(&w.bucket, &["c2"]));
    let out = delete(&w, "c2", &["--output", "json"]).assert_success();
    let summary = json_of(&out);
    assert_eq!(
        summary["changes"][0]["action"], "delete_bucket_policy",
        "{summary}"
    );
    assert_eq!(summary["bucket_policy_bytes"], 0, "{summary}");
    assert_eq!(bucket_policy(&w.bucket), None);
    assert!(bucket_exists(&w.bucket));
}

#[test]
fn a_provider_and_a_role_without_our_tag_are_kept_and_reported() {
    let w = world("delete-untagged");
    bootstrap(&w, PREFIX);
    let provider = w.provider_arn();
    let role = role_of(&w, PREFIX);
    let iam = moto().iam_client();
    moto()
        .block_on(
            iam.untag_open_id_connect_provider()
                .open_id_connect_provider_arn(&provider)
                .tag_keys("kube-oidc-publisher/managed-by")
                .send(),
        )
        .expect("untag provider");
    moto()
        .block_on(
            iam.untag_role()
                .role_name(&role)
                .tag_keys("kube-oidc-publisher/managed-by")
                .send(),
        )
        .expect("untag role");
    let out = delete(&w, PREFIX, &[]).assert_success();
    let text = stdout_str(&out);
    for expected in [
        format!("kept: IAM OIDC provider {provider}: not created by kube-oidc-publisher"),
        format!("kept: IAM role {role}: not created by kube-oidc-publisher"),
    ] {
        assert!(text.contains(&expected), "{expected}\n{text}");
    }
    assert!(moto().get_provider(&provider).is_some());
    assert!(role_exists(&role));
    for key in keys_of(PREFIX) {
        assert!(moto().get_object(&w.bucket, &key).is_none(), "{key}");
    }
    assert_eq!(bucket_policy(&w.bucket), None);
}

/// IAM refuses DeleteRole (DeleteConflict) while an inline policy is left; moto does too.
#[test]
fn a_role_with_another_policy_left_says_what_to_detach_and_the_rest_is_done() {
    let w = world("delete-conflict");
    bootstrap(&w, PREFIX);
    let role = role_of(&w, PREFIX);
    let extra = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*" }]
    });
    moto()
        .block_on(
            moto()
                .iam_client()
                .put_role_policy()
                .role_name(&role)
                .policy_name("added-by-hand")
                .policy_document(extra.to_string())
                .send(),
        )
        .expect("extra inline policy");
    let out = delete(&w, PREFIX, &[]).assert_exit(2);
    let stderr = stderr_str(&out);
    for expected in [
        "DeleteConflict",
        &format!("aws iam list-role-policies --role-name {role}"),
        "already done, and kept",
        "iam:DeleteOpenIDConnectProvider",
        "run bootstrap --delete again",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    assert!(role_exists(&role));
    assert!(moto().get_provider(&w.provider_arn()).is_none());
}

/// The API server of the cluster still signs with the issuer being removed.
#[test]
fn refuses_while_the_api_server_signs_for_the_issuer_and_force_overrides() {
    // Its discovery document names the bucket's issuer, as after the flags were set.
    let w = world_with("delete-in-use", |bucket| {
        let mut discovery: Value =
            serde_json::from_slice(&fixture("openid-configuration.json")).unwrap();
        let issuer = format!("https://{bucket}.s3.us-east-1.amazonaws.com/{PREFIX}");
        discovery["issuer"] = json!(issuer);
        discovery["jwks_uri"] = json!(format!("{issuer}/openid/v1/jwks"));
        Scenario::Custom {
            jwks: fixture("jwks-rsa.json"),
            discovery: serde_json::to_vec(&discovery).unwrap(),
        }
    });
    bootstrap(&w, PREFIX);
    moto().reset_requests(&w.bucket);
    let iam_before = w.iam_requests().writes();

    for extra in [&[][..], &["--dry-run"]] {
        let out = delete(&w, PREFIX, extra).assert_exit(2);
        let stderr = stderr_str(&out);
        for expected in [
            "still signs service-account tokens for issuer",
            "InvalidIdentityToken",
            "--service-account-issuer",
            "--force",
            "Nothing was changed",
        ] {
            assert!(stderr.contains(expected), "{expected}\n{stderr}");
        }
    }
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    assert_eq!(w.iam_requests().writes(), iam_before);

    let out = delete(&w, PREFIX, &["--force"]).assert_success();
    let text = stdout_str(&out);
    assert!(text.contains("--force: skipped the check"), "{text}");
    assert_cluster_gone(&w, PREFIX);
}

#[test]
fn refuses_when_it_cannot_tell_whether_the_issuer_is_in_use() {
    let w = world("delete-unreachable");
    bootstrap(&w, PREFIX);
    moto().reset_requests(&w.bucket);
    let iam_before = w.iam_requests().writes();
    let unreachable = write_kubeconfig_unreachable(w._dir.path(), &w.server);
    let role = role_of(&w, PREFIX);
    for args in [
        vec!["--kubeconfig".into(), unreachable.display().to_string()],
        vec![
            "--source".into(),
            "files".into(),
            "--key-file".into(),
            fixture_path("key-rsa-old.pub.pem").display().to_string(),
        ],
    ] {
        let mut cmd = w.cmd.clone();
        cmd.args([
            "bootstrap",
            "--delete",
            "--bucket",
            &w.bucket,
            "--prefix",
            PREFIX,
            "--s3-path-style",
            "--publisher-role",
            &role,
        ])
        .args(&args);
        let out = cmd.assert_exit(2);
        let stderr = stderr_str(&out);
        for expected in ["cannot tell whether the API server", "--force", "gone"] {
            assert!(stderr.contains(expected), "{args:?}: {expected}\n{stderr}");
        }
    }
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    assert_eq!(w.iam_requests().writes(), iam_before);
    assert_cluster_intact(&w, PREFIX);
}

/// A refused call stops the run: the message names the action and the operator policy, says
/// what was already removed, and a re-run (once allowed) finishes with only what is left.
#[test]
fn access_denied_on_delete_provider_names_the_action_and_a_rerun_finishes() {
    let w = world("delete-denied");
    bootstrap(&w, PREFIX);
    moto().inject_iam_fault(&support::moto::IamFault {
        provider: None,
        access_key: Some(w.access_key.clone()),
        ..support::moto::IamFault::access_denied("").action("DeleteOpenIDConnectProvider")
    });
    let out = delete(&w, PREFIX, &["--output", "json"]).assert_exit(2);
    let stderr = stderr_str(&out);
    for expected in [
        "access denied: iam:DeleteOpenIDConnectProvider",
        "templates/operator-policy.json",
        "already done, and kept: s3:DeleteBucketPolicy, s3:DeleteObject",
        "run bootstrap --delete again",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    assert_eq!(json_of(&out)["status"], "error");
    assert!(moto().get_provider(&w.provider_arn()).is_some());
    assert_eq!(bucket_policy(&w.bucket), None);

    let out = delete(&w, PREFIX, &["--output", "json"]).assert_success();
    let summary = json_of(&out);
    assert_eq!(
        summary["writes"], 3,
        "provider, role policy, role: {summary}"
    );
    assert_cluster_gone(&w, PREFIX);
}
