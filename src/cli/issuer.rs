//! `issuer prepare | status | finish`: moving a cluster to a new issuer without breaking a pod
//! (docs/issuer-migration.md). Each takes sync's options for the store and issuer the cluster
//! publishes now (the old ones).

use clap::{Args, Subcommand};

use super::SyncArgs;

pub(super) const ISSUER_LONG_ABOUT: &str = "\
Move a cluster to a new service-account issuer without breaking a pod (docs/issuer-migration.md).

  1. issuer prepare: publish the documents under the new issuer (--new-store, --new-issuer),
     create its IAM OIDC provider, extend the trust policy of each role that trusts the old
     provider (--role NAME, or --all-roles) with the same conditions for the new one, record
     the migration in both stores, and print the API server flags for step 2.
  2. Change the API server flags as printed: the new issuer first, the old one second. Every
     sync from then on publishes both issuers' documents and records when the switch happened.
  3. issuer status: which step the cluster is at, and when the old issuer may go (the switch
     + the longest token lifetime + IAM's 5 minutes of clock skew).
  4. issuer finish: remove the old provider's statements from the extended roles, the old
     provider (if ours) and the old documents; print the flag to remove.

Every step takes the options of sync for the store and issuer the cluster publishes now; a
second run of any step writes nothing. Exit codes: 0 done, 2 error or refused.";

/// `issuer` subcommands.
#[derive(Debug, Subcommand)]
pub enum IssuerCommand {
    /// Publish the new issuer beside the old one, create its provider, extend the trust policies.
    ///
    /// Takes sync's options for the old issuer, plus --new-store (and --new-issuer unless the
    /// new store is an S3 bucket whose default issuer is the new one) and --role or --all-roles.
    /// --dry-run prints the documents' plan and each trust policy's diff, and writes nothing.
    Prepare(Box<PrepareArgs>),
    /// Which step of the migration the cluster is at, and when the old issuer may go.
    ///
    /// Reads the API server's issuer, both stores' documents and state, both providers and the
    /// recorded roles' trust policies; writes nothing.
    Status(Box<IssuerStatusArgs>),
    /// Remove the old issuer: trust-policy statements, provider (if ours) and documents.
    ///
    /// Refused before the switch recorded by sync + --token-lifetime + 5 minutes, unless --force.
    Finish(Box<FinishArgs>),
}

/// The longest lifetime of a service-account token, for status, finish and doctor.
#[derive(Clone, Debug, Args)]
pub struct TokenLifetime {
    /// The longest lifetime of a token the cluster issues (e.g. 24h, 90m).
    ///
    /// 24h is the pod-identity webhook's default request, and kubelet refreshes a projected
    /// token after at most 24 h; raise it if pods request longer tokens and the API server's
    /// --service-account-max-token-expiration allows them. The old issuer may go this long
    /// plus IAM's 5 minutes of clock skew after the API server switched.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "24h",
        env = "KUBE_OIDC_PUBLISHER_TOKEN_LIFETIME"
    )]
    pub token_lifetime: String,
}

#[derive(Clone, Debug, Args)]
pub struct PrepareArgs {
    /// Where to publish the new issuer's documents: s3://BUCKET[/PREFIX] or a directory.
    #[arg(
        long,
        value_name = "s3://BUCKET[/PREFIX] | DIR",
        env = "KUBE_OIDC_PUBLISHER_NEW_STORE"
    )]
    pub new_store: String,

    /// The new public issuer URL (default: an S3 --new-store's bucket URL).
    #[arg(long, value_name = "URL", env = "KUBE_OIDC_PUBLISHER_NEW_ISSUER")]
    pub new_issuer: Option<String>,

    /// A role whose trust policy to extend to the new issuer; repeatable.
    ///
    /// Named roles are extended whether or not they are tagged kube-oidc-publisher/managed-by.
    /// In the environment variable, separate several names with commas.
    #[arg(
        long = "role",
        value_name = "NAME",
        env = "KUBE_OIDC_PUBLISHER_ROLE",
        value_delimiter = ','
    )]
    pub roles: Vec<String>,

    /// Extend every role tagged kube-oidc-publisher/managed-by whose trust policy names the old provider.
    ///
    /// Roles without the tag are listed but left alone: name them with --role to extend them.
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_ALL_ROLES")]
    pub all_roles: bool,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Clone, Debug, Args)]
pub struct IssuerStatusArgs {
    #[command(flatten)]
    pub lifetime: TokenLifetime,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Clone, Debug, Args)]
pub struct FinishArgs {
    /// Finish before every token of the old issuer has expired.
    ///
    /// Pods still holding a token whose iss is the old issuer then get InvalidIdentityToken
    /// from STS until kubelet refreshes it.
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_FORCE")]
    pub force: bool,

    #[command(flatten)]
    pub lifetime: TokenLifetime,

    #[command(flatten)]
    pub sync: SyncArgs,
}
