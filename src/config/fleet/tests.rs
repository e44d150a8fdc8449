use std::path::PathBuf;

use super::*;
use crate::config::{fleet_from_argv, IssuerChoice};
use crate::store::Location;

/// `sync ARGS` with `text` as the fleet file `fleet.yaml`.
fn fleet(args: &[&str], text: &str) -> Result<Fleet, FleetError> {
    let mut argv = vec!["kube-oidc-publisher", "sync", "--fleet", "fleet.yaml"];
    argv.extend_from_slice(args);
    fleet_from_argv(&argv, (PathBuf::from("fleet.yaml"), text.to_owned()))
}

const TWO: &str = "\
defaults:
  region: eu-west-1
  cache-max-age: 600
  audience: [sts.amazonaws.com, extra]
clusters:
  - name: prod-1
    kubeconfig: /etc/fleet/prod-1.yaml
    context: admin@prod-1
    store: s3://acme-oidc/prod-1
    issuer: https://oidc.acme.com/prod-1
  - name: prod-2
    kubeconfig-secret: {namespace: fleet, name: prod-2-kubeconfig}
    store: s3://acme-oidc/prod-2
    cache-max-age: 60
    no-iam: true
";

#[test]
fn each_cluster_takes_the_defaults_then_its_own_options() {
    let fleet = fleet(&[], TWO).unwrap();
    assert_eq!(fleet.concurrency, 8);
    let [one, two] = &fleet.members[..] else {
        panic!("two members")
    };
    assert_eq!(one.name, "prod-1");
    assert_eq!(one.origin, "fleet.yaml:6");
    assert_eq!(one.kubeconfig, KubeconfigFrom::Options);
    assert_eq!(
        one.config.kubeconfig,
        Some(PathBuf::from("/etc/fleet/prod-1.yaml"))
    );
    assert_eq!(one.config.context.as_deref(), Some("admin@prod-1"));
    assert_eq!(one.config.region.as_deref(), Some("eu-west-1"));
    assert_eq!(one.config.cache_max_age, 600);
    let iam = one.config.iam.as_ref().unwrap();
    assert_eq!(iam.audiences, ["sts.amazonaws.com", "extra"]);
    assert_eq!(iam.cluster_name.as_deref(), Some("prod-1"));
    assert!(matches!(one.config.issuer, IssuerChoice::Explicit(_)));

    assert_eq!(two.config.cache_max_age, 60);
    assert!(two.config.iam.is_none());
    assert_eq!(two.config.issuer, IssuerChoice::FromBucket);
    assert_eq!(
        two.kubeconfig,
        KubeconfigFrom::Secret(SecretRef {
            namespace: "fleet".into(),
            name: "prod-2-kubeconfig".into(),
            key: "value".into(),
        })
    );
}

#[test]
fn the_command_line_applies_to_every_cluster_and_wins() {
    let fleet = fleet(
        &["--cache-max-age", "120", "--audience", "cli", "--dry-run"],
        TWO,
    )
    .unwrap();
    for member in &fleet.members {
        assert_eq!(member.config.cache_max_age, 120, "{}", member.name);
        assert_eq!(member.config.mode, crate::plan::Mode::DryRun);
    }
    let iam = fleet.members[0].config.iam.as_ref().unwrap();
    assert_eq!(iam.audiences, ["cli"]);
}

#[test]
fn options_that_name_one_cluster_are_refused_on_the_command_line() {
    for flag in [
        "--store=./x",
        "--issuer=https://o.example.com",
        "--context=c",
    ] {
        let error = fleet(&[flag], TWO).unwrap_err();
        assert!(
            matches!(&error, FleetError::OneCluster { long } if flag.starts_with(&format!("--{long}="))),
            "{flag}: {error}"
        );
    }
}

#[test]
fn a_bad_value_is_sync_s_message_at_its_line() {
    let text = TWO.replace("cache-max-age: 60\n", "cache-max-age: 0\n");
    assert_eq!(
        fleet(&[], &text).unwrap_err().to_string(),
        "fleet.yaml:14 (cluster prod-2): --cache-max-age 0 is out of range: use 1 to 86400 seconds (0 makes STS refetch on every call, which has led to throttling failures; 300 is the default)"
    );
    let text = TWO.replace("cache-max-age: 60\n", "cache-max-age: soon\n");
    let message = fleet(&[], &text).unwrap_err().to_string();
    assert!(
        message.starts_with(
            "fleet.yaml:14 (cluster prod-2): invalid value 'soon' for '--cache-max-age <SECONDS>'"
        ),
        "{message}"
    );
}

#[test]
fn keys_that_are_not_a_cluster_s_are_refused_with_their_line() {
    let cases = [
        (
            "    cache-maxage: 1\n",
            "fleet.yaml:15: `cache-maxage` is not an option of sync",
        ),
        (
            "    output: json\n",
            "fleet.yaml:15: `output` applies to the whole run",
        ),
        ("    no-iam: maybe\n", "fleet.yaml:15: `no-iam` is a switch"),
        (
            "    region: [a, b]\n",
            "fleet.yaml:15: `region` takes one value, not a list",
        ),
        (
            "    log-format: json\n",
            "fleet.yaml:15: `log-format` is not an option of sync",
        ),
    ];
    for (line, expected) in cases {
        let text = TWO.replace("    no-iam: true\n", line);
        let message = fleet(&[], &text).unwrap_err().to_string();
        assert!(message.starts_with(expected), "{line}→ {message}");
    }
}

#[test]
fn two_clusters_with_one_store_are_refused_naming_both() {
    let text = TWO.replace("s3://acme-oidc/prod-2", "s3://acme-oidc/prod-1");
    assert_eq!(
        fleet(&[], &text).unwrap_err(),
        FleetError::SharedStore {
            first: "fleet.yaml:6".into(),
            first_name: "prod-1".into(),
            second: "fleet.yaml:11".into(),
            second_name: "prod-2".into(),
        }
    );
}

#[test]
fn a_cluster_without_a_store_is_refused() {
    let text = "clusters:\n  - name: a\n    no-iam: true\n";
    assert!(matches!(
        fleet(&[], text),
        Err(FleetError::NoStore { name, .. }) if name == "a"
    ));
}

#[test]
fn a_key_set_to_nothing_removes_the_default() {
    let text =
        "defaults:\n  no-iam: true\nclusters:\n  - name: a\n    store: s3://bkt/a\n    no-iam: ~\n";
    let fleet = fleet(&[], text).unwrap();
    assert!(fleet.members[0].config.iam.is_some());
}

#[test]
fn cluster_api_discovery_checks_its_templates_once() {
    let args = [
        "--fleet-from",
        "cluster-api=capi",
        "--store-template",
        "s3://acme-oidc/{namespace}/{cluster}",
        "--no-iam",
    ];
    let discovery = fleet(&args, "clusters: []\n").unwrap().discovery.unwrap();
    assert_eq!(discovery.namespace.as_deref(), Some("capi"));
    let config = discovery
        .config_for("capi/w1", "s3://acme-oidc/capi/w1", None)
        .unwrap();
    assert_eq!(
        config.store,
        Location::S3 {
            bucket: "acme-oidc".into(),
            prefix: "capi/w1".into()
        }
    );
    let error = fleet(
        &[
            "--fleet-from",
            "capi",
            "--store-template",
            "s3://b/{cluster}",
        ],
        "clusters: []\n",
    )
    .unwrap_err();
    assert_eq!(error, FleetError::FleetFrom("capi".into()));
}
