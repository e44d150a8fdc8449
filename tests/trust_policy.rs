//! `trust-policy` through the real binary: the whole document offline with `--account-id`, the
//! S3 store's default issuer and the region's partition, StringLike with a warning for one
//! wildcard, refusal (exit 2, with the fix) of two wildcards and of invalid names, and the
//! account id from STS GetCallerIdentity on the moto server, or a message pointing to
//! `--account-id` when STS cannot answer. Several clusters (issue #13): `--issuer` and `--store`
//! repeated and mixed give one statement per provider, a provider named twice one statement;
//! past IAM's default trust policy length a warning with the measured length, past the largest
//! quota a refusal.

mod support;

use serde_json::{json, Value};

use support::moto::IamFault;
use support::{moto, setup, stderr_str, stdout_str, TestCommand};

/// The document on stdout, which must be JSON and pretty-printed.
fn document(output: &std::process::Output) -> Value {
    let stdout = stdout_str(output);
    assert!(stdout.contains("\n  \""), "not pretty-printed:\n{stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

const ISSUER: &str = "https://oidc.example.test/clusters/c1";
const ACCOUNT: &str = "123456789012";

/// `trust-policy --namespace NS --service-account NAME --issuer ISSUER --account-id ACCOUNT`.
fn offline<'a>(cmd: &'a mut TestCommand, namespace: &str, name: &str) -> &'a mut TestCommand {
    offline_with(cmd, namespace, name, ISSUER, ACCOUNT)
}

fn offline_with<'a>(
    cmd: &'a mut TestCommand,
    namespace: &str,
    name: &str,
    issuer: &str,
    account: &str,
) -> &'a mut TestCommand {
    cmd.args([
        "trust-policy",
        "--namespace",
        namespace,
        "--service-account",
        name,
        "--issuer",
        issuer,
        "--account-id",
        account,
    ])
}

#[test]
fn prints_the_whole_trust_policy_offline() {
    let (_dir, mut cmd) = setup("trust-policy-offline");
    let output = offline(&mut cmd, "payments", "api").assert_success();
    assert_eq!(
        document(&output),
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "KubernetesServiceAccount",
                "Effect": "Allow",
                "Principal": {
                    "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/clusters/c1"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "oidc.example.test/clusters/c1:sub": "system:serviceaccount:payments:api",
                        "oidc.example.test/clusters/c1:aud": "sts.amazonaws.com"
                    }
                }
            }]
        })
    );
    assert_eq!(stderr_str(&output), "", "no warning for exact names");
}

#[test]
fn every_option_has_an_environment_twin() {
    let (_dir, mut cmd) = setup("trust-policy-env");
    cmd.arg("trust-policy")
        .env("KUBE_OIDC_PUBLISHER_NAMESPACE", "payments")
        .env("KUBE_OIDC_PUBLISHER_SERVICE_ACCOUNT", "api")
        .env("KUBE_OIDC_PUBLISHER_AUDIENCE", "vault")
        .env("KUBE_OIDC_PUBLISHER_STORE", "s3://my-oidc/c1")
        .env("KUBE_OIDC_PUBLISHER_REGION", "eu-west-1")
        .env("KUBE_OIDC_PUBLISHER_ACCOUNT_ID", "210987654321")
        .env("KUBE_OIDC_PUBLISHER_PARTITION", "aws-us-gov")
        .env("KUBE_OIDC_PUBLISHER_OUTPUT", "json");
    let output = cmd.assert_success();
    let result: Value = serde_json::from_str(&stdout_str(&output)).expect("one JSON object");
    let host_path = "my-oidc.s3.eu-west-1.amazonaws.com/c1";
    assert_eq!(result["status"], "ok");
    assert_eq!(result["issuer"], format!("https://{host_path}"));
    assert_eq!(
        result["provider_arn"],
        format!("arn:aws-us-gov:iam::210987654321:oidc-provider/{host_path}")
    );
    assert_eq!(result["subject"], "system:serviceaccount:payments:api");
    assert_eq!(result["audience"], "vault");
    assert_eq!(result["warning"], Value::Null);
    let condition = &result["trust_policy"]["Statement"][0]["Condition"]["StringEquals"];
    assert_eq!(condition[format!("{host_path}:aud")], "vault");
}

#[test]
fn the_store_gives_the_issuer_and_the_region_the_partition() {
    let (_dir, mut cmd) = setup("trust-policy-store");
    cmd.args([
        "trust-policy",
        "--namespace",
        "payments",
        "--service-account",
        "api",
        "--store",
        "s3://my-oidc/c1",
        "--region",
        "cn-north-1",
        "--account-id",
        "123456789012",
    ]);
    let policy = document(&cmd.assert_success());
    let host_path = "my-oidc.s3.cn-north-1.amazonaws.com.cn/c1";
    assert_eq!(
        policy["Statement"][0]["Principal"]["Federated"],
        format!("arn:aws-cn:iam::123456789012:oidc-provider/{host_path}")
    );
    assert_eq!(
        policy["Statement"][0]["Condition"]["StringEquals"][format!("{host_path}:sub")],
        "system:serviceaccount:payments:api"
    );

    // --issuer wins over the store; --partition over the region.
    cmd.args([
        "--issuer",
        "https://oidc.example.test",
        "--partition",
        "aws",
    ]);
    let policy = document(&cmd.assert_success());
    assert_eq!(
        policy["Statement"][0]["Principal"]["Federated"],
        "arn:aws:iam::123456789012:oidc-provider/oidc.example.test"
    );
}

#[test]
fn a_wildcard_matches_with_string_like_and_warns() {
    let (_dir, mut cmd) = setup("trust-policy-wildcard");
    let output = offline(&mut cmd, "team-*", "api").assert_success();
    let condition = document(&output)["Statement"][0]["Condition"].clone();
    assert_eq!(
        condition,
        json!({
            "StringEquals": { "oidc.example.test/clusters/c1:aud": "sts.amazonaws.com" },
            "StringLike": {
                "oidc.example.test/clusters/c1:sub": "system:serviceaccount:team-*:api"
            }
        })
    );
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("WARN") && stderr.contains("StringLike"),
        "{stderr}"
    );
    assert!(
        stderr.contains("system:serviceaccount:team-*:api"),
        "{stderr}"
    );

    let (_dir, mut cmd) = setup("trust-policy-wildcard-name");
    let output = offline(&mut cmd, "ci", "runner-?").assert_success();
    assert_eq!(
        document(&output)["Statement"][0]["Condition"]["StringLike"]
            ["oidc.example.test/clusters/c1:sub"],
        "system:serviceaccount:ci:runner-?"
    );
    assert!(stderr_str(&output).contains("StringLike"));
}

#[test]
fn refuses_two_wildcards_and_invalid_input_with_the_fix() {
    // (case, namespace, name, issuer, account id, what stderr must say)
    let cases = [
        (
            "both wildcards",
            "*",
            "*",
            ISSUER,
            ACCOUNT,
            "pass the exact namespace",
        ),
        (
            "two wildcards, other kinds",
            "team-?",
            "app-*",
            ISSUER,
            ACCOUNT,
            "contain wildcards",
        ),
        (
            "namespace",
            "Payments",
            "api",
            ISSUER,
            ACCOUNT,
            "kubectl get namespaces",
        ),
        (
            "name",
            "payments",
            "api_v1",
            ISSUER,
            ACCOUNT,
            "kubectl get serviceaccounts",
        ),
        ("account id", "payments", "api", ISSUER, "1234", "12-digit"),
        (
            "issuer",
            "payments",
            "api",
            "https://oidc.example.test/",
            ACCOUNT,
            "trailing slash",
        ),
    ];
    for (case, namespace, name, issuer, account, expected) in cases {
        let (_dir, mut cmd) = setup("trust-policy-refused");
        offline_with(&mut cmd, namespace, name, issuer, account);
        let output = cmd.assert_exit(2);
        assert_eq!(stdout_str(&output), "", "{case}: nothing on stdout");
        let stderr = stderr_str(&output);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{case}: {stderr}"
        );
    }

    // With --output json, stdout carries an error object too.
    let (_dir, mut cmd) = setup("trust-policy-refused-json");
    offline(&mut cmd, "*", "*").args(["--output", "json"]);
    let output = cmd.assert_exit(2);
    let result: Value = serde_json::from_str(&stdout_str(&output)).expect("JSON error object");
    assert_eq!(result["status"], "error");
    assert!(result["error"].as_str().unwrap().contains("wildcards"));

    // No issuer at all is a usage error (exit 2) naming both ways to give one.
    let (_dir, mut cmd) = setup("trust-policy-no-issuer");
    cmd.args(["trust-policy", "--namespace", "a", "--service-account", "b"]);
    let stderr = stderr_str(&cmd.assert_exit(2));
    assert!(
        stderr.contains("--issuer") && stderr.contains("--store"),
        "{stderr}"
    );
}

#[test]
fn the_account_id_comes_from_sts() {
    let moto = moto();
    let key = moto.unique_access_key("trust-policy");
    let (_dir, mut cmd) = setup("trust-policy-sts");
    cmd.moto(moto).env("AWS_ACCESS_KEY_ID", &key).args([
        "trust-policy",
        "--namespace",
        "payments",
        "--service-account",
        "api",
        "--store",
        "s3://my-oidc/c1",
    ]);
    let policy = document(&cmd.assert_success());
    // The region (us-east-1) came from the SDK chain, the account from GetCallerIdentity.
    assert_eq!(
        policy["Statement"][0]["Principal"]["Federated"],
        format!(
            "arn:aws:iam::{}:oidc-provider/my-oidc.s3.us-east-1.amazonaws.com/c1",
            support::moto::ACCOUNT_ID
        )
    );
    let calls = moto.iam_requests_where(&[("access_key", &key)]);
    assert_eq!(calls.count("GetCallerIdentity"), 1, "{:?}", calls.counts());
    assert_eq!(calls.total(), 1, "nothing but STS: {:?}", calls.counts());

    // --account-id: STS is not asked.
    cmd.args(["--account-id", "123456789012"]);
    cmd.assert_success();
    assert_eq!(moto.iam_requests_where(&[("access_key", &key)]).total(), 1);
}

#[test]
fn without_an_account_from_sts_it_points_to_account_id() {
    // STS refuses the credentials.
    let moto = moto();
    let key = moto.unique_access_key("trust-policy-denied");
    moto.inject_iam_fault(&IamFault::sts(&key, "AccessDenied").always());
    let (_dir, mut cmd) = setup("trust-policy-sts-denied");
    cmd.moto(moto).env("AWS_ACCESS_KEY_ID", &key).args([
        "trust-policy",
        "--namespace",
        "payments",
        "--service-account",
        "api",
        "--issuer",
        ISSUER,
    ]);
    let stderr = stderr_str(&cmd.assert_exit(2));
    assert!(
        stderr.contains("--account-id") && stderr.contains("GetCallerIdentity"),
        "{stderr}"
    );
    assert!(
        stderr.contains("AccessDenied") || stderr.contains("not authorized"),
        "{stderr}"
    );
    moto.clear_access_key_faults(&key);

    // No credentials anywhere (HOME is empty, instance metadata disabled).
    let (_dir, mut cmd) = setup("trust-policy-no-credentials");
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "eu-west-1")
        .args([
            "trust-policy",
            "--namespace",
            "payments",
            "--service-account",
            "api",
            "--issuer",
            ISSUER,
        ]);
    let output = cmd.assert_exit(2);
    assert_eq!(stdout_str(&output), "");
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("--account-id") && stderr.contains("credentials"),
        "{stderr}"
    );
}

#[test]
fn service_account_in_doctors_namespace_slash_name_form_hints_namespace_and_service_account() {
    // Issue #14: `--service-account shop/api` (doctor's form) must be answered with the two
    // flags trust-policy takes, with or without --namespace; nothing is printed on stdout.
    for with_namespace in [false, true] {
        let (_dir, mut cmd) = setup("trust-policy-ns-slash-name");
        cmd.arg("trust-policy");
        if with_namespace {
            cmd.args(["--namespace", "shop"]);
        }
        cmd.args([
            "--service-account",
            "shop/api",
            "--issuer",
            ISSUER,
            "--account-id",
            ACCOUNT,
        ]);
        let output = cmd.assert_exit(2);
        let stderr = stderr_str(&output);
        assert!(
            stderr.contains("pass --namespace shop --service-account api"),
            "{stderr}"
        );
        assert_eq!(stdout_str(&output), "", "no policy is printed");
    }
    // Without --namespace and without a slash: the flag to pass.
    let (_dir, mut cmd) = setup("trust-policy-no-namespace");
    cmd.args([
        "trust-policy",
        "--service-account",
        "api",
        "--issuer",
        ISSUER,
        "--account-id",
        ACCOUNT,
    ]);
    let stderr = stderr_str(&cmd.assert_exit(2));
    assert!(
        stderr.contains("trust-policy needs --namespace NAMESPACE"),
        "{stderr}"
    );
}

#[test]
fn output_json_argument_errors_print_a_status_error_object_on_stdout() {
    // Issue #14: docs/cli.md promises {"status":"error",…} on stdout with --output json, but
    // errors of the argument parser printed nothing there (our own validation errors did, in
    // some commands only).
    let json_error = |output: &std::process::Output| -> Value {
        serde_json::from_str(&stdout_str(output)).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}): {}",
                stdout_str(output)
            )
        })
    };
    // A clap error: an unknown flag, --output json given before it.
    let (dir, mut cmd) = setup("json-usage-error");
    let store = dir.path().join("public");
    cmd.args([
        "sync",
        "--output",
        "json",
        "--isuer",
        "https://oidc.example.test/c1",
    ])
    .arg("--store")
    .arg(&store);
    let output = cmd.assert_exit(2);
    let result = json_error(&output);
    assert_eq!(result["status"], "error", "{result}");
    let error = result["error"].as_str().unwrap();
    assert!(
        error.contains("unexpected argument '--isuer' found"),
        "{result}"
    );
    assert!(error.contains("'--issuer'"), "the tip is kept: {result}");
    assert!(
        stderr_str(&output).contains("error: unexpected argument '--isuer' found"),
        "clap's message stays on stderr: {}",
        stderr_str(&output)
    );
    assert!(!store.exists(), "nothing written");

    // --output json from the environment, a missing required option.
    let (_dir, mut cmd) = setup("json-usage-error-env");
    cmd.env("KUBE_OIDC_PUBLISHER_OUTPUT", "json")
        .args(["rotate", "revoke", "--store", "./public"]);
    let output = cmd.assert_exit(2);
    let result = json_error(&output);
    assert!(
        result["error"].as_str().unwrap().contains("--kid"),
        "{result}"
    );

    // Our own validation errors, in the commands that printed nothing on stdout.
    let (_dir, mut cmd) = setup("json-thumbprint-error");
    cmd.args(["thumbprint", "http://oidc.example.test", "--output", "json"]);
    let output = cmd.assert_exit(2);
    assert!(
        json_error(&output)["error"]
            .as_str()
            .unwrap()
            .contains("https://"),
        "{}",
        stdout_str(&output)
    );
    let (dir, mut cmd) = setup("json-rotate-error");
    let store = dir.path().join("public");
    cmd.args(["rotate", "status", "--source", "files", "--output", "json"])
        .arg("--store")
        .arg(&store)
        .args(["--issuer", "https://oidc.example.test/c1"]);
    let output = cmd.assert_exit(2);
    assert!(
        json_error(&output)["error"]
            .as_str()
            .unwrap()
            .contains("--key-file"),
        "{}",
        stdout_str(&output)
    );
    assert!(!store.exists(), "nothing written");

    // Text output: nothing on stdout; --help is unchanged.
    let (_dir, mut cmd) = setup("text-usage-error");
    cmd.args(["sync", "--isuer", "x"]);
    assert_eq!(stdout_str(&cmd.assert_exit(2)), "");
    let (_dir, mut cmd) = setup("json-help");
    cmd.args(["sync", "--output", "json", "--help"]);
    let help = stdout_str(&cmd.assert_success());
    assert!(help.starts_with("Publish"), "{help}");
}

/// [`offline`] for `payments/api` (its `--issuer` is the first cluster), then `args`.
fn several<'a>(cmd: &'a mut TestCommand, args: &[&str]) -> &'a mut TestCommand {
    offline(cmd, "payments", "api").args(args)
}

/// The statement `trust-policy` writes for `payments/api` and the provider at `host_path`.
fn statement(sid: &str, host_path: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {
            "Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{host_path}")
        },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {
                format!("{host_path}:sub"): "system:serviceaccount:payments:api",
                format!("{host_path}:aud"): "sts.amazonaws.com"
            }
        }
    })
}

/// After [`offline`]'s `--issuer`: `--issuer` and `--store` both repeated and mixed, with the
/// store's own URL given again as an --issuer and a store given twice.
const SEVERAL: [&str; 10] = [
    "--store",
    "s3://my-oidc/c2",
    "--issuer",
    "https://other.example.test",
    "--issuer",
    "https://my-oidc.s3.eu-west-1.amazonaws.com/c2",
    "--store",
    "s3://my-oidc/c2",
    "--region",
    "eu-west-1",
];

#[test]
fn several_issuers_and_stores_give_one_statement_per_provider() {
    let (_dir, mut cmd) = setup("trust-policy-several");
    let output = several(&mut cmd, &SEVERAL).assert_success();
    // Every --issuer, then every --store's issuer; each provider once, with its own conditions.
    assert_eq!(
        document(&output),
        json!({
            "Version": "2012-10-17",
            "Statement": [
                statement("KubernetesServiceAccount", "oidc.example.test/clusters/c1"),
                statement("KubernetesServiceAccount2", "other.example.test"),
                statement("KubernetesServiceAccount3", "my-oidc.s3.eu-west-1.amazonaws.com/c2"),
            ]
        })
    );
    assert_eq!(stderr_str(&output), "", "no warning: 3 statements fit");

    // --output json: no single issuer, the list of providers in statement order instead.
    let (_dir, mut cmd) = setup("trust-policy-several-json");
    several(&mut cmd, &SEVERAL).args(["--output", "json"]);
    let result: Value =
        serde_json::from_str(&stdout_str(&cmd.assert_success())).expect("one JSON object");
    assert_eq!(result["status"], "ok");
    assert_eq!(result["issuer"], Value::Null);
    assert_eq!(result["provider_arn"], Value::Null);
    let arn = |host_path: &str| format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{host_path}");
    assert_eq!(
        result["providers"],
        json!([
            { "issuer": ISSUER, "provider_arn": arn("oidc.example.test/clusters/c1") },
            { "issuer": "https://other.example.test", "provider_arn": arn("other.example.test") },
            {
                "issuer": "https://my-oidc.s3.eu-west-1.amazonaws.com/c2",
                "provider_arn": arn("my-oidc.s3.eu-west-1.amazonaws.com/c2")
            },
        ])
    );
    assert_eq!(
        result["trust_policy"]["Statement"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(result["subject"], "system:serviceaccount:payments:api");
    assert_eq!(result["warning"], Value::Null);
}

#[test]
fn a_directory_store_next_to_an_issuer_adds_nothing() {
    // sync needs both for a directory, and the commands share KUBE_OIDC_PUBLISHER_STORE.
    let (_dir, mut cmd) = setup("trust-policy-issuer-only");
    let alone = stdout_str(&offline(&mut cmd, "payments", "api").assert_success());
    let (_dir, mut cmd) = setup("trust-policy-issuer-and-dir");
    offline(&mut cmd, "payments", "api").env("KUBE_OIDC_PUBLISHER_STORE", "./public");
    assert_eq!(stdout_str(&cmd.assert_success()), alone);
}

/// With [`offline`]'s `--issuer` (c1), `count` clusters: `--issuer
/// https://oidc.example.test/clusters/c<N>` for N in 2..=count. 352 characters of policy each.
fn clusters(count: usize) -> Vec<String> {
    (2..=count)
        .flat_map(|n| {
            [
                "--issuer".to_owned(),
                format!("https://oidc.example.test/clusters/c{n}"),
            ]
        })
        .collect()
}

#[test]
fn past_the_default_trust_policy_length_it_warns_with_the_length() {
    let (_dir, mut cmd) = setup("trust-policy-length-warning");
    let output = several(&mut cmd, &[]).args(clusters(6)).assert_success();
    let policy = document(&output);
    assert_eq!(policy["Statement"].as_array().unwrap().len(), 6);
    // Measured as IAM counts: the compact document, whitespace not counted.
    let characters = serde_json::to_string(&policy).unwrap().len();
    assert!((2049..=4096).contains(&characters), "{characters}");
    let stderr = stderr_str(&output);
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(
        stderr.contains(&format!("the trust policy is {characters} characters")),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"Role trust policy length\" quota of 2048")
            && stderr.contains("L-C07B4B0D"),
        "{stderr}"
    );

    // Five clusters fit in the default quota: no warning.
    let (_dir, mut cmd) = setup("trust-policy-length-fits");
    let output = several(&mut cmd, &[]).args(clusters(5)).assert_success();
    assert!(serde_json::to_string(&document(&output)).unwrap().len() <= 2048);
    assert_eq!(stderr_str(&output), "");
}

#[test]
fn past_the_largest_trust_policy_length_it_refuses_and_prints_no_policy() {
    let (_dir, mut cmd) = setup("trust-policy-length-refused");
    let output = several(&mut cmd, &[]).args(clusters(12)).assert_exit(2);
    assert_eq!(stdout_str(&output), "", "nothing on stdout");
    let stderr = stderr_str(&output);
    assert!(
        stderr.starts_with("error: the trust policy would be "),
        "{stderr}"
    );
    assert!(
        stderr.contains("12 statements")
            && stderr.contains("over 4096")
            && stderr.contains("\"Role trust policy length\"")
            && stderr.contains("one role per group"),
        "{stderr}"
    );

    // --output json: the error object alone, no policy.
    let (_dir, mut cmd) = setup("trust-policy-length-refused-json");
    several(&mut cmd, &["--output", "json"]).args(clusters(12));
    let output = cmd.assert_exit(2);
    let result: Value = serde_json::from_str(&stdout_str(&output)).expect("JSON error object");
    assert_eq!(result["status"], "error");
    assert_eq!(result.get("trust_policy"), None);
    assert!(
        result["error"].as_str().unwrap().contains("over 4096"),
        "{result}"
    );

    // Eleven clusters are within the largest quota: printed, with the warning.
    let (_dir, mut cmd) = setup("trust-policy-length-largest");
    let output = several(&mut cmd, &[]).args(clusters(11)).assert_success();
    assert!(serde_json::to_string(&document(&output)).unwrap().len() <= 4096);
    assert!(stderr_str(&output).contains("WARN"));
}
