//! One pass over a fleet: find its members (the file's, and those Cluster API's Secrets name),
//! then publish each one through [`publish::publish_from`], at most `concurrency` at a time. A
//! cluster's failure (unreachable, 401, a broken kubeconfig, AccessDenied) is that cluster's
//! outcome and nothing more: it never delays or fails another's publication.
//!
//! What lasts from one pass to the next ([`Publisher`]): one AWS session per Region (so one
//! credential cache and one connection pool for the whole fleet), and each cluster's key
//! source with its kube client, rebuilt only when its kubeconfig changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;

use crate::config::fleet::{Fleet, KubeconfigFrom, Member};
use crate::config::SyncConfig;
use crate::publish::gate::WriteGate;
use crate::publish::{build_source, publish_from, Session};
use crate::reconcile::SyncReport;
use crate::source::KeySource;

/// One cluster's result in a pass.
pub struct Outcome {
    pub name: String,
    pub result: anyhow::Result<SyncReport>,
}

/// A fleet's publisher: the fleet and what its passes share.
pub struct Publisher {
    fleet: Fleet,
    gate: Option<Arc<WriteGate>>,
    /// One per (Region, timeout): the AWS configuration (credentials, connection pool) and the
    /// account, shared by every cluster published there.
    sessions: Mutex<HashMap<(Option<String>, Duration), Arc<Session>>>,
    /// Each cluster's key source, with what it was built from.
    sources: Mutex<HashMap<String, (SourceKey, Arc<dyn KeySource>)>>,
}

/// What a cluster's key source was built from: a different one means a new client.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SourceKey {
    Options,
}

impl Publisher {
    /// `gate`: the daemon's, so that a signal stops every cluster between two writes.
    pub fn new(fleet: Fleet, gate: Option<Arc<WriteGate>>) -> Publisher {
        Publisher {
            fleet,
            gate,
            sessions: Mutex::default(),
            sources: Mutex::default(),
        }
    }

    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The members of this pass: the file's, in its order.
    pub async fn members(&self) -> Vec<Member> {
        self.fleet.members.clone()
    }

    /// Publishes every member, at most `concurrency` at a time; `each` is called with each
    /// outcome as soon as it is known (in the order they finish).
    pub async fn pass(&self, mut each: impl FnMut(Outcome)) {
        let members = self.members().await;
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
        let key = match &member.kubeconfig {
            KubeconfigFrom::Options => SourceKey::Options,
            KubeconfigFrom::Secret(secret) => {
                anyhow::bail!("reading a kubeconfig from {secret} is not supported yet")
            }
        };
        if let Some((built_from, source)) = self.sources.lock().unwrap().get(&member.name) {
            if *built_from == key {
                return Ok(source.clone());
            }
        }
        let source: Arc<dyn KeySource> = Arc::from(build_source(&member.config).await?);
        self.sources
            .lock()
            .unwrap()
            .insert(member.name.clone(), (key, source.clone()));
        Ok(source)
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
