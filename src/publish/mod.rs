//! The publish step: build the effects a [`SyncConfig`] names (the key source, the store, the
//! IAM provider and the TLS thumbprints) and run one [`reconcile::sync_once`] with them. Every
//! command that publishes (`sync`, `run`'s passes, `bootstrap`, `rotate`) comes through here, so
//! a pass of the daemon is byte for byte a `sync` run. It prints nothing and reads no flags.
//!
//! What each part owns: [`gate`] stopping the daemon between two writes; [`lockout`] explaining
//! the publisher's own lock-out when STS refuses its token.

use anyhow::{anyhow, Context as _};
use aws_config::SdkConfig;

use crate::config::{IssuerChoice, SyncConfig, ThumbprintMode};
use crate::hosting::aws::AwsDistributions;
use crate::hosting::Distributions;
use crate::iam::aws::AwsProviders;
use crate::iam::{Account, OidcProviders};
use crate::model::issuer::partition;
use crate::model::Issuer;
use crate::reconcile::{self, EdgeInputs, Inputs, ProviderInputs, ThumbprintSource};
use crate::source::files::KeyFiles;
use crate::source::kube::{InlineKubeconfig, KubeOptions, KubeSource};
use crate::source::SourceKind;
use crate::source::{Combined, KeySource};
use crate::store::dir::DirStore;
use crate::store::s3::S3Store;
use crate::store::{Location, ObjectStore};
use crate::tls::TlsThumbprints;

pub mod gate;
pub mod lockout;

use gate::{Gated, WriteGate};

/// What publishes made by one process share.
#[derive(Default)]
pub struct Session {
    /// The AWS configuration, loaded on the first publish that needs it: its credential cache
    /// (a web identity's STS credentials, for instance) then lasts across passes.
    pub sdk: tokio::sync::OnceCell<SdkConfig>,
    /// The caller's account, asked of STS (GetCallerIdentity) on the first publish that manages
    /// IAM, or given by a caller that already knows it (`bootstrap`): credentials are refreshed,
    /// but they stay those of one account for the life of the process.
    pub account: tokio::sync::OnceCell<Account>,
    /// The CloudFront distributions (`--cloudfront-distribution`) checked to serve an issuer
    /// from a store, as `distribution issuer store`: checked once per run, once per daemon
    /// start (a fleet's clusters share sessions, hence one entry per combination).
    pub edge_checked: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// The daemon's write gate; `None` for a one-shot publish. Shared by every session of a
    /// fleet's daemon, so that one signal stops them all between two writes.
    pub gate: Option<std::sync::Arc<WriteGate>>,
}

/// Builds the effects a configuration names and runs one `sync_once`; prints nothing.
/// `bootstrap` publishes through this too.
pub async fn publish(config: &SyncConfig) -> anyhow::Result<reconcile::SyncReport> {
    publish_with(config, &Session::default()).await
}

/// [`publish`], for a caller that publishes more than once (`run`) or already holds the AWS
/// configuration and the account (`bootstrap`): the AWS configuration (and so its cached
/// credentials) is loaded once and kept, the account asked of STS once, and with a gate every
/// write goes through it.
pub async fn publish_with(
    config: &SyncConfig,
    session: &Session,
) -> anyhow::Result<reconcile::SyncReport> {
    let source = build_source(config, None).await?;
    publish_from(config, session, source.as_ref()).await
}

/// [`publish_with`] reading the keys from a source the caller built and keeps (a fleet's
/// daemon keeps each cluster's client, and so its connections, from one pass to the next).
pub async fn publish_from(
    config: &SyncConfig,
    session: &Session,
    source: &dyn KeySource,
) -> anyhow::Result<reconcile::SyncReport> {
    // Everything below is set-up without network requests; they all start in sync_once.
    let needs_aws = config.iam.is_some() || matches!(config.store, Location::S3 { .. });
    let load = || crate::aws::load(config.region.as_deref(), config.timeout);
    let sdk = match needs_aws {
        false => None,
        true => Some(session.sdk.get_or_init(load).await.clone()),
    };
    let region = sdk
        .as_ref()
        .and_then(|s| s.region())
        .map(|r| r.as_ref().to_owned());
    let (store, issuer) = build_store(config, sdk.as_ref(), region.as_deref())?;

    let providers;
    let gated_providers;
    let thumbprints;
    let provider = match &config.iam {
        None => None,
        Some(iam) => {
            let sdk = sdk.as_ref().expect("loaded when IAM is managed");
            let region = region.as_deref().ok_or_else(no_region)?;
            providers = AwsProviders::new(
                crate::aws::iam_client(sdk),
                crate::aws::sts_client(sdk),
                partition(region),
            );
            thumbprints = TlsThumbprints {
                ca_files: config.ca_files.clone(),
                connect_to: config.connect_to.clone(),
                timeout: config.timeout,
            };
            gated_providers = session.gate.as_deref().map(|gate| Gated {
                inner: &providers as &dyn OidcProviders,
                gate,
            });
            Some(ProviderInputs {
                providers: match &gated_providers {
                    Some(gated) => gated,
                    None => &providers,
                },
                thumbprints: match &iam.thumbprints {
                    ThumbprintMode::Auto => ThumbprintSource::Auto(&thumbprints),
                    ThumbprintMode::None => ThumbprintSource::None,
                    ThumbprintMode::Pinned(pinned) => ThumbprintSource::Pinned(pinned.clone()),
                },
                client_ids: iam.audiences.clone(),
                account: &session.account,
                cluster_name: iam.cluster_name.clone(),
                adopt: iam.adopt,
            })
        }
    };
    let distributions;
    let edge = match &config.cloudfront_distribution {
        None => None,
        Some(id) => {
            let sdk = sdk.as_ref().expect("loaded for an S3 store");
            distributions = AwsDistributions::new(crate::aws::cloudfront_client(sdk));
            let Location::S3 { bucket, prefix } = &config.store else {
                unreachable!("config refuses --cloudfront-distribution without an S3 store")
            };
            let region = region.as_deref().ok_or_else(no_region)?;
            let checked = format!("{id} {issuer} s3://{bucket}/{prefix}");
            if !session.edge_checked.lock().unwrap().contains(&checked) {
                reconcile::check_edge(&distributions, id, &issuer, bucket, region, prefix).await?;
                session.edge_checked.lock().unwrap().insert(checked);
            }
            Some(EdgeInputs {
                distributions: &distributions as &dyn Distributions,
                distribution: id.clone(),
            })
        }
    };
    let inputs = Inputs {
        issuer: &issuer,
        meta: config.object_meta(),
        mode: config.mode,
        allow_issuer_mismatch: config.allow_issuer_mismatch,
        allow_issuer_change: config.allow_issuer_change,
        // Only an issuer derived from the bucket names its Region. With an explicit --issuer the
        // Region only signs requests: S3 itself answers a wrong one (a 301 naming the bucket's
        // Region, reported as such), and a custom endpoint (MinIO, moto) decides for itself.
        issuer_region: match (&config.issuer, &config.store) {
            (IssuerChoice::FromBucket, Location::S3 { .. }) => region.clone(),
            _ => None,
        },
        provider,
        // Whole seconds: the state records times for people, and sub-second noise helps no one.
        now: time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond"),
        retention: config.retention,
        requests: config.requests.clone(),
        edge,
    };
    let gated_store = session.gate.as_deref().map(|gate| Gated {
        inner: store.as_ref(),
        gate,
    });
    let store: &dyn ObjectStore = match &gated_store {
        Some(gated) => gated,
        None => store.as_ref(),
    };
    match reconcile::sync_once(inputs, source, store).await {
        Ok(report) => Ok(report),
        // In the cluster, STS refusing the pod's own token may mean the publisher locked
        // itself out (the API server signs with a key not yet published): say so.
        Err(error) => Err(lockout::explain(error.into(), config, &issuer, &store.describe()).await),
    }
}

fn no_region() -> anyhow::Error {
    anyhow!("no AWS region is configured; pass --region (for example --region eu-west-1) or set AWS_REGION")
}

/// The API server source a configuration names (no request is made yet).
pub(crate) async fn kube_source(config: &SyncConfig) -> anyhow::Result<KubeSource> {
    kube_source_with(config, None).await
}

/// [`kube_source`] with the kubeconfig given as text (a fleet member's, read from a Secret)
/// instead of the configuration's file.
async fn kube_source_with(
    config: &SyncConfig,
    inline: Option<InlineKubeconfig>,
) -> anyhow::Result<KubeSource> {
    let options = KubeOptions {
        kubeconfig: config.kubeconfig.clone(),
        context: config.context.clone(),
        timeout: config.timeout,
        endpoints: config.api_server_endpoints,
        inline,
    };
    Ok(KubeSource::connect(&options).await?)
}

/// The key source a configuration names; `inline`: the API server's kubeconfig as text.
pub(crate) async fn build_source(
    config: &SyncConfig,
    inline: Option<InlineKubeconfig>,
) -> anyhow::Result<Box<dyn KeySource>> {
    let files = KeyFiles::new(config.key_files.clone());
    if config.source == SourceKind::Files {
        return Ok(Box::new(files));
    }
    let kube: Box<dyn KeySource> = Box::new(kube_source_with(config, inline).await?);
    if config.key_files.is_empty() {
        return Ok(kube);
    }
    Ok(Box::new(Combined(vec![kube, Box::new(files)])))
}

pub(crate) fn build_store(
    config: &SyncConfig,
    sdk: Option<&SdkConfig>,
    region: Option<&str>,
) -> anyhow::Result<(Box<dyn ObjectStore>, Issuer)> {
    match &config.store {
        Location::Dir(path) => {
            let IssuerChoice::Explicit(issuer) = &config.issuer else {
                unreachable!("config requires --issuer for a directory store")
            };
            Ok((Box::new(DirStore::new(path.clone())), issuer.clone()))
        }
        Location::S3 { bucket, prefix } => {
            let sdk = sdk.expect("loaded for an S3 store");
            let region = region.ok_or_else(no_region)?;
            let issuer = match &config.issuer {
                IssuerChoice::Explicit(issuer) => issuer.clone(),
                IssuerChoice::FromBucket => Issuer::for_s3_bucket(bucket, region, prefix)
                    .with_context(|| format!("deriving the issuer from bucket {bucket:?}"))?,
            };
            let client = crate::aws::s3_client(sdk, config.s3_path_style);
            let store = S3Store::new(
                client,
                bucket.clone(),
                prefix.clone(),
                config.timeout.as_secs(),
            );
            Ok((Box::new(store), issuer))
        }
    }
}
