//! `KubeSecrets`: [`Secrets`] read from the management cluster's API server, with our kube
//! client (`source::client`: TLS verification, TCP_NODELAY). Lists ask for metadata only
//! (`PartialObjectMetadataList`): a plain list of Secrets would bring every matching
//! Secret's data into memory, and Cluster API's `<cluster>-ca` and `<cluster>-sa` Secrets,
//! which carry the same label as the kubeconfig, hold private keys. Only `get` reads data,
//! of the one Secret asked for.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{SecretMeta, SecretRef, Secrets, SecretsError};
use crate::source::kube::{error_chain, parse_error};
use crate::source::server_text;

/// Secrets per list page: the API server's pages stay small, whatever the fleet's size.
const PAGE: u32 = 500;

pub struct KubeSecrets {
    client: kube::Client,
    /// The API server's URL, for messages.
    server: String,
    /// For each request (each page of a list).
    timeout: Duration,
}

impl KubeSecrets {
    /// The management cluster as kubectl finds it: `$KUBECONFIG`, else `~/.kube/config`, else
    /// the in-cluster service account (the publisher's pod).
    pub async fn infer(timeout: Duration) -> Result<KubeSecrets, SecretsError> {
        let config = kube::Config::infer()
            .await
            .map_err(|e| no_kubeconfig(error_chain(&e)))?;
        KubeSecrets::new(config, timeout)
    }

    /// The management cluster of the kubeconfig file at `path`, in `context` (else its
    /// current context).
    pub async fn from_kubeconfig(
        path: &Path,
        context: Option<&str>,
        timeout: Duration,
    ) -> Result<KubeSecrets, SecretsError> {
        let file = Kubeconfig::read_from(path).map_err(|e| {
            no_kubeconfig(format!(
                "kubeconfig {}: {}",
                path.display(),
                parse_error(&e)
            ))
        })?;
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(file, &options)
            .await
            .map_err(|e| no_kubeconfig(e.to_string()))?;
        KubeSecrets::new(config, timeout)
    }

    fn new(mut config: kube::Config, timeout: Duration) -> Result<KubeSecrets, SecretsError> {
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let client =
            crate::source::client::build(&config).map_err(|e| no_kubeconfig(e.to_string()))?;
        Ok(KubeSecrets {
            client,
            server,
            timeout,
        })
    }

    /// `request` within the timeout, its failure by meaning.
    async fn call<T>(
        &self,
        verb: &'static str,
        namespace: Option<&str>,
        request: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, SecretsError> {
        let error = match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(error)) => error,
            Err(_) => {
                return Err(SecretsError::Unreachable {
                    server: self.server.clone(),
                    detail: format!("no answer within {} s", self.timeout.as_secs().max(1)),
                })
            }
        };
        let server = self.server.clone();
        Err(match error {
            kube::Error::Api(status) => match status.code {
                401 => SecretsError::Unauthorized { server },
                403 => SecretsError::Forbidden {
                    verb,
                    namespace: namespace.map(str::to_owned),
                    message: server_text(&status.message),
                },
                code => SecretsError::Status {
                    server,
                    verb,
                    status: code,
                    message: server_text(&status.message),
                },
            },
            other => SecretsError::Unreachable {
                server,
                detail: server_text(&error_chain(&other)),
            },
        })
    }
}

#[async_trait]
impl Secrets for KubeSecrets {
    async fn get(&self, secret: &SecretRef) -> Result<Option<Vec<u8>>, SecretsError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &secret.namespace);
        let found = self
            .call("get", Some(&secret.namespace), api.get_opt(&secret.name))
            .await?;
        let Some(found) = found else {
            return Ok(None);
        };
        let mut data = found.data.unwrap_or_default();
        match data.remove(&secret.key) {
            Some(bytes) => Ok(Some(bytes.0)),
            None => Err(SecretsError::MissingKey {
                secret: format!("{}/{}", secret.namespace, secret.name),
                key: secret.key.clone(),
                keys_present: data.into_keys().collect(),
            }),
        }
    }

    async fn list_labelled(
        &self,
        namespace: Option<&str>,
        label: &str,
    ) -> Result<Vec<SecretMeta>, SecretsError> {
        let api: Api<Secret> = match namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        };
        let mut params = ListParams::default().labels(label).limit(PAGE);
        let mut found = Vec::new();
        loop {
            let page = self
                .call("list", namespace, api.list_metadata(&params))
                .await?;
            found.extend(page.items.into_iter().map(|item| {
                let meta = item.metadata;
                SecretMeta {
                    namespace: meta.namespace.unwrap_or_default(),
                    name: meta.name.unwrap_or_default(),
                    resource_version: meta.resource_version.unwrap_or_default(),
                    labels: meta.labels.unwrap_or_default(),
                }
            }));
            match page.metadata.continue_.filter(|token| !token.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(found),
            }
        }
    }
}

fn no_kubeconfig(detail: String) -> SecretsError {
    SecretsError::NoKubeconfig { detail }
}
