//! An in-memory [`Secrets`] for unit tests of the fleet pass: Secrets in a map (labels,
//! resource version, data), calls counted by name (`get`, `list_labelled`), and an optional
//! failure for a chosen call. Each `insert` gives the Secret a new resource version, as the API
//! server does on every write. Integration tests use the real API (the fake API server).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{SecretMeta, SecretRef, Secrets, SecretsError};
use crate::calls::Calls;

struct Stored {
    labels: BTreeMap<String, String>,
    resource_version: String,
    data: BTreeMap<String, Vec<u8>>,
}

#[derive(Default)]
struct State {
    /// By (namespace, name).
    secrets: BTreeMap<(String, String), Stored>,
    /// The last resource version given out.
    version: u64,
    calls: Calls<SecretsError>,
}

#[derive(Default)]
pub struct MemorySecrets {
    state: Mutex<State>,
}

impl MemorySecrets {
    pub fn new() -> MemorySecrets {
        MemorySecrets::default()
    }

    /// Creates or replaces Secret `namespace/name`; returns its new resource version.
    pub fn insert(
        &self,
        namespace: &str,
        name: &str,
        labels: &[(&str, &str)],
        data: &[(&str, &[u8])],
    ) -> String {
        let mut state = self.state.lock().unwrap();
        state.version += 1;
        let resource_version = state.version.to_string();
        let stored = Stored {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            resource_version: resource_version.clone(),
            data: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect(),
        };
        state
            .secrets
            .insert((namespace.to_owned(), name.to_owned()), stored);
        resource_version
    }

    /// Deletes Secret `namespace/name`; whether it existed.
    pub fn remove(&self, namespace: &str, name: &str) -> bool {
        let key = (namespace.to_owned(), name.to_owned());
        self.state.lock().unwrap().secrets.remove(&key).is_some()
    }

    /// Calls of `name` (`get`, `list_labelled`) so far.
    pub fn calls(&self, name: &str) -> usize {
        self.state.lock().unwrap().calls.count(name)
    }

    /// Makes every call of `name` fail with `error()`.
    pub fn fail(&self, name: &'static str, error: fn() -> SecretsError) {
        self.state.lock().unwrap().calls.fail(Some((name, error)));
    }
}

#[async_trait]
impl Secrets for MemorySecrets {
    async fn get(&self, secret: &SecretRef) -> Result<Option<Vec<u8>>, SecretsError> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("get")?;
        let key = (secret.namespace.clone(), secret.name.clone());
        let Some(stored) = state.secrets.get(&key) else {
            return Ok(None);
        };
        match stored.data.get(&secret.key) {
            Some(bytes) => Ok(Some(bytes.clone())),
            None => Err(SecretsError::MissingKey {
                secret: format!("{}/{}", secret.namespace, secret.name),
                key: secret.key.clone(),
                keys_present: stored.data.keys().cloned().collect(),
            }),
        }
    }

    async fn list_labelled(
        &self,
        namespace: Option<&str>,
        label: &str,
    ) -> Result<Vec<SecretMeta>, SecretsError> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("list_labelled")?;
        Ok(state
            .secrets
            .iter()
            .filter(|((ns, _), stored)| {
                namespace.is_none_or(|wanted| wanted == ns) && stored.labels.contains_key(label)
            })
            .map(|((ns, name), stored)| SecretMeta {
                namespace: ns.clone(),
                name: name.clone(),
                resource_version: stored.resource_version.clone(),
                labels: stored.labels.clone(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: &str = "cluster.x-k8s.io/cluster-name";

    fn secret(namespace: &str, name: &str, key: &str) -> SecretRef {
        SecretRef {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        }
    }

    #[tokio::test]
    async fn get_reads_one_key_and_tells_a_missing_secret_from_a_missing_key() {
        let secrets = MemorySecrets::new();
        secrets.insert("fleet", "a", &[], &[("value", b"yaml"), ("other", b"x")]);
        let a = secrets.get(&secret("fleet", "a", "value")).await.unwrap();
        assert_eq!(a.as_deref(), Some(&b"yaml"[..]));
        assert_eq!(
            secrets.get(&secret("fleet", "b", "value")).await.unwrap(),
            None
        );
        assert_eq!(
            secrets.get(&secret("other", "a", "value")).await.unwrap(),
            None
        );
        let missing = secrets
            .get(&secret("fleet", "a", "kubeconfig"))
            .await
            .unwrap_err();
        assert!(
            matches!(&missing, SecretsError::MissingKey { keys_present, .. } if keys_present == &["other", "value"]),
            "{missing:?}"
        );
        assert_eq!(secrets.calls("get"), 4);
        assert!(secrets.remove("fleet", "a"));
        assert!(!secrets.remove("fleet", "a"));
        assert_eq!(
            secrets.get(&secret("fleet", "a", "value")).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn list_labelled_returns_metadata_of_labelled_secrets_in_the_namespace_asked() {
        let secrets = MemorySecrets::new();
        let rv_a = secrets.insert("fleet", "a-kubeconfig", &[(LABEL, "a")], &[("value", b"y")]);
        secrets.insert("fleet", "unlabelled", &[("app", "x")], &[("value", b"y")]);
        let rv_b = secrets.insert("other", "b-kubeconfig", &[(LABEL, "b")], &[("value", b"y")]);
        assert_ne!(rv_a, rv_b);
        let in_fleet = secrets.list_labelled(Some("fleet"), LABEL).await.unwrap();
        assert_eq!(
            in_fleet,
            [SecretMeta {
                namespace: "fleet".into(),
                name: "a-kubeconfig".into(),
                resource_version: rv_a.clone(),
                labels: [(LABEL.to_string(), "a".to_string())].into(),
            }]
        );
        let everywhere = secrets.list_labelled(None, LABEL).await.unwrap();
        let names: Vec<&str> = everywhere.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a-kubeconfig", "b-kubeconfig"]);
        // A new write is a new resource version.
        let rv_a2 = secrets.insert("fleet", "a-kubeconfig", &[(LABEL, "a")], &[("value", b"z")]);
        assert_ne!(rv_a2, rv_a);
        let listed = secrets.list_labelled(Some("fleet"), LABEL).await.unwrap();
        assert_eq!(listed[0].resource_version, rv_a2);
        assert_eq!(secrets.calls("list_labelled"), 3);
    }

    #[tokio::test]
    async fn a_chosen_call_fails() {
        let secrets = MemorySecrets::new();
        secrets.fail("list_labelled", || SecretsError::Unauthorized {
            server: "https://mgmt".into(),
        });
        let failed = secrets.list_labelled(None, LABEL).await.unwrap_err();
        assert!(
            matches!(failed, SecretsError::Unauthorized { .. }),
            "{failed}"
        );
        assert_eq!(
            secrets.get(&secret("fleet", "a", "value")).await.unwrap(),
            None
        );
    }
}
