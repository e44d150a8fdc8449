//! `bootstrap --delete --hosting cloudfront` through the real binary against moto (S3, IAM,
//! CloudFront made to behave like AWS by tests/moto/launcher.py: InProgress then Deployed,
//! IfMatch checked, an enabled or undeployed distribution cannot be deleted) and the test edge
//! (tests/support/edge.rs), which serves the documents as CloudFront would. Two clusters share
//! a bucket and its distribution: removing one leaves the other served through the edge, its
//! grant kept, and the edge stops serving the removed one's (the invalidation); removing the
//! last disables, waits for and deletes the distribution and its origin access control, as
//! moto then shows; re-runs and dry runs write nothing. Each test signs with its own access
//! key, so they run in parallel (see tests/bootstrap_cloudfront.rs).

mod support;

use serde_json::Value;
use support::bootstrap::*;
use support::edge::Edge;
use support::moto::provider_arn;
use support::*;

fn role_of(w: &World, prefix: &str) -> String {
    format!("{}-{prefix}", w.role)
}

/// `bootstrap --hosting cloudfront` of `prefix` reaching the edge, plus `extra`.
fn cloudfront(w: &World, edge: &Edge, prefix: &str, extra: &[&str]) -> TestCommand {
    let mut args: Vec<String> = vec![
        "--hosting".into(),
        "cloudfront".into(),
        "--wait-timeout".into(),
        "2m".into(),
        "--ca-file".into(),
        edge.ca_file().display().to_string(),
    ];
    args.extend(edge.connect_to_any(&w.access_key));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.bootstrap_prefix(prefix, &args)
}

/// The same with `prefix`'s own publisher role.
fn with_role(w: &World, edge: &Edge, prefix: &str, extra: &[&str]) -> TestCommand {
    let role = role_of(w, prefix);
    let mut args = vec!["--publisher-role", role.as_str()];
    args.extend_from_slice(extra);
    cloudfront(w, edge, prefix, &args)
}

/// `bootstrap --delete --hosting cloudfront` of `prefix` with its publisher role, plus `extra`.
fn delete(w: &World, edge: &Edge, prefix: &str, extra: &[&str]) -> TestCommand {
    let mut args = vec!["--delete"];
    args.extend_from_slice(extra);
    with_role(w, edge, prefix, &args)
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

fn actions(summary: &Value) -> Vec<String> {
    summary["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("changes: {summary}"))
        .iter()
        .map(|c| c["action"].as_str().unwrap().to_owned())
        .collect()
}

fn role_exists(name: &str) -> bool {
    moto()
        .block_on(moto().iam_client().get_role().role_name(name).send())
        .is_ok()
}

/// The CloudFront statement's resources in the bucket policy (`None`: no such statement).
fn cloudfront_statement(bucket: &str) -> Option<Value> {
    let policy = bucket_policy(bucket)?;
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    statements
        .into_iter()
        .find(|s| s["Sid"] == "KubeOidcPublisherCloudFrontRead")
}

/// Writes (S3 of the bucket, CloudFront/Route 53/ACM of the test's key, IAM of its key) so far.
fn writes(w: &World) -> (usize, usize, usize) {
    (
        moto().requests(&w.bucket).writes(),
        moto().hosting_requests(&w.access_key).writes(),
        w.iam_requests().writes(),
    )
}

fn distribution_exists(id: &str) -> Option<bool> {
    match moto().block_on(moto().cloudfront_client().get_distribution().id(id).send()) {
        Ok(out) => out.distribution().map(|d| {
            d.distribution_config()
                .map(|c| c.enabled())
                .unwrap_or_default()
        }),
        Err(_) => None,
    }
}

#[test]
fn two_clusters_share_the_distribution_removing_one_keeps_the_other_served_and_the_last_takes_it_all(
) {
    let w = world("cfdel-two");
    moto().set_cloudfront_deploy_seconds(&w.access_key, 1.0);
    let edge = Edge::start();
    let mut domain = String::new();
    let mut id = String::new();
    // The first bootstrap creates the distribution; the roles come with the next runs (a
    // first run with --publisher-role is refused before the distribution exists: its ARN
    // goes into the role's policy).
    cloudfront(&w, &edge, "c1", &[]).assert_success();
    for prefix in ["c2", "c1"] {
        let summary =
            json_of(&with_role(&w, &edge, prefix, &["--output", "json"]).assert_success());
        let distribution = &summary["cloudfront"]["distribution"];
        id = distribution["id"].as_str().unwrap().to_owned();
        domain = distribution["domain_name"].as_str().unwrap().to_owned();
        assert!(summary["role_arn"].is_string(), "{summary}");
    }
    let oac_id = moto()
        .block_on(moto().cloudfront_client().get_distribution().id(&id).send())
        .expect("GetDistribution")
        .distribution()
        .and_then(|d| d.distribution_config())
        .and_then(|c| c.origins())
        .and_then(|o| o.items().first())
        .and_then(|o| o.origin_access_control_id())
        .expect("the origin's OAC")
        .to_owned();
    let issuer = |prefix: &str| format!("https://{domain}/{prefix}");
    let jwks = |prefix: &str| format!("/{prefix}/openid/v1/jwks");
    // The edge holds c1's documents now (cached per max-age).
    assert_eq!(edge.get(&domain, &jwks("c1")).status, 200);
    assert_eq!(edge.get(&domain, &jwks("c2")).status, 200);
    let before = cloudfront_statement(&w.bucket).expect("our statement");
    assert_eq!(before["Resource"].as_array().unwrap().len(), 4, "{before}");

    // --dry-run: every call listed, none made.
    let was = writes(&w);
    let summary =
        json_of(&delete(&w, &edge, "c1", &["--dry-run", "--output", "json"]).assert_success());
    assert_eq!(summary["status"], "planned", "{summary}");
    assert_eq!(summary["writes"], 0, "{summary}");
    assert_eq!(
        actions(&summary),
        [
            "put_bucket_policy",
            "delete_object",
            "delete_object",
            "delete_object",
            "delete_provider",
            "delete_role_policy",
            "delete_role",
            "create_invalidation"
        ],
        "{summary}"
    );
    assert_eq!(summary["issuer"], issuer("c1"), "{summary}");
    assert_eq!(writes(&w), was);

    // c1 for real: its grant, objects, provider, role and edge copies go; c2 keeps everything.
    let out = delete(&w, &edge, "c1", &[]).assert_success();
    let text = stdout_str(&out);
    assert!(
        text.contains("removed: cloudfront:CreateInvalidation"),
        "{text}"
    );
    assert!(
        text.contains(&format!("kept: CloudFront distribution {id}"))
            && text.contains("1 other cluster of bucket"),
        "{text}"
    );
    let after = cloudfront_statement(&w.bucket).expect("c2's grant stays");
    assert_eq!(
        after["Resource"],
        serde_json::json!([
            format!(
                "arn:aws:s3:::{}/c2/.well-known/openid-configuration",
                w.bucket
            ),
            format!("arn:aws:s3:::{}/c2/openid/v1/jwks", w.bucket),
        ]),
        "{after}"
    );
    assert_eq!(after["Condition"], before["Condition"], "{after}");
    assert_eq!(after["Principal"], before["Principal"], "{after}");
    assert_eq!(edge.get(&domain, &jwks("c1")).status, 403, "invalidated");
    assert_eq!(edge.get(&domain, &jwks("c2")).status, 200);
    assert_eq!(
        edge.get(&domain, "/c2/.well-known/openid-configuration")
            .status,
        200
    );
    assert!(moto().get_provider(&provider_arn(&issuer("c1"))).is_none());
    assert!(moto().get_provider(&provider_arn(&issuer("c2"))).is_some());
    assert!(!role_exists(&role_of(&w, "c1")));
    assert!(role_exists(&role_of(&w, "c2")));
    assert_eq!(distribution_exists(&id), Some(true), "still enabled");
    let hosting = moto().hosting_requests(&w.access_key);
    assert_eq!(
        hosting.write_actions().last().map(String::as_str),
        Some("cloudfront:CreateInvalidation")
    );

    // Again: nothing to delete, 0 writes anywhere.
    let was = writes(&w);
    let summary = json_of(&delete(&w, &edge, "c1", &["--output", "json"]).assert_success());
    assert_eq!(summary["status"], "nothing_to_delete", "{summary}");
    assert_eq!(summary["writes"], 0, "{summary}");
    assert_eq!(writes(&w), was);

    // The last cluster: the distribution is disabled, waited for and deleted, then the OAC.
    let summary_out = delete(&w, &edge, "c2", &["--output", "json"]).assert_success();
    let summary = json_of(&summary_out);
    assert_eq!(summary["status"], "deleted", "{summary}");
    assert_eq!(
        actions(&summary),
        [
            "delete_bucket_policy",
            "delete_object",
            "delete_object",
            "delete_object",
            "delete_provider",
            "delete_role_policy",
            "delete_role",
            "create_invalidation",
            "disable_distribution",
            "delete_distribution",
            "delete_origin_access_control"
        ],
        "{summary}"
    );
    let stderr = String::from_utf8_lossy(&summary_out.stderr);
    assert!(
        stderr.contains(&format!(
            "waiting for distribution {id} to deploy (InProgress"
        )),
        "a progress line per poll: {stderr}"
    );
    assert_eq!(distribution_exists(&id), None, "deleted in moto");
    assert!(
        moto()
            .block_on(
                moto()
                    .cloudfront_client()
                    .get_origin_access_control()
                    .id(&oac_id)
                    .send()
            )
            .is_err(),
        "OAC {oac_id} deleted"
    );
    assert_eq!(bucket_policy(&w.bucket), None);
    assert!(bucket_exists(&w.bucket), "the bucket is the owner's");
    assert!(moto().get_provider(&provider_arn(&issuer("c2"))).is_none());
    assert!(!role_exists(&role_of(&w, "c2")));
    assert_eq!(
        edge.get(&domain, &jwks("c2")).status,
        403,
        "no distribution"
    );

    // Again: 0 writes; the issuer is unknown now and the output says why.
    let was = writes(&w);
    let out = delete(&w, &edge, "c2", &[]).assert_success();
    let text = stdout_str(&out);
    assert!(text.starts_with("nothing to delete"), "{text}");
    assert!(text.contains("API server not asked"), "{text}");
    assert_eq!(writes(&w), was);
}

#[test]
fn no_wait_stops_after_disabling_and_the_same_command_finishes() {
    let w = world("cfdel-nowait");
    moto().set_cloudfront_deploy_seconds(&w.access_key, 1.0);
    let edge = Edge::start();
    let summary = json_of(&cloudfront(&w, &edge, "c1", &["--output", "json"]).assert_success());
    let id = summary["cloudfront"]["distribution"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A deployment that outlasts these runs (finished by the test below, not waited for).
    moto().set_cloudfront_deploy_seconds(&w.access_key, 600.0);
    let summary =
        json_of(&delete(&w, &edge, "c1", &["--no-wait", "--output", "json"]).assert_success());
    assert_eq!(summary["status"], "waiting", "{summary}");
    assert_eq!(distribution_exists(&id), Some(false), "disabled, kept");
    let left: Vec<&str> = summary["left"]
        .as_array()
        .unwrap_or_else(|| panic!("{summary}"))
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(left.len(), 2, "{summary}");
    assert!(
        left[0].starts_with("cloudfront:DeleteDistribution")
            && left[1].starts_with("cloudfront:DeleteOriginAccessControl"),
        "{summary}"
    );
    assert!(
        summary["finish_with"]
            .as_str()
            .is_some_and(|f| f.contains("the same bootstrap --delete again")),
        "{summary}"
    );
    assert!(
        actions(&summary).contains(&"disable_distribution".to_owned()),
        "{summary}"
    );
    // Still deploying: the same --no-wait run makes no write and stops again.
    let was = writes(&w);
    let summary =
        json_of(&delete(&w, &edge, "c1", &["--no-wait", "--output", "json"]).assert_success());
    assert_eq!(summary["status"], "waiting", "{summary}");
    assert_eq!(summary["writes"], 0, "{summary}");
    assert_eq!(writes(&w), was);
    // Deployed now: the same command deletes the distribution and the OAC, and a re-run
    // after it has nothing left to do.
    moto().finish_cloudfront_deploy(&id);
    let summary =
        json_of(&delete(&w, &edge, "c1", &["--no-wait", "--output", "json"]).assert_success());
    assert_eq!(summary["status"], "deleted", "{summary}");
    assert_eq!(
        actions(&summary),
        ["delete_distribution", "delete_origin_access_control"],
        "{summary}"
    );
    assert_eq!(summary["writes"], 2, "{summary}");
    assert_eq!(distribution_exists(&id), None);
    let was = writes(&w);
    let summary =
        json_of(&delete(&w, &edge, "c1", &["--no-wait", "--output", "json"]).assert_success());
    assert_eq!(summary["status"], "nothing_to_delete", "{summary}");
    assert_eq!(writes(&w), was);
    moto().clear_cloudfront_deploy_seconds(&w.access_key);
}
