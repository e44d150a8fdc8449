//! `rotate stage | status | revoke`: each takes every `sync` option plus its own.

use clap::{Args, Subcommand};

use super::SyncArgs;

const STAGE_LONG_ABOUT: &str = "\
Publish a new public key beside the current ones, before any API server signs with it (step 2
of docs/rotation.md), then check that STS can see it.

The --key-file keys are published with the API server's keys and recorded in the store's state
as staged: every later sync keeps them published although the API server does not serve them
yet. A staged key becomes an ordinary key once the API server serves it; to abandon a stage,
`rotate revoke --kid KID` removes it. Then the public JWKS URL is fetched anonymously over
verified HTTPS, as STS fetches it (--ca-file and --connect-to apply), until every staged kid is
in it or --wait has passed; the first time it is seen is recorded in the state. With
--cloudfront-distribution, the invalidation the publish made is first watched until CloudFront
says it has completed (a progress line per poll, within the same --wait), and only then is the
issuer URL, served by the edge, fetched.

Idempotent: staging a key already staged writes nothing and only checks again. Exit codes: 0
published and publicly visible, 1 changes pending with --check, 2 error, including `published
but not visible within --wait` (the key stays published; run the command again later).

Example:
  kube-oidc-publisher rotate stage --key-file sa-new.pub --store s3://acme-oidc/prod-1 \\
      --region eu-west-1 --no-iam";

#[derive(Clone, Debug, Args)]
pub struct StageArgs {
    /// How long to keep checking that the public JWKS shows the new key (e.g. 2m, 30s).
    ///
    /// S3 is strongly consistent, but a CDN or cache in front of it serves the old JWKS until
    /// its max-age has passed. With --cloudfront-distribution it also bounds the wait for the
    /// invalidation to complete.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "2m",
        env = "KUBE_OIDC_PUBLISHER_WAIT"
    )]
    pub wait: String,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Clone, Debug, Args)]
pub struct StatusArgs {
    /// The ServiceAccount to mint a short-lived token for, to learn the signing key: NS/NAME.
    ///
    /// A bare NAME takes the namespace of the pod this runs in. The token (audience
    /// kube-oidc-publisher-rotate-status, 10 minutes) is never printed; only its header's kid
    /// is read, and its signature checked with the API server's key. Needs `create` on
    /// serviceaccounts/token. Without it, or when refused, the signing key is shown as unknown.
    #[arg(
        long,
        value_name = "[NAMESPACE/]NAME",
        env = "KUBE_OIDC_PUBLISHER_TOKEN_REQUEST"
    )]
    pub token_request: Option<String>,

    #[command(flatten)]
    pub sync: SyncArgs,
}

/// `rotate` subcommands.
#[derive(Debug, Subcommand)]
pub enum RotateCommand {
    /// Publish a new public key beside the current ones and check that STS can see it.
    #[command(long_about = STAGE_LONG_ABOUT)]
    Stage(Box<StageArgs>),
    /// Per key: at the API server, signing, published since, removable at; the next step.
    ///
    /// Reads the API server's keys (or --key-file), the store's retention state and, with
    /// --token-request, the kid of a freshly minted token, and with --cloudfront-distribution
    /// the kids the issuer URL (the edge's copy) serves; writes nothing. Takes the same
    /// options as sync.
    Status(Box<StatusArgs>),
    /// Remove a key from the published JWKS at once, without waiting for its retention.
    ///
    /// For a compromised key only: pods whose tokens it signed fail STS ("Couldn't retrieve
    /// verification key") until kubelet refreshes their tokens. The key must already be gone
    /// from every kube-apiserver's --service-account-key-file, or the next sync publishes it
    /// again. Takes the same options as sync (--dry-run shows the plan first).
    Revoke(Box<RevokeArgs>),
}

#[derive(Clone, Debug, Args)]
pub struct RevokeArgs {
    /// The kid to remove (repeatable); see `rotate status`.
    ///
    /// In the environment variable, separate several kids with commas.
    #[arg(
        long = "kid",
        value_name = "KID",
        required = true,
        env = "KUBE_OIDC_PUBLISHER_KID",
        value_delimiter = ','
    )]
    pub kids: Vec<String>,

    #[command(flatten)]
    pub sync: SyncArgs,
}
