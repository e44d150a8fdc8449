//! Reading a fleet's kubeconfigs from Secrets in the management cluster, against the fake
//! kube-apiserver: its Secrets routes answer as kube-apiserver does (whole or metadata only,
//! by label, in pages, 404 and RBAC's 403); `KubeSecrets` lists metadata only, across
//! namespaces and pages, and reads one key; and the whole chain the fleet pass uses, from a
//! Cluster API `<cluster>-kubeconfig` Secret on one API server to the keys of the workload
//! cluster behind another. These call the library; tests/fleet.rs runs the same through the
//! binary (`sync --fleet --fleet-from cluster-api`).

mod support;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use kube_oidc_publisher::fleet::secrets::{KubeSecrets, SecretRef, Secrets, SecretsError};
use kube_oidc_publisher::model::cluster_api::{discover, Template, CLUSTER_NAME_LABEL};
use kube_oidc_publisher::source::kube::{InlineKubeconfig, KubeOptions, KubeSource};
use kube_oidc_publisher::source::KeySource;
use support::*;

const TIMEOUT: Duration = Duration::from_secs(20);
const METADATA_ONLY: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
/// `cluster.x-k8s.io/cluster-name` as a label-exists selector in a query.
const SELECTOR: &str = "labelSelector=cluster.x-k8s.io%2Fcluster-name";

/// Cluster API's Secrets for `cluster` in `namespace`: the kubeconfig (key `value`) and the CA
/// and service-account keys, all with the cluster-name label.
fn cluster_api_secrets(namespace: &str, cluster: &str, kubeconfig: &str) -> Vec<FakeSecret> {
    let secret = |suffix: &str| {
        FakeSecret::new(namespace, &format!("{cluster}-{suffix}"))
            .label(CLUSTER_NAME_LABEL, cluster)
    };
    vec![
        secret("kubeconfig").data("value", kubeconfig),
        secret("ca")
            .data("tls.crt", "CERT")
            .data("tls.key", "PRIVATE-CA-KEY"),
        secret("sa")
            .data("tls.crt", "PUB")
            .data("tls.key", "PRIVATE-SA-KEY"),
    ]
}

fn json(response: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&response.body)))
}

fn item_names(list: &serde_json::Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_fake_serves_secrets_as_kube_apiserver_does() {
    let server = FakeApiServer::start();
    let mut secrets = cluster_api_secrets("fleet", "prod-1", "apiVersion: v1");
    secrets.push(FakeSecret::new("fleet", "unlabelled").data("value", "x"));
    secrets.push(FakeSecret::new("other", "b-kubeconfig").label(CLUSTER_NAME_LABEL, "b"));
    server.set_secrets(secrets);
    let admin = Some(server.token());
    let get = |path: &str, accept: Option<&str>| {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        https_request_with(server.addr(), server.ca_der(), "GET", path, admin, &headers)
    };

    let one = get("/api/v1/namespaces/fleet/secrets/prod-1-kubeconfig", None);
    assert_eq!(one.status, 200);
    let secret = json(&one);
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["labels"][CLUSTER_NAME_LABEL], "prod-1");
    let value = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["value"].as_str().unwrap())
        .unwrap();
    assert_eq!(value, b"apiVersion: v1");

    let absent = get("/api/v1/namespaces/fleet/secrets/nope", None);
    assert_eq!(absent.status, 404);
    assert_eq!(json(&absent)["message"], "secrets \"nope\" not found");

    // Metadata only: no data, whoever's Secret it is.
    let listed = get(&format!("/api/v1/secrets?{SELECTOR}"), Some(METADATA_ONLY));
    assert_eq!(listed.status, 200);
    let list = json(&listed);
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(
        item_names(&list),
        [
            "prod-1-ca",
            "prod-1-kubeconfig",
            "prod-1-sa",
            "b-kubeconfig"
        ]
    );
    let text = String::from_utf8_lossy(&listed.body);
    assert!(
        !text.contains("\"data\"") && !text.contains("UFJJVkFURS"),
        "{text}"
    );

    // A plain list is whole Secrets, as kube-apiserver answers it.
    let whole = json(&get(
        &format!("/api/v1/namespaces/fleet/secrets?{SELECTOR}"),
        None,
    ));
    assert_eq!(whole["kind"], "SecretList");
    assert_eq!(
        item_names(&whole),
        ["prod-1-ca", "prod-1-kubeconfig", "prod-1-sa"]
    );
    assert!(whole["items"][0]["data"]["tls.key"].is_string());

    // Pages.
    let first = json(&get(
        &format!("/api/v1/secrets?{SELECTOR}&limit=3"),
        Some(METADATA_ONLY),
    ));
    assert_eq!(item_names(&first).len(), 3);
    let token = first["metadata"]["continue"].as_str().unwrap().to_owned();
    let second = json(&get(
        &format!("/api/v1/secrets?{SELECTOR}&limit=3&continue={token}"),
        Some(METADATA_ONLY),
    ));
    assert_eq!(item_names(&second), ["b-kubeconfig"]);
    assert!(second["metadata"].get("continue").is_none(), "{second}");

    server.forbid_secrets(&["list"]);
    let forbidden = get(
        &format!("/api/v1/namespaces/fleet/secrets?{SELECTOR}"),
        None,
    );
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        json(&forbidden)["message"],
        "secrets is forbidden: User \"ceo-admin\" cannot list resource \"secrets\" in API group \"\" in the namespace \"fleet\""
    );
    assert_eq!(
        get("/api/v1/namespaces/fleet/secrets/prod-1-ca", None).status,
        200
    );
    let anonymous = server.request("GET", "/api/v1/namespaces/fleet/secrets/prod-1-ca", None);
    assert_eq!(anonymous.status, 403);
}

/// `KubeSecrets` for `server`, from a kubeconfig file in `dir`.
async fn kube_secrets(dir: &tempfile::TempDir, server: &FakeApiServer) -> KubeSecrets {
    let path: PathBuf = write_kubeconfig(dir.path(), server);
    KubeSecrets::from_kubeconfig(&path, None, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn secret_ref(namespace: &str, name: &str, key: &str) -> SecretRef {
    SecretRef {
        namespace: namespace.into(),
        name: name.into(),
        key: key.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn kube_secrets_lists_metadata_only_in_pages_and_reads_one_key() {
    let server = FakeApiServer::start();
    let dir = tempfile::tempdir().unwrap();
    // 501 labelled Secrets: two pages of 500.
    let mut secrets: Vec<FakeSecret> = (0..500)
        .map(|i| {
            FakeSecret::new("fleet", &format!("c{i:03}-kubeconfig"))
                .label(CLUSTER_NAME_LABEL, &format!("c{i:03}"))
                .data("value", "kubeconfig")
        })
        .collect();
    secrets.push(
        FakeSecret::new("team-b", "b-kubeconfig")
            .label(CLUSTER_NAME_LABEL, "b")
            .data("kubeconfig", "x"),
    );
    secrets.push(FakeSecret::new("fleet", "unlabelled").data("value", "x"));
    server.set_secrets(secrets);
    let kube = kube_secrets(&dir, &server).await;

    let everywhere = kube.list_labelled(None, CLUSTER_NAME_LABEL).await.unwrap();
    assert_eq!(everywhere.len(), 501);
    assert_eq!(everywhere[0].name, "c000-kubeconfig");
    assert_eq!(everywhere[0].labels[CLUSTER_NAME_LABEL], "c000");
    assert!(!everywhere[0].resource_version.is_empty());
    assert_eq!(everywhere[500].namespace, "team-b");
    let lists: Vec<RecordedRequest> = server
        .request_log()
        .into_iter()
        .filter(|r| r.path == "/api/v1/secrets")
        .collect();
    assert_eq!(lists.len(), 2, "{lists:?}");
    for list in &lists {
        assert_eq!(list.accept.as_deref(), Some(METADATA_ONLY), "{list:?}");
        let query = list.query.as_deref().unwrap_or_default();
        assert!(
            query.contains(SELECTOR) && query.contains("limit=500"),
            "{query}"
        );
    }
    assert!(lists[1].query.as_deref().unwrap().contains("continue=500"));

    let team_b = kube
        .list_labelled(Some("team-b"), CLUSTER_NAME_LABEL)
        .await
        .unwrap();
    assert_eq!(team_b.len(), 1);
    assert_eq!(team_b[0].name, "b-kubeconfig");

    let value = kube
        .get(&secret_ref("fleet", "c007-kubeconfig", "value"))
        .await;
    assert_eq!(value.unwrap().as_deref(), Some(&b"kubeconfig"[..]));
    let absent = kube.get(&secret_ref("fleet", "nope", "value")).await;
    assert_eq!(absent.unwrap(), None);
    let missing = kube
        .get(&secret_ref("team-b", "b-kubeconfig", "value"))
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "Secret team-b/b-kubeconfig has no key `value`; its keys: kubeconfig. Set key: kubeconfig"
    );

    server.forbid_secrets(&["list", "get"]);
    let refused = kube
        .list_labelled(Some("fleet"), CLUSTER_NAME_LABEL)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, SecretsError::Forbidden { verb: "list", namespace: Some(ns), .. } if ns == "fleet"),
        "{refused:?}"
    );
    let text = refused.to_string();
    assert!(
        text.starts_with("the publisher's service account may not list secrets in namespace fleet: grant get and list on secrets there"),
        "{text}"
    );
    assert!(text.contains("cannot list resource \"secrets\""), "{text}");
    let refused = kube
        .get(&secret_ref("fleet", "c001-kubeconfig", "value"))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SecretsError::Forbidden { verb: "get", .. }),
        "{refused:?}"
    );
    let everywhere = kube
        .list_labelled(None, CLUSTER_NAME_LABEL)
        .await
        .unwrap_err();
    assert!(
        matches!(
            everywhere,
            SecretsError::Forbidden {
                namespace: None,
                ..
            }
        ),
        "{everywhere:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn kube_secrets_says_when_its_credentials_are_refused() {
    let server = FakeApiServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = write_kubeconfig_with_token(dir.path(), &server, Some("not-the-token"));
    let kube = KubeSecrets::from_kubeconfig(&path, None, TIMEOUT)
        .await
        .unwrap();
    let refused = kube
        .list_labelled(None, CLUSTER_NAME_LABEL)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SecretsError::Unauthorized { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("401 Unauthorized"),
        "{refused}"
    );
}

/// What the fleet pass will do for `--fleet-from cluster-api=fleet`: list the labelled
/// Secrets of the management cluster (metadata only), find the clusters, read one's
/// kubeconfig, and read its keys from its own API server with that kubeconfig, held in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_cluster_api_kubeconfig_secret_leads_to_the_workload_clusters_keys() {
    let management = FakeApiServer::start();
    let workload = FakeApiServer::with_scenario(Scenario::Ec);
    management.set_secrets(cluster_api_secrets(
        "fleet",
        "prod-1",
        &workload.kubeconfig_yaml(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let secrets = kube_secrets(&dir, &management).await;

    let listed = secrets
        .list_labelled(Some("fleet"), CLUSTER_NAME_LABEL)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    let store =
        Template::parse("--store-template", "s3://acme-oidc/{namespace}/{cluster}").unwrap();
    let found = discover(&listed, &store, None);
    assert_eq!(found.len(), 1, "{found:?}");
    let cluster = &found[0];
    assert_eq!(cluster.name, "fleet/prod-1");
    assert_eq!(cluster.store, "s3://acme-oidc/fleet/prod-1");

    let yaml = secrets
        .get(&cluster.secret)
        .await
        .unwrap()
        .expect("the Secret exists");
    let options = KubeOptions {
        inline: Some(InlineKubeconfig {
            yaml: String::from_utf8(yaml).unwrap().into(),
            origin: format!("the kubeconfig in {}", cluster.secret),
        }),
        timeout: TIMEOUT,
        ..KubeOptions::default()
    };
    let source = KubeSource::connect(&options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        source.describe(),
        format!("the API server at {}", workload.url())
    );
    let keys = source.fetch().await.unwrap_or_else(|e| panic!("{e}"));
    let kids: Vec<&str> = keys.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["7Dr4HLddxeDMYkcnLmRqj6wd6qegXy4bssk7m1-o-Lg"]);
    assert_eq!(keys.issuer.as_deref(), Some(ISSUER));
    assert_eq!(workload.requests().get(JWKS_PATH), Some(&1));

    // Of the management cluster's Secrets, only the kubeconfig was read whole: the CA's and
    // the service account's private keys never left it.
    let reads: Vec<String> = management
        .request_log()
        .iter()
        .map(|r| format!("{} {}", r.path, r.accept.as_deref().unwrap_or("-")))
        .collect();
    assert_eq!(
        reads,
        [
            format!("/api/v1/namespaces/fleet/secrets {METADATA_ONLY}"),
            "/api/v1/namespaces/fleet/secrets/prod-1-kubeconfig -".to_owned(),
        ],
        "{reads:?}"
    );
}
