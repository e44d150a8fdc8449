//! `bootstrap` through the real binary against moto (S3, S3 Control, IAM, STS) and a fake
//! kube-apiserver: a fresh account ends with the bucket configured (ownership, Public Access
//! Block, exactly our policy statement), the documents published, the provider and the
//! publisher role created, all checked with signed reads; a second run makes no S3 or IAM
//! write; other bucket-policy statements are kept; --dry-run changes nothing and lists the
//! calls; the refusals (account-level Block Public Access, AccessDenied, a bucket of another
//! account, a dotted bucket name, another public statement that relaxing the bucket's Block
//! Public Access would make live, a statement with our Sid that is not ours) name their fix and
//! change nothing. moto does not enforce Block Public Access, so the tests assert the stored
//! configuration (PROTOCOL.md §7).
//!
//! S3 Control requests go to `<account>.<endpoint host>`, so `AWS_ENDPOINT_URL_S3_CONTROL`
//! points at the harness's `s3-control.kop.test`, which /etc/hosts resolves with the account
//! prefix (PROTOCOL.md §7; `support::moto::ensure_s3_control_host`). Each test signs with its
//! own access key id and uses its own bucket, role and provider URL: its IAM/STS requests, its
//! S3 requests and its S3 Control requests are logged apart from the other tests', its faults
//! hit only its own requests, and the account-level Public Access Block it sets is seen only
//! by its own access key (the launcher keeps one per key), so the tests run in parallel.

mod support;

use serde_json::{json, Value};
use support::bootstrap::*;
use support::moto::{s3_control_log, AccountPublicAccessBlock, IamFault, ACCOUNT_ID};
use support::*;

/// The statement bootstrap owns, as templates/bucket-policy-statement.json renders it.
fn our_statement(bucket: &str) -> Value {
    json!({
        "Sid": "KubeOidcPublisherPublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": [
            format!("arn:aws:s3:::{bucket}/{PREFIX}/.well-known/openid-configuration"),
            format!("arn:aws:s3:::{bucket}/{PREFIX}/openid/v1/jwks"),
        ]
    })
}

/// IAM returns policy documents URL-encoded.
fn decode(text: &str) -> Value {
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn a_fresh_account_ends_with_bucket_documents_provider_and_role() {
    let w = world("fresh");
    let out = w.with_role(&["--cluster-name", "prod-1"]).assert_success();
    let stdout = stdout_str(&out);

    // The bucket: ACLs disabled, ACLs blocked but a public policy allowed, our one statement.
    let client = moto().client();
    let ownership = moto()
        .block_on(
            client
                .get_bucket_ownership_controls()
                .bucket(&w.bucket)
                .send(),
        )
        .expect("ownership controls");
    let rules = ownership.ownership_controls().unwrap().rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].object_ownership().as_str(), "BucketOwnerEnforced");
    let pab = moto()
        .block_on(client.get_public_access_block().bucket(&w.bucket).send())
        .expect("public access block");
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(false), Some(false))
    );
    assert_eq!(
        bucket_policy(&w.bucket).expect("a bucket policy"),
        json!({ "Version": "2012-10-17", "Statement": [our_statement(&w.bucket)] })
    );
    // No ACL, ever.
    let requests = moto().requests(&w.bucket);
    assert!(
        requests.entries.iter().all(|r| !r.op.contains("acl")),
        "{:?}",
        requests.counts()
    );
    assert!(requests.entries.iter().all(|r| !r.query.contains("acl")));

    // The documents, for the bucket's issuer, with the API server's keys.
    let jwks = moto()
        .get_object(&w.bucket, &w.key("openid/v1/jwks"))
        .expect("JWKS published");
    assert_eq!(jwks.body, fixture("jwks-rsa.json"));
    let discovery = moto()
        .get_object(&w.bucket, &w.key(".well-known/openid-configuration"))
        .expect("discovery published");
    for object in [&jwks, &discovery] {
        assert_eq!(object.content_type.as_deref(), Some("application/json"));
        assert_eq!(object.cache_control.as_deref(), Some("public, max-age=300"));
    }
    let discovery: Value = serde_json::from_slice(&discovery.body).unwrap();
    assert_eq!(discovery["issuer"], w.issuer());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/openid/v1/jwks", w.issuer())
    );

    // The provider, tagged.
    let provider = moto().get_provider(&w.provider_arn()).expect("provider");
    assert_eq!(provider.client_ids, ["sts.amazonaws.com"]);
    assert_eq!(
        provider
            .tags
            .get("kube-oidc-publisher/managed-by")
            .map(String::as_str),
        Some("kube-oidc-publisher")
    );
    assert_eq!(
        provider
            .tags
            .get("kube-oidc-publisher/cluster")
            .map(String::as_str),
        Some("prod-1")
    );

    // The role: trusted by the publisher's ServiceAccount through that provider, tagged, with
    // the least-privilege inline policy.
    let iam = moto().iam_client();
    let role = moto()
        .block_on(iam.get_role().role_name(&w.role).send())
        .expect("role");
    let role = role.role().unwrap();
    let trust = decode(role.assume_role_policy_document().unwrap());
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Principal"]["Federated"], w.provider_arn());
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    let host_path = w.issuer()["https://".len()..].to_owned();
    assert_eq!(
        statement["Condition"]["StringEquals"][format!("{host_path}:sub")],
        "system:serviceaccount:kube-oidc-publisher:kube-oidc-publisher"
    );
    assert_eq!(
        statement["Condition"]["StringEquals"][format!("{host_path}:aud")],
        "sts.amazonaws.com"
    );
    let tags: std::collections::BTreeMap<&str, &str> =
        role.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(
        tags.get("kube-oidc-publisher/managed-by"),
        Some(&"kube-oidc-publisher")
    );
    let inline = moto()
        .block_on(
            iam.get_role_policy()
                .role_name(&w.role)
                .policy_name("kube-oidc-publisher")
                .send(),
        )
        .expect("inline policy");
    let inline = decode(inline.policy_document());
    let actions: Vec<String> = inline["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
            _ => vec![],
        })
        .collect();
    assert!(actions.contains(&"s3:PutObject".to_owned()), "{inline}");
    assert!(
        actions.contains(&"iam:UpdateOpenIDConnectProviderThumbprint".to_owned()),
        "{inline}"
    );
    assert!(!actions.iter().any(|a| a.ends_with('*')), "{inline}");
    let resources = inline.to_string();
    assert!(resources.contains(&w.provider_arn()), "{inline}");
    assert!(!resources.contains("arn:aws:s3:::*"), "{inline}");

    // The summary: the role ARN and the API server flags, the new issuer first and the API
    // server's current issuer kept second.
    let role_arn = format!("arn:aws:iam::{ACCOUNT_ID}:role/{}", w.role);
    assert!(stdout.contains(&role_arn), "{stdout}");
    let new_flag = format!("--service-account-issuer={}", w.issuer());
    let current_flag = format!("--service-account-issuer={ISSUER}");
    let new_at = stdout.find(&new_flag).expect(&stdout);
    let current_at = stdout.find(&current_flag).expect(&stdout);
    assert!(new_at < current_at, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "--service-account-jwks-uri={}/openid/v1/jwks",
            w.issuer()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("--api-audiences={ISSUER},sts.amazonaws.com")),
        "{stdout}"
    );
    for hint in [
        "kubeadm",
        "kubeadmConfigPatches",
        "kube-apiserver-arg",
        "cluster.apiServer.extraArgs",
        "docs/bootstrap.md",
    ] {
        assert!(stdout.contains(hint), "{hint}: {stdout}");
    }
    assert!(
        stdout.contains(&format!("doctor --issuer {}", w.issuer())),
        "{stdout}"
    );
    assert!(
        stdout.contains("kubectl apply -k deploy/cronjob"),
        "{stdout}"
    );
    assert!(stdout.contains("trust-policy"), "{stdout}");
}

#[test]
fn idempotency_a_second_bootstrap_makes_no_s3_or_iam_write() {
    let w = world("idempotent");
    w.with_role(&[]).assert_success();
    moto().reset_requests(&w.bucket);
    let before = w.iam_requests().total();

    let out = w.with_role(&["--output", "json"]).assert_success();
    let summary: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(summary["status"], "in_sync", "{summary}");
    assert_eq!(summary["writes"], 0, "{summary}");
    assert_eq!(summary["calls"], json!([]), "{summary}");

    let s3 = moto().requests(&w.bucket);
    assert_eq!(s3.writes(), 0, "{:?}", s3.counts());
    let iam = w.iam_requests();
    let second: Vec<String> = iam.entries[before..]
        .iter()
        .filter(|r| !r.action.starts_with("Get") && !r.action.starts_with("List"))
        .map(|r| r.action.clone())
        .collect();
    assert!(
        second.is_empty(),
        "IAM writes on the second run: {second:?}"
    );
    assert!(iam.count("GetRole") >= 2, "{:?}", iam.counts());
    assert!(iam.count("GetRolePolicy") >= 1, "{:?}", iam.counts());
}

#[test]
fn json_output_is_one_object_with_flags_role_and_next_steps() {
    let w = world("json");
    let out = w.with_role(&["--output", "json"]).assert_success();
    let summary: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(summary["status"], "applied");
    assert_eq!(summary["issuer"], w.issuer());
    assert_eq!(summary["store"], format!("s3://{}/{PREFIX}", w.bucket));
    assert_eq!(summary["account_id"], ACCOUNT_ID);
    assert_eq!(summary["provider_arn"], w.provider_arn());
    assert_eq!(
        summary["role_arn"],
        format!("arn:aws:iam::{ACCOUNT_ID}:role/{}", w.role)
    );
    assert_eq!(summary["api_server_issuer"], ISSUER);
    assert_eq!(
        summary["api_server_flags"],
        json!([
            format!("--service-account-issuer={}", w.issuer()),
            format!("--service-account-issuer={ISSUER}"),
            format!("--service-account-jwks-uri={}/openid/v1/jwks", w.issuer()),
            format!("--api-audiences={ISSUER},sts.amazonaws.com"),
        ])
    );
    let published = summary["publish"]["writes"].as_u64().unwrap();
    assert!(published >= 3, "the documents and the provider: {summary}");
    // The bucket (create, Public Access Block, policy), what sync wrote, the role (create,
    // inline policy): one call each, every one listed.
    assert_eq!(summary["writes"], 3 + published + 2, "{summary}");
    assert_eq!(
        summary["calls"].as_array().unwrap().len() as u64,
        3 + published + 2,
        "{summary}"
    );
    assert!(summary["flag_locations"]["talos"].is_string());
    assert_eq!(summary["next_steps"].as_array().unwrap().len(), 4);
}

#[test]
fn other_statements_of_an_existing_bucket_policy_are_kept() {
    let w = world("keep-policy");
    moto().create_bucket(&w.bucket);
    // (A Deny statement would do too, but moto enforces bucket policies on our plain-HTTP
    // requests, so an insecure-transport Deny would lock the test out.)
    let theirs = access_logs_statement(&w.bucket);
    let existing = json!({ "Version": "2012-10-17", "Statement": [theirs] });
    put_bucket_policy(&w.bucket, &existing);
    let out = w.bootstrap(&[]).assert_success();
    assert!(
        stdout_str(&out).contains("1 other statement kept"),
        "{}",
        stdout_str(&out)
    );
    assert!(!stdout_str(&out).contains("s3:CreateBucket"));
    assert_eq!(
        bucket_policy(&w.bucket).unwrap(),
        json!({ "Version": "2012-10-17", "Statement": [theirs, our_statement(&w.bucket)] })
    );
    moto().reset_requests(&w.bucket);
    w.bootstrap(&[]).assert_success();
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
}

#[test]
fn dry_run_writes_nothing_and_lists_every_call() {
    let w = world("dry-run");
    let out = w.with_role(&["--dry-run"]).assert_success();
    let stdout = stdout_str(&out);
    assert!(
        stdout.starts_with("plan (dry run, nothing changed)"),
        "{stdout}"
    );
    let calls = [
        "s3:CreateBucket",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketPolicy",
        "s3:PutObject",
        "iam:CreateOpenIDConnectProvider",
        "iam:CreateRole",
        "iam:PutRolePolicy",
    ];
    let mut last = 0;
    for call in calls {
        let at = stdout[last..]
            .find(call)
            .unwrap_or_else(|| panic!("{call} missing or out of order:\n{stdout}"));
        last += at;
    }
    let listed = stdout
        .lines()
        .filter(|l| l.starts_with("  s3:") || l.starts_with("  iam:"))
        .count();
    assert!(
        stdout.contains(&format!("\n{listed} AWS calls to make\n")),
        "{stdout}"
    );
    assert!(!bucket_exists(&w.bucket), "dry run created the bucket");
    let s3 = moto().requests(&w.bucket);
    assert_eq!(s3.writes(), 0, "{:?}", s3.counts());
    assert_eq!(
        w.iam_requests().writes(),
        0,
        "{:?}",
        w.iam_requests().counts()
    );
    assert_eq!(moto().get_provider(&w.provider_arn()), None);

    // JSON: status planned, the same calls; --check exits 1 with the same plan.
    let out = w
        .with_role(&["--dry-run", "--output", "json"])
        .assert_success();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "planned");
    assert_eq!(summary["calls"].as_array().unwrap().len(), listed);
    assert_eq!(summary["writes"], 0);
    let out = w.with_role(&["--check", "--output", "json"]).assert_exit(1);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "drift");
    assert_eq!(w.iam_requests().writes(), 0);
    assert!(!bucket_exists(&w.bucket));

    // After a real run, --check is clean.
    w.with_role(&[]).assert_success();
    w.with_role(&["--check"]).assert_success();
}

#[test]
fn access_denied_on_put_bucket_policy_names_the_action_and_a_rerun_completes() {
    let w = world("denied");
    moto().inject_fault(&Fault::access_denied(&w.bucket).method("PUT").op("policy"));
    let out = w.bootstrap(&[]).assert_exit(2);
    let stderr = stderr_str(&out);
    assert!(
        stderr.contains("access denied: s3:PutBucketPolicy on arn:aws:s3:::"),
        "{stderr}"
    );
    assert!(
        stderr.contains("templates/operator-policy.json"),
        "{stderr}"
    );
    assert!(stderr.contains("run bootstrap again"), "{stderr}");
    // Nothing was published before the bucket was ready.
    assert!(moto()
        .get_object(&w.bucket, &w.key("openid/v1/jwks"))
        .is_none());

    let out = w.bootstrap(&[]).assert_success();
    let stdout = stdout_str(&out);
    assert!(!stdout.contains("s3:CreateBucket"), "{stdout}");
    assert!(stdout.contains("s3:PutBucketPolicy"), "{stdout}");
    assert!(bucket_policy(&w.bucket).is_some());
}

#[test]
fn access_denied_on_create_role_names_the_action() {
    let w = world("denied-role");
    moto().inject_iam_fault(&IamFault {
        provider: None,
        access_key: Some(w.access_key.clone()),
        ..IamFault::access_denied("").action("CreateRole")
    });
    let out = w.with_role(&["--output", "json"]).assert_exit(2);
    let stderr = stderr_str(&out);
    assert!(
        stderr.contains("access denied: iam:CreateRole on IAM role"),
        "{stderr}"
    );
    assert!(
        stderr.contains("templates/operator-policy.json"),
        "{stderr}"
    );
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["status"], "error");
    // The documents and the provider were published before; the next run adds only the role.
    assert!(moto().get_provider(&w.provider_arn()).is_some());
    let out = w.with_role(&["--output", "json"]).assert_success();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["writes"], 2, "{summary}");
}

#[test]
fn account_level_block_public_access_refuses_with_the_fix_and_changes_nothing() {
    let w = world("account-pab");
    let set = |block_public_policy: bool, restrict_public_buckets: bool| {
        moto().set_account_public_access_block(
            &w.access_key,
            Some(AccountPublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy,
                restrict_public_buckets,
            }),
        )
    };
    for (block_public_policy, restrict_public_buckets) in
        [(true, true), (false, true), (true, false)]
    {
        set(block_public_policy, restrict_public_buckets);
        let out = w.with_role(&[]).assert_exit(2);
        let stderr = stderr_str(&out);
        assert!(
            stderr.contains(&format!(
                "aws s3control put-public-access-block --account-id {ACCOUNT_ID} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false"
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains("STS could not read the documents"),
            "{stderr}"
        );
        assert!(stderr.contains("Nothing was changed"), "{stderr}");
    }
    let s3control = moto().requests(&s3_control_log(&w.access_key));
    assert_eq!(
        s3control.count("GET", "configuration/publicAccessBlock"),
        3,
        "{:?}",
        s3control.counts()
    );
    assert!(!bucket_exists(&w.bucket));
    assert_eq!(moto().requests(&w.bucket).total(), 0, "not even read");
    assert_eq!(w.iam_requests().writes(), 0);

    // Blocking only ACLs at the account level is what the fix sets: bootstrap goes ahead.
    set(false, false);
    w.with_role(&[]).assert_success();
    assert!(bucket_exists(&w.bucket));
    moto().clear_account_public_access_block(&w.access_key);
}

#[test]
fn access_denied_on_the_account_check_names_the_action() {
    let w = world("pab-denied");
    moto().inject_fault(&Fault::access_denied(&s3_control_log(&w.access_key)).method("GET"));
    let out = w.bootstrap(&[]).assert_exit(2);
    let stderr = stderr_str(&out);
    assert!(
        stderr.contains(&format!(
            "access denied: s3:GetAccountPublicAccessBlock on account {ACCOUNT_ID}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("templates/operator-policy.json"),
        "{stderr}"
    );
    assert!(!bucket_exists(&w.bucket));
}

#[test]
fn a_bucket_of_another_account_is_refused_naming_the_fix() {
    let w = world("foreign");
    moto().inject_fault(
        &Fault::new(&w.bucket, 403, "AccessDenied")
            .method("HEAD")
            .always(),
    );
    let out = w.bootstrap(&[]).assert_exit(2);
    let stderr = stderr_str(&out);
    assert!(stderr.contains("pick another --bucket name"), "{stderr}");
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    moto().clear_faults(&w.bucket);
}

#[test]
fn a_bucket_name_with_dots_needs_an_issuer() {
    let w = world("dots");
    let mut cmd = w.cmd.clone();
    cmd.args([
        "bootstrap",
        "--bucket",
        "oidc.example.com",
        "--s3-path-style",
        "--kubeconfig",
    ])
    .arg(&w.kubeconfig);
    let out = cmd.assert_exit(2);
    let stderr = stderr_str(&out);
    assert!(stderr.contains("contains dots"), "{stderr}");
    assert!(stderr.contains("--issuer"), "{stderr}");
    assert_eq!(w.iam_requests().total(), 0, "refused before any AWS call");
    assert_eq!(w.server.request_count(), 0);
}

#[test]
fn outside_us_east_1_the_bucket_gets_a_location_constraint() {
    let w = world("eu-west-1");
    let out = w.bootstrap(&["--region", "eu-west-1"]).assert_success();
    let stdout = stdout_str(&out);
    assert!(stdout.contains("LocationConstraint eu-west-1"), "{stdout}");
    let issuer = format!("https://{}.s3.eu-west-1.amazonaws.com/{PREFIX}", w.bucket);
    assert!(stdout.contains(&format!("issuer:   {issuer}")), "{stdout}");
    let location = moto()
        .block_on(
            moto()
                .client()
                .get_bucket_location()
                .bucket(&w.bucket)
                .send(),
        )
        .expect("location");
    assert_eq!(
        location.location_constraint().map(|l| l.as_str()),
        Some("eu-west-1")
    );
    moto().reset_requests(&w.bucket);
    w.bootstrap(&["--region", "eu-west-1"]).assert_success();
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
}

/// Creates the world's bucket with `statements` as its policy and every Block Public Access
/// flag on (as S3 leaves a new bucket); returns the policy text S3 then serves.
fn seed_blocked_bucket_with_policy(w: &World, statements: Value) -> String {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    moto().create_bucket(&w.bucket);
    let client = moto().client();
    put_bucket_policy(
        &w.bucket,
        &json!({ "Version": "2012-10-17", "Statement": statements }),
    );
    let all_on = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    moto()
        .block_on(
            client
                .put_public_access_block()
                .bucket(&w.bucket)
                .public_access_block_configuration(all_on)
                .send(),
        )
        .expect("seed public access block");
    bucket_policy_text(&w.bucket)
}

/// The bucket's Block Public Access flags, in S3's order, as stored.
fn public_access_block(bucket: &str) -> [Option<bool>; 4] {
    let out = moto()
        .block_on(
            moto()
                .client()
                .get_public_access_block()
                .bucket(bucket)
                .send(),
        )
        .expect("public access block");
    let c = out.public_access_block_configuration().unwrap();
    [
        c.block_public_acls(),
        c.ignore_public_acls(),
        c.block_public_policy(),
        c.restrict_public_buckets(),
    ]
}

/// The owner's old public-read statement: harmless while Block Public Access is on.
fn owners_public_read(bucket: &str) -> Value {
    json!({
        "Sid": "OldWebsite",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*")
    })
}

/// Issue 14, must-fix 1: bootstrap turned off BlockPublicPolicy and RestrictPublicBuckets
/// without looking at the rest of the policy, making the owner's dormant `Principal: "*"`
/// statement live (every object of the bucket world-readable).
#[test]
fn a_dormant_public_statement_of_the_owner_stops_bootstrap_before_block_public_access_is_relaxed() {
    let w = world("dormant-public");
    let seeded = seed_blocked_bucket_with_policy(&w, json!([owners_public_read(&w.bucket)]));
    moto().reset_requests(&w.bucket);

    for extra in [&["--dry-run"][..], &[]] {
        let out = w.with_role(extra).assert_exit(2);
        let stderr = stderr_str(&out);
        for expected in [
            "already grants public access in 1 statement other than kube-oidc-publisher's",
            &format!(
                "Sid \"OldWebsite\" (Allow s3:GetObject on arn:aws:s3:::{}/* to *)",
                w.bucket
            ),
            "Block Public Access (BlockPublicPolicy and RestrictPublicBuckets on) keeps it dormant",
            "Nothing was changed",
            "Remove it or restrict it",
            "another --bucket",
        ] {
            assert!(stderr.contains(expected), "{expected}:\n{stderr}");
        }
    }

    // Nothing written anywhere: Block Public Access still fully on, the policy byte for byte
    // as it was, no document, no provider, no role.
    assert_eq!(public_access_block(&w.bucket), [Some(true); 4]);
    assert_eq!(bucket_policy_text(&w.bucket), seeded);
    let s3 = moto().requests(&w.bucket);
    assert_eq!(s3.writes(), 0, "{:?}", s3.counts());
    assert!(moto()
        .get_object(&w.bucket, &w.key("openid/v1/jwks"))
        .is_none());
    assert_eq!(w.iam_requests().writes(), 0);
}

#[test]
fn a_public_statement_restricted_to_a_vpc_endpoint_lets_bootstrap_relax_block_public_access() {
    let w = world("vpce-restricted");
    let mut restricted = owners_public_read(&w.bucket);
    restricted["Condition"] = json!({ "StringEquals": { "aws:SourceVpce": "vpce-1a2b3c4d" } });
    seed_blocked_bucket_with_policy(&w, json!([restricted]));

    // The plan shows each flag it turns off and why that is safe.
    let out = w.bootstrap(&["--dry-run"]).assert_success();
    let stdout = stdout_str(&out);
    let line = stdout
        .lines()
        .find(|l| l.contains("s3:PutBucketPublicAccessBlock"))
        .unwrap_or_else(|| panic!("no Block Public Access change:\n{stdout}"));
    assert!(
        line.contains("BlockPublicPolicy true -> false, RestrictPublicBuckets true -> false"),
        "{line}"
    );
    assert!(
        line.contains("safe: no other statement grants public access (1 other statement checked)"),
        "{line}"
    );
    assert_eq!(public_access_block(&w.bucket), [Some(true); 4]);

    w.bootstrap(&[]).assert_success();
    assert_eq!(
        public_access_block(&w.bucket),
        [Some(true), Some(true), Some(false), Some(false)]
    );
    assert_eq!(
        bucket_policy(&w.bucket).unwrap(),
        json!({ "Version": "2012-10-17", "Statement": [restricted, our_statement(&w.bucket)] })
    );
    // A re-run relaxes nothing and writes nothing.
    moto().reset_requests(&w.bucket);
    let out = w.bootstrap(&[]).assert_success();
    assert!(!stdout_str(&out).contains("s3:PutBucketPublicAccessBlock"));
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
}

/// Issue 14, must-fix 5: a statement carrying our Sid was replaced whatever it said, even the
/// owner's Deny.
#[test]
fn a_deny_statement_with_our_sid_is_refused_and_kept_byte_for_byte() {
    let w = world("our-sid-deny");
    let deny = json!({
        "Sid": "KubeOidcPublisherPublicRead",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{}/private/*", w.bucket)
    });
    let seeded = seed_blocked_bucket_with_policy(&w, json!([deny]));
    moto().reset_requests(&w.bucket);

    let out = w.bootstrap(&[]).assert_exit(2);
    let stderr = stderr_str(&out);
    for expected in [
        "statement \"KubeOidcPublisherPublicRead\" has the Sid kube-oidc-publisher uses for its own statement, but it is not one kube-oidc-publisher wrote",
        "its Effect is Deny, not Allow",
        "Nothing was changed",
        "give it another Sid",
    ] {
        assert!(stderr.contains(expected), "{expected}:\n{stderr}");
    }
    assert_eq!(bucket_policy_text(&w.bucket), seeded);
    assert_eq!(public_access_block(&w.bucket), [Some(true); 4]);
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    assert_eq!(w.iam_requests().writes(), 0);
}

/// Issue 14 (messages): with --source files bootstrap printed only the new issuer's flags,
/// silently dropping the issuer the API server signs with now.
#[test]
fn with_source_files_the_flags_say_the_current_issuer_must_be_kept() {
    let w = world("source-files");
    let key = fixture_path("key-rsa-old.pub.pem");
    let key = key.to_str().unwrap();
    let out = w
        .bootstrap(&["--source", "files", "--key-file", key])
        .assert_success();
    let stdout = stdout_str(&out);
    assert!(
        stdout.contains("the issuer your kube-apiservers sign with now is unknown to kube-oidc-publisher (--source files reads no API server)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("keep it as a second --service-account-issuer"),
        "{stdout}"
    );
    let out = w
        .bootstrap(&["--source", "files", "--key-file", key, "--output", "json"])
        .assert_success();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["api_server_issuer"], Value::Null);
    assert!(
        summary["api_server_flags_note"]
            .as_str()
            .is_some_and(|n| n.contains("keep it as a second --service-account-issuer")),
        "{summary}"
    );
}

/// Regression (#9): bootstrap asked STS GetCallerIdentity twice, once for its own plan and
/// again when it published the documents and the provider. It asks once and hands the account on.
#[test]
fn sts_is_asked_for_the_account_once_per_bootstrap() {
    let w = world("sts-once");
    w.with_role(&[]).assert_success();
    let sts = moto().iam_requests_where(&[("service", "sts"), ("access_key", &w.access_key)]);
    assert_eq!(sts.count("GetCallerIdentity"), 1, "{:?}", sts.counts());
}

/// Issue 11: the second cluster's bootstrap in a shared bucket replaced the public grant, so
/// the first cluster's documents stopped being public (STS: "Couldn't retrieve verification
/// key"). Each bootstrap now adds its two documents to the grant and keeps every other
/// cluster's, the owner's statement stays as it was, and re-running either cluster's
/// bootstrap or sync writes nothing.
#[test]
fn clusters_sharing_a_bucket_keep_each_others_public_grant() {
    let w = world("shared-bucket");
    moto().create_bucket(&w.bucket);
    let theirs = access_logs_statement(&w.bucket);
    put_bucket_policy(
        &w.bucket,
        &json!({ "Version": "2012-10-17", "Statement": [theirs] }),
    );

    for prefix in ["c1", "c2", "c3"] {
        w.bootstrap_prefix(prefix, &[]).assert_success();
    }
    assert_eq!(
        our_resources(&w.bucket),
        documents_of(&w.bucket, &["c1", "c2", "c3"])
    );
    let policy = bucket_policy(&w.bucket).unwrap();
    assert_eq!(policy["Statement"][0], theirs, "{policy:#}");

    // Any cluster's re-run, in any order, writes nothing, and its JSON says how full the
    // policy is.
    moto().reset_requests(&w.bucket);
    for prefix in ["c2", "c1", "c3"] {
        let out = w
            .bootstrap_prefix(prefix, &["--output", "json"])
            .assert_success();
        let summary: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(summary["writes"], 0, "{prefix}: {summary}");
        assert_eq!(
            summary["bucket_policy_bytes"],
            bucket_policy(&w.bucket).unwrap().to_string().len(),
            "{summary}"
        );
        assert_eq!(summary["bucket_policy_limit_bytes"], 20480, "{summary}");
    }
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    assert_eq!(
        our_resources(&w.bucket),
        documents_of(&w.bucket, &["c1", "c2", "c3"])
    );
}

/// Issue 11: S3 refuses a bucket policy over 20 KB. With the grant already holding about as
/// many clusters as fit, the next cluster's bootstrap stops before any write and says what to
/// do, the policy byte for byte as it was.
#[test]
fn a_bucket_policy_over_20_kb_is_refused_before_s3_and_nothing_changes() {
    let w = world("policy-limit");
    moto().create_bucket(&w.bucket);
    let mut prefixes: Vec<String> = Vec::new();
    let statement = |prefixes: &[String]| {
        let names: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        json!({
            "Sid": "KubeOidcPublisherPublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": documents_of(&w.bucket, &names),
        })
    };
    // Fill the grant until one more cluster of this name length would not fit.
    loop {
        prefixes.push(format!("fleet-cluster-{:04}", prefixes.len()));
        let policy = json!({ "Version": "2012-10-17", "Statement": [statement(&prefixes)] });
        if policy.to_string().len() > 20480 - 200 {
            break;
        }
    }
    let seeded = json!({ "Version": "2012-10-17", "Statement": [statement(&prefixes)] });
    assert!(prefixes.len() >= 100, "{} clusters", prefixes.len());
    put_bucket_policy(&w.bucket, &seeded);
    let seeded = seeded.to_string();
    moto().reset_requests(&w.bucket);

    let out = w.bootstrap_prefix("fleet-cluster-new1", &[]).assert_exit(2);
    let stderr = stderr_str(&out);
    for expected in [
        "over S3's limit of 20 KB (20480 bytes)",
        &format!("{} clusters' documents public", prefixes.len() + 1),
        "nothing was changed",
        "another bucket (--bucket)",
    ] {
        assert!(stderr.contains(expected), "{expected}:\n{stderr}");
    }
    assert_eq!(bucket_policy_text(&w.bucket), seeded);
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    assert_eq!(w.iam_requests().writes(), 0);
}
