//! One pass over a fleet: find its members (the file's, and those Cluster API's Secrets name),
//! then publish each one through [`publish::publish_from`], at most `concurrency` at a time. A
//! cluster's failure (unreachable, 401, a broken kubeconfig, AccessDenied) is that cluster's
//! outcome and nothing more: it never delays or fails another's publication.
//!
//! What lasts from one pass to the next ([`Publisher`]): one AWS session per Region (so one
//! credential cache and one connection pool for the whole fleet), the management cluster's
//! client, and each cluster's key source with its kube client, rebuilt only when its
//! kubeconfig changes (a Cluster API cluster's Secret is read again only when its
//! resourceVersion does: a no-op pass over N such clusters lists Secrets once, reads none).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;
use tokio::sync::OnceCell;

use super::secrets::{KubeSecrets, Secrets, SecretsError};
use crate::config::fleet::{Discovery, Fleet, KubeconfigFrom, Member};
use crate::config::SyncConfig;
use crate::model::cluster_api::{discover, CLUSTER_NAME_LABEL};
use crate::model::fleet::SecretRef;
use crate::publish::gate::WriteGate;
use crate::publish::{build_source, publish_from, Session};
use crate::reconcile::SyncReport;
use crate::source::kube::InlineKubeconfig;
use crate::source::KeySource;

/// The name under which a failed Cluster API listing is reported.
pub const DISCOVERY: &str = "--fleet-from cluster-api";

/// One cluster's result in a pass.
pub struct Outcome {
    pub name: String,
    pub result: anyhow::Result<SyncReport>,
}

/// The members of one pass.
pub struct Members {
    pub members: Vec<Member>,
    /// Clusters found but not publishable (a store another cluster has, a template that gives
    /// no valid store), and the Cluster API listing if it failed: each a failed outcome.
    pub refused: Vec<Outcome>,
    /// Whether the Cluster API clusters could be listed (always true without `--fleet-from`):
    /// when not, the daemon keeps publishing the ones it knew.
    pub listed: bool,
}

/// A fleet's publisher: the fleet and what its passes share.
pub struct Publisher {
    fleet: Fleet,
    gate: Option<Arc<WriteGate>>,
    /// The management cluster's Secrets, connected on first use.
    secrets: OnceCell<Result<Arc<dyn Secrets>, String>>,
    /// One per (Region, timeout): the AWS configuration (credentials, connection pool) and the
    /// account, shared by every cluster published there.
    sessions: Mutex<HashMap<SessionKey, Arc<Session>>>,
    /// Each cluster's key source, with what it was built from.
    sources: Mutex<HashMap<String, KeptSource>>,
}

/// A Region and a per-request timeout: what an AWS configuration is loaded with.
type SessionKey = (Option<String>, Duration);

/// A cluster's key source and what it was built from.
type KeptSource = (SourceKey, Arc<dyn KeySource>);

/// What a cluster's key source was built from: a different one means a new client.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SourceKey {
    Options,
    /// The kubeconfig's text.
    Text(Arc<str>),
    /// The Secret's resourceVersion (Cluster API's clusters, listed with it).
    Version(String),
}

impl Publisher {
    /// `gate`: the daemon's, so that a signal stops every cluster between two writes.
    pub fn new(fleet: Fleet, gate: Option<Arc<WriteGate>>) -> Publisher {
        Publisher {
            fleet,
            gate,
            secrets: OnceCell::new(),
            sessions: Mutex::default(),
            sources: Mutex::default(),
        }
    }

    /// With the management cluster's Secrets given (tests, or a caller that already has them).
    pub fn with_secrets(
        fleet: Fleet,
        gate: Option<Arc<WriteGate>>,
        secrets: Arc<dyn Secrets>,
    ) -> Publisher {
        let publisher = Publisher::new(fleet, gate);
        let _ = publisher.secrets.set(Ok(secrets));
        publisher
    }

    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The members of this pass: the file's, in its order, then the Cluster API clusters found
    /// now, by name.
    pub async fn members(&self) -> Members {
        let mut members = Members {
            members: self.fleet.members.clone(),
            refused: Vec::new(),
            listed: true,
        };
        if let Some(discovery) = &self.fleet.discovery {
            self.discover(discovery, &mut members).await;
        }
        members
    }

    async fn discover(&self, discovery: &Discovery, members: &mut Members) {
        let listed = match self.secrets().await {
            Ok(secrets) => secrets
                .list_labelled(discovery.namespace.as_deref(), CLUSTER_NAME_LABEL)
                .await
                .map_err(anyhow::Error::from),
            Err(error) => Err(error),
        };
        let secrets = match listed {
            Ok(secrets) => secrets,
            Err(error) => {
                members.listed = false;
                members.refused.push(Outcome {
                    name: DISCOVERY.into(),
                    result: Err(error.context("listing Cluster API's kubeconfig Secrets")),
                });
                return;
            }
        };
        let found = discover(
            &secrets,
            &discovery.store_template,
            discovery.issuer_template.as_ref(),
        );
        for cluster in found {
            let origin = cluster.secret.to_string();
            let config = discovery
                .config_for(&cluster.name, &cluster.store, cluster.issuer.as_deref())
                .with_context(|| format!("the store or issuer the templates give for {origin}"));
            let refuse = |error: anyhow::Error| Outcome {
                name: cluster.name.clone(),
                result: Err(error),
            };
            let config = match config {
                Ok(config) => config,
                Err(error) => {
                    members.refused.push(refuse(error));
                    continue;
                }
            };
            let taken = members
                .members
                .iter()
                .find(|m| m.name == cluster.name || m.config.store == config.store);
            if let Some(other) = taken {
                members.refused.push(refuse(anyhow::anyhow!(
                    "not published: cluster {} ({}) has the same name or store ({}); each cluster needs its own (check --store-template)",
                    other.name,
                    other.origin,
                    cluster.store
                )));
                continue;
            }
            members.members.push(Member {
                name: cluster.name,
                origin,
                config,
                kubeconfig: KubeconfigFrom::Discovered {
                    secret: cluster.secret,
                    resource_version: cluster.resource_version,
                },
            });
        }
    }

    /// The management cluster's Secrets: in-cluster, or as kubectl finds it.
    async fn secrets(&self) -> anyhow::Result<Arc<dyn Secrets>> {
        let timeout = self.fleet.timeout();
        let connected = self
            .secrets
            .get_or_init(|| async move {
                KubeSecrets::infer(timeout)
                    .await
                    .map(|s| Arc::new(s) as Arc<dyn Secrets>)
                    .map_err(|e| e.to_string())
            })
            .await;
        connected.clone().map_err(|e| {
            anyhow::anyhow!(
                "reaching the cluster this runs in (where the fleet's kubeconfig Secrets are): {e}"
            )
        })
    }

    /// Publishes every member, at most `concurrency` at a time; `each` is called with each
    /// outcome as soon as it is known (the members refused, then the others in the order they
    /// finish).
    pub async fn pass(&self, mut each: impl FnMut(Outcome)) {
        let Members {
            members, refused, ..
        } = self.members().await;
        refused.into_iter().for_each(&mut each);
        let mut outcomes = futures::stream::iter(members)
            .map(|member| async move {
                let result = self.publish(&member).await;
                Outcome {
                    name: member.name,
                    result,
                }
            })
            .buffer_unordered(self.fleet.concurrency);
        while let Some(outcome) = outcomes.next().await {
            each(outcome);
        }
    }

    /// One member's publication: exactly a `sync` with its configuration.
    pub async fn publish(&self, member: &Member) -> anyhow::Result<SyncReport> {
        let config = &member.config;
        let source = self.source(member).await?;
        let session = self.session(config);
        publish_from(config, &session, source.as_ref()).await
    }

    /// The member's key source: the one built on an earlier pass if its kubeconfig is the same.
    async fn source(&self, member: &Member) -> anyhow::Result<Arc<dyn KeySource>> {
        let cached = |key: &SourceKey| {
            let sources = self.sources.lock().unwrap();
            let (built_from, source) = sources.get(&member.name)?;
            (built_from == key).then(|| source.clone())
        };
        let (key, inline) = match &member.kubeconfig {
            KubeconfigFrom::Options => (SourceKey::Options, None),
            KubeconfigFrom::Secret(secret) => {
                let inline = self.kubeconfig(secret).await?;
                (SourceKey::Text(inline.yaml.clone()), Some(inline))
            }
            KubeconfigFrom::Discovered {
                secret,
                resource_version,
            } => {
                let key = SourceKey::Version(resource_version.clone());
                if let Some(source) = cached(&key) {
                    return Ok(source);
                }
                (key, Some(self.kubeconfig(secret).await?))
            }
        };
        if let Some(source) = cached(&key) {
            return Ok(source);
        }
        let source: Arc<dyn KeySource> = Arc::from(build_source(&member.config, inline).await?);
        self.sources
            .lock()
            .unwrap()
            .insert(member.name.clone(), (key, source.clone()));
        Ok(source)
    }

    /// A kubeconfig kept in a Secret of the management cluster.
    async fn kubeconfig(&self, secret: &SecretRef) -> anyhow::Result<InlineKubeconfig> {
        let bytes = self
            .secrets()
            .await?
            .get(secret)
            .await?
            .ok_or(SecretsError::NotFound {
                secret: secret.clone(),
            })?;
        let yaml = String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!("the kubeconfig in {secret} is not UTF-8 text: put the kubeconfig file's content there as it is")
        })?;
        Ok(InlineKubeconfig {
            yaml: Arc::from(yaml),
            origin: format!("the kubeconfig in {secret}"),
        })
    }

    fn session(&self, config: &SyncConfig) -> Arc<Session> {
        let key = (config.region.clone(), config.timeout);
        let mut sessions = self.sessions.lock().unwrap();
        sessions
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Session {
                    gate: self.gate.clone(),
                    ..Session::default()
                })
            })
            .clone()
    }

    /// Forgets what was kept for clusters no longer in the fleet.
    pub fn retain(&self, names: &[&str]) {
        self.sources
            .lock()
            .unwrap()
            .retain(|name, _| names.contains(&name.as_str()));
    }
}
