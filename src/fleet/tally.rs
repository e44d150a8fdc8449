//! What a fleet's pass came to: how many clusters ended each way, the exit status (the worst
//! of all clusters'), and the clusters IAM's provider quota stopped. Pure: outcomes in,
//! counts and text out.

use crate::exit::Exit;
use crate::iam;
use crate::plan::Mode;
use crate::reconcile::{ProviderError, SyncError, SyncReport};

/// Counts of a pass, by how each cluster ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub in_sync: usize,
    pub published: usize,
    pub planned: usize,
    pub drift: usize,
    pub failed: usize,
    /// Clusters whose IAM provider could not be created because the account holds as many as
    /// IAM allows.
    pub over_provider_quota: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, name: &str, result: &anyhow::Result<SyncReport>) {
        match result {
            Err(error) => {
                self.failed += 1;
                if provider_quota_reached(error) {
                    self.over_provider_quota.push(name.to_owned());
                }
            }
            Ok(report) if !report.drift() => self.in_sync += 1,
            Ok(report) => match report.mode {
                Mode::Apply => self.published += 1,
                Mode::DryRun => self.planned += 1,
                Mode::Check => self.drift += 1,
            },
        }
    }

    pub fn clusters(&self) -> usize {
        self.in_sync + self.published + self.planned + self.drift + self.failed
    }

    /// The worst of every cluster's: an error, then drift found by `--check`, then done.
    pub fn exit(&self) -> Exit {
        if self.failed > 0 {
            Exit::Error
        } else if self.drift > 0 {
            Exit::Drift
        } else {
            Exit::Ok
        }
    }

    /// `3 clusters: 1 published, 1 in sync, 1 failed`.
    pub fn summary(&self) -> String {
        let n = self.clusters();
        let parts: Vec<String> = [
            (self.published, "published"),
            (self.in_sync, "in sync"),
            (self.planned, "planned"),
            (self.drift, "with drift"),
            (self.failed, "failed"),
        ]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect();
        format!(
            "{n} cluster{}: {}",
            if n == 1 { "" } else { "s" },
            if parts.is_empty() {
                "none".to_owned()
            } else {
                parts.join(", ")
            }
        )
    }

    /// What to do when IAM's quota of OIDC providers stopped some clusters, naming them.
    pub fn quota_message(&self) -> Option<String> {
        if self.over_provider_quota.is_empty() {
            return None;
        }
        let mut names = self.over_provider_quota.clone();
        names.sort();
        Some(format!(
            "IAM's quota of OpenID Connect providers per account (100 by default) is reached: {} cluster{} still ha{} no provider: {}. Ask for a higher quota (Service Quotas, IAM, \"OpenID Connect providers per account\"), delete providers no cluster uses, or publish these clusters from another account",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            if names.len() == 1 { "s" } else { "ve" },
            names.join(", ")
        ))
    }
}

/// Whether a cluster failed because IAM refused to create another provider (LimitExceeded).
pub fn provider_quota_reached(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<SyncError>(),
            Some(SyncError::Provider {
                error: ProviderError::Iam(iam::Error::LimitExceeded),
                ..
            })
        ) || matches!(
            cause.downcast_ref::<iam::Error>(),
            Some(iam::Error::LimitExceeded)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota_error() -> anyhow::Error {
        SyncError::Provider {
            error: ProviderError::Iam(iam::Error::LimitExceeded),
            documents: "documents published".into(),
        }
        .into()
    }

    #[test]
    fn the_worst_cluster_decides_the_exit_status() {
        let mut tally = Tally::default();
        assert_eq!(tally.exit(), Exit::Ok);
        tally.drift = 1;
        assert_eq!(tally.exit(), Exit::Drift);
        tally.add("b", &Err(anyhow::anyhow!("unreachable")));
        assert_eq!(tally.exit(), Exit::Error);
        assert_eq!(tally.summary(), "2 clusters: 1 with drift, 1 failed");
    }

    #[test]
    fn the_quota_message_names_every_cluster_it_stopped() {
        let mut tally = Tally::default();
        tally.add("zeta", &Err(quota_error()));
        tally.add("gamma", &Err(anyhow::anyhow!("AccessDenied")));
        tally.add("alpha", &Err(quota_error().context("cluster alpha")));
        let message = tally.quota_message().unwrap();
        assert!(
            message.contains("2 clusters still have no provider: alpha, zeta."),
            "{message}"
        );
        assert!(!message.contains("gamma"), "{message}");
        assert_eq!(Tally::default().quota_message(), None);
    }
}
