//! `Secrets`: the effect trait for reading Secrets in the cluster the publisher runs in (the
//! management cluster), where a fleet's kubeconfigs are kept: one key of one Secret, and the
//! metadata (never the data) of the Secrets that carry a label. [`KubeSecrets`] reads them from
//! the API server, [`MemorySecrets`] from a map for unit tests. Errors name the RBAC rule or
//! the key that is missing. Nothing here logs or quotes a Secret's data.

use async_trait::async_trait;

mod api_server;
mod memory;

pub use api_server::KubeSecrets;
pub use memory::MemorySecrets;

pub use crate::model::fleet::{SecretMeta, SecretRef};

#[async_trait]
pub trait Secrets: Send + Sync {
    /// One key of one Secret. `Ok(None)` when the Secret does not exist; an error naming the key when
    /// the Secret exists without it.
    async fn get(&self, secret: &SecretRef) -> Result<Option<Vec<u8>>, SecretsError>;
    /// The metadata (never the data) of every Secret with label `label` (any value), in `namespace`
    /// or in every namespace (None).
    async fn list_labelled(
        &self,
        namespace: Option<&str>,
        label: &str,
    ) -> Result<Vec<SecretMeta>, SecretsError>;
}

/// What went wrong reading Secrets, by meaning. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot reach the management cluster's API server at {server} to read the fleet's kubeconfig Secrets: {detail}. Check that it is reachable from here (`kubectl get --raw /version`)")]
    Unreachable { server: String, detail: String },
    #[error("the management cluster's API server at {server} answered 401 Unauthorized: it did not accept the publisher's credentials. Refresh them (an expired token?), then check with `kubectl auth can-i list secrets`")]
    Unauthorized { server: String },
    #[error("{}", forbidden_text(verb, namespace.as_deref(), message))]
    Forbidden {
        /// `get` or `list`.
        verb: &'static str,
        /// `None`: every namespace (a cluster-wide list).
        namespace: Option<String>,
        /// The API server's own message, made printable.
        message: String,
    },
    #[error("{}", missing_key_text(secret, key, keys_present))]
    MissingKey {
        /// `NAMESPACE/NAME`.
        secret: String,
        key: String,
        keys_present: Vec<String>,
    },
    #[error("the management cluster's API server at {server} answered {status} when asked to {verb} secrets: {message}. Retry when it is healthy")]
    Status {
        server: String,
        verb: &'static str,
        status: u16,
        message: String,
    },
    #[error("{secret} does not exist in the cluster this runs in: create it (kubectl -n {ns} create secret generic {name} --from-file={key}=KUBECONFIG) or fix the cluster's kubeconfig-secret", ns = secret.namespace, name = secret.name, key = secret.key)]
    NotFound { secret: SecretRef },
    #[error("no usable credentials for the management cluster (where the fleet's kubeconfig Secrets are): {detail}. Run the publisher in a pod with a service account, or set KUBECONFIG")]
    NoKubeconfig { detail: String },
}

fn forbidden_text(verb: &str, namespace: Option<&str>, message: &str) -> String {
    match namespace {
        Some(namespace) => format!(
            "the publisher's service account may not {verb} secrets in namespace {namespace}: grant get and list on secrets there (deploy/fleet/ has the Role). The API server said: {message}"
        ),
        None => format!(
            "the publisher's service account may not {verb} secrets in every namespace: name the namespace the Cluster API clusters live in (--fleet-from cluster-api=NAMESPACE) and grant get and list on secrets there (deploy/fleet/ has the Role), or grant them cluster-wide with a ClusterRole. The API server said: {message}"
        ),
    }
}

fn missing_key_text(secret: &str, key: &str, keys_present: &[String]) -> String {
    match keys_present {
        [] => format!("Secret {secret} has no key `{key}`; it has no keys at all. Put the kubeconfig in it under `{key}`"),
        [only] => format!(
            "Secret {secret} has no key `{key}`; its keys: {only}. Set key: {only}"
        ),
        several => format!(
            "Secret {secret} has no key `{key}`; its keys: {}. Set key: to the one that holds the kubeconfig",
            several.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_the_rbac_rule_to_grant() {
        let message = "secrets is forbidden: User \"system:serviceaccount:oidc:publisher\" cannot list resource \"secrets\" in API group \"\" in the namespace \"fleet\"";
        let in_fleet = SecretsError::Forbidden {
            verb: "list",
            namespace: Some("fleet".into()),
            message: message.into(),
        };
        assert_eq!(
            in_fleet.to_string(),
            format!("the publisher's service account may not list secrets in namespace fleet: grant get and list on secrets there (deploy/fleet/ has the Role). The API server said: {message}")
        );
        let everywhere = SecretsError::Forbidden {
            verb: "list",
            namespace: None,
            message: "m".into(),
        }
        .to_string();
        assert!(
            everywhere.starts_with("the publisher's service account may not list secrets in every namespace: name the namespace"),
            "{everywhere}"
        );
        assert!(
            everywhere.contains("--fleet-from cluster-api=NAMESPACE"),
            "{everywhere}"
        );
    }

    #[test]
    fn a_missing_key_names_the_keys_there_are() {
        let missing = |keys: &[&str]| {
            SecretsError::MissingKey {
                secret: "fleet/x".into(),
                key: "value".into(),
                keys_present: keys.iter().map(|k| k.to_string()).collect(),
            }
            .to_string()
        };
        assert_eq!(
            missing(&["kubeconfig"]),
            "Secret fleet/x has no key `value`; its keys: kubeconfig. Set key: kubeconfig"
        );
        assert_eq!(
            missing(&["a", "b"]),
            "Secret fleet/x has no key `value`; its keys: a, b. Set key: to the one that holds the kubeconfig"
        );
        assert_eq!(
            missing(&[]),
            "Secret fleet/x has no key `value`; it has no keys at all. Put the kubeconfig in it under `value`"
        );
    }

    #[test]
    fn a_secret_ref_reads_as_messages_name_it() {
        let secret = SecretRef {
            namespace: "fleet".into(),
            name: "prod-1-kubeconfig".into(),
            key: "value".into(),
        };
        assert_eq!(
            secret.to_string(),
            "Secret fleet/prod-1-kubeconfig (key value)"
        );
    }
}
