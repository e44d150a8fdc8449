//! A `bootstrap` test's world against moto and a fake kube-apiserver (used by
//! tests/bootstrap.rs and tests/bootstrap_delete.rs): its own API server, kubeconfig, bucket
//! name, role name and access key id, so tests run in parallel; and readers of what S3 then
//! holds (the bucket policy, our public grant).

use std::path::PathBuf;

use serde_json::{json, Value};

use super::moto::provider_arn;
use super::*;

pub const PREFIX: &str = "prod-1";

/// One test's world: a fake API server, a kubeconfig, a bucket name (not created), a role
/// name, and a command signing with the test's own access key id.
pub struct World {
    pub server: FakeApiServer,
    pub _dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub cmd: TestCommand,
    pub bucket: String,
    pub role: String,
    pub access_key: String,
}

pub fn world(name: &str) -> World {
    world_with(name, |_| Scenario::Rsa)
}

/// A world whose API server serves `scenario(bucket)`.
pub fn world_with(name: &str, scenario: impl FnOnce(&str) -> Scenario) -> World {
    let bucket = moto().unique_bucket(name);
    let server = FakeApiServer::with_scenario(scenario(&bucket));
    let (dir, mut cmd) = setup(name);
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let access_key = moto().unique_access_key(name);
    cmd.moto(moto())
        .env("AWS_ACCESS_KEY_ID", &access_key)
        .env("AWS_ENDPOINT_URL_S3_CONTROL", moto().s3_control_endpoint());
    let role = format!("kop-{bucket}");
    World {
        server,
        _dir: dir,
        kubeconfig,
        cmd,
        bucket,
        role,
        access_key,
    }
}

impl World {
    /// `bootstrap` for this world's bucket with prefix prod-1, path-style S3, no thumbprint
    /// fetch (the bucket's public host is not reachable from here), plus `extra`.
    pub fn bootstrap(&self, extra: &[&str]) -> TestCommand {
        self.bootstrap_prefix(PREFIX, extra)
    }

    /// `bootstrap` of the cluster published under `prefix` of this world's bucket.
    pub fn bootstrap_prefix(&self, prefix: &str, extra: &[&str]) -> TestCommand {
        let mut cmd = self.cmd.clone();
        cmd.args([
            "bootstrap",
            "--bucket",
            &self.bucket,
            "--prefix",
            prefix,
            "--s3-path-style",
            "--thumbprint",
            "none",
            "--kubeconfig",
        ])
        .arg(&self.kubeconfig)
        .args(extra);
        cmd
    }

    pub fn with_role(&self, extra: &[&str]) -> TestCommand {
        let mut args = vec!["--publisher-role", self.role.as_str()];
        args.extend_from_slice(extra);
        self.bootstrap(&args)
    }

    pub fn issuer(&self) -> String {
        format!(
            "https://{}.s3.us-east-1.amazonaws.com/{PREFIX}",
            self.bucket
        )
    }

    pub fn provider_arn(&self) -> String {
        provider_arn(&self.issuer())
    }

    pub fn iam_requests(&self) -> super::moto::IamRequests {
        moto().iam_requests_where(&[("access_key", &self.access_key)])
    }

    pub fn key(&self, key: &str) -> String {
        format!("{PREFIX}/{key}")
    }
}

pub fn bucket_policy(bucket: &str) -> Option<Value> {
    let out = moto().block_on(moto().client().get_bucket_policy().bucket(bucket).send());
    match out {
        Ok(out) => Some(serde_json::from_str(out.policy().unwrap()).unwrap()),
        Err(e)
            if aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchBucketPolicy") =>
        {
            None
        }
        Err(e) => panic!("get bucket policy {bucket}: {e:?}"),
    }
}

pub fn bucket_exists(bucket: &str) -> bool {
    moto()
        .block_on(moto().client().head_bucket().bucket(bucket).send())
        .is_ok()
}

/// The policy text exactly as S3 serves it.
pub fn bucket_policy_text(bucket: &str) -> String {
    let out = moto()
        .block_on(moto().client().get_bucket_policy().bucket(bucket).send())
        .expect("bucket policy");
    out.policy().unwrap().to_owned()
}

/// The public grant's resources of every cluster in `prefixes`, in that order.
pub fn documents_of(bucket: &str, prefixes: &[&str]) -> Vec<String> {
    prefixes
        .iter()
        .flat_map(|p| {
            [
                format!("arn:aws:s3:::{bucket}/{p}/.well-known/openid-configuration"),
                format!("arn:aws:s3:::{bucket}/{p}/openid/v1/jwks"),
            ]
        })
        .collect()
}

pub fn our_resources(bucket: &str) -> Vec<String> {
    let policy = bucket_policy(bucket).expect("a bucket policy");
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    let ours: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Sid"] == "KubeOidcPublisherPublicRead")
        .collect();
    assert_eq!(ours.len(), 1, "{policy:#}");
    serde_json::from_value(ours[0]["Resource"].clone()).unwrap()
}

/// A statement of the bucket's owner: S3 server access logs may write under access-logs/.
pub fn access_logs_statement(bucket: &str) -> Value {
    json!({
        "Sid": "AllowServerAccessLogs",
        "Effect": "Allow",
        "Principal": { "Service": "logging.s3.amazonaws.com" },
        "Action": "s3:PutObject",
        "Resource": format!("arn:aws:s3:::{bucket}/access-logs/*")
    })
}

/// Sets the bucket's policy as its owner would (signed, outside the code under test).
pub fn put_bucket_policy(bucket: &str, policy: &Value) {
    moto()
        .block_on(
            moto()
                .client()
                .put_bucket_policy()
                .bucket(bucket)
                .policy(policy.to_string())
                .send(),
        )
        .expect("seed policy");
}
