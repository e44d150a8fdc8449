//! `sync`: publish the documents and reconcile the IAM provider once (see
//! `reconcile::sync_once`). This file only builds the effects from the configuration.

use anyhow::{anyhow, Context as _};
use aws_config::SdkConfig;

use crate::cli::SyncArgs;
use crate::config::{IssuerChoice, Mode, SyncConfig, ThumbprintMode};
use crate::exit::Exit;
use crate::iam::aws::AwsProviders;
use crate::iam::OidcProviders;
use crate::model::issuer::partition;
use crate::model::Issuer;
use crate::output::OutputFormat;
use crate::reconcile::{self, Inputs, ProviderInputs, ThumbprintSource};
use crate::run::gate::Gated;
use crate::source::files::KeyFiles;
use crate::source::kube::{KubeOptions, KubeSource};
use crate::source::{Combined, KeySource, SourceKind};
use crate::store::dir::DirStore;
use crate::store::s3::S3Store;
use crate::store::{Location, ObjectStore};
use crate::tls::TlsThumbprints;

pub async fn run(args: &SyncArgs) -> anyhow::Result<Exit> {
    let result = sync(args).await;
    if let (Err(error), OutputFormat::Json) = (&result, args.publish.output.format) {
        // Scripts reading stdout get a result object on failure too; stderr has the same text.
        println!(
            "{}",
            serde_json::json!({ "status": "error", "error": format!("{error:#}") })
        );
    }
    result
}

async fn sync(args: &SyncArgs) -> anyhow::Result<Exit> {
    let config = SyncConfig::from_args(args)?;
    let report = publish(&config).await?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    crate::output::print_sync(&report, config.output);
    Ok(if config.mode == Mode::Check && report.drift() {
        Exit::Drift
    } else {
        Exit::Ok
    })
}

/// Builds the effects a configuration names and runs one `sync_once`; prints nothing.
/// `bootstrap` publishes through this too.
pub async fn publish(config: &SyncConfig) -> anyhow::Result<reconcile::SyncReport> {
    publish_with(config, None).await
}

/// [`publish`], for a caller that runs many passes (`run`): the AWS configuration (and so its
/// cached credentials) is loaded once and kept, and every write goes through the write gate.
pub async fn publish_with(
    config: &SyncConfig,
    daemon: Option<&crate::run::PassContext>,
) -> anyhow::Result<reconcile::SyncReport> {
    // Everything below is set-up without network requests; they all start in sync_once.
    let needs_aws = config.iam.is_some() || matches!(config.store, Location::S3 { .. });
    let load = || crate::aws::load(config.region.as_deref(), config.timeout);
    let sdk = match (needs_aws, daemon) {
        (false, _) => None,
        (true, None) => Some(load().await),
        (true, Some(daemon)) => Some(daemon.sdk.get_or_init(load).await.clone()),
    };
    let region = sdk
        .as_ref()
        .and_then(|s| s.region())
        .map(|r| r.as_ref().to_owned());
    let source = build_source(config).await?;
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
            gated_providers = daemon.map(|d| Gated {
                inner: &providers as &dyn OidcProviders,
                gate: &d.gate,
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
                cluster_name: iam.cluster_name.clone(),
                adopt: iam.adopt,
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
    };
    let gated_store = daemon.map(|d| Gated {
        inner: store.as_ref(),
        gate: &d.gate,
    });
    let store: &dyn ObjectStore = match &gated_store {
        Some(gated) => gated,
        None => store.as_ref(),
    };
    match reconcile::sync_once(inputs, source.as_ref(), store).await {
        Ok(report) => Ok(report),
        // In the cluster, STS refusing the pod's own token may mean the publisher locked
        // itself out (the API server signs with a key not yet published): say so.
        Err(error) => {
            Err(
                crate::commands::lockout::explain(error.into(), config, &issuer, &store.describe())
                    .await,
            )
        }
    }
}

fn no_region() -> anyhow::Error {
    anyhow!("no AWS region is configured; pass --region (for example --region eu-west-1) or set AWS_REGION")
}

/// The API server source a configuration names (no request is made yet).
pub(crate) async fn kube_source(config: &SyncConfig) -> anyhow::Result<KubeSource> {
    let options = KubeOptions {
        kubeconfig: config.kubeconfig.clone(),
        context: config.context.clone(),
        timeout: config.timeout,
        endpoints: config.api_server_endpoints,
    };
    Ok(KubeSource::connect(&options).await?)
}

pub(crate) async fn build_source(config: &SyncConfig) -> anyhow::Result<Box<dyn KeySource>> {
    let files = KeyFiles::new(config.key_files.clone());
    if config.source == SourceKind::Files {
        return Ok(Box::new(files));
    }
    let kube: Box<dyn KeySource> = Box::new(kube_source(config).await?);
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
