//! `sync`: publish the documents once (see `reconcile::sync_once`).

use anyhow::{anyhow, Context as _};

use crate::cli::{OutputFormat, SourceKind, SyncArgs};
use crate::config::{IssuerChoice, Mode, SyncConfig};
use crate::exit::Exit;
use crate::model::Issuer;
use crate::reconcile::{self, Inputs};
use crate::source::files::KeyFiles;
use crate::source::kube::{KubeOptions, KubeSource};
use crate::source::{Combined, KeySource};
use crate::store::dir::DirStore;
use crate::store::s3::S3Store;
use crate::store::{Location, ObjectStore};

pub async fn run(args: &SyncArgs) -> anyhow::Result<Exit> {
    let result = sync(args).await;
    if let (Err(error), OutputFormat::Json) = (&result, args.output) {
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
    if config.manage_iam {
        tracing::warn!("this version does not manage the IAM OIDC provider yet; create it once with `aws iam create-open-id-connect-provider` (pass --no-iam to silence this)");
    }
    let source = build_source(&config).await?;
    let (store, issuer) = build_store(&config).await?;
    let inputs = Inputs {
        issuer: &issuer,
        meta: config.object_meta(),
        mode: config.mode,
        allow_issuer_mismatch: config.allow_issuer_mismatch,
    };
    let report = reconcile::sync_once(inputs, source.as_ref(), store.as_ref()).await?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    crate::output::print_sync(&report, config.output);
    Ok(if config.mode == Mode::Check && !report.plan.is_empty() {
        Exit::Drift
    } else {
        Exit::Ok
    })
}

async fn build_source(config: &SyncConfig) -> anyhow::Result<Box<dyn KeySource>> {
    let files = KeyFiles::new(config.key_files.clone());
    if config.source == SourceKind::Files {
        return Ok(Box::new(files));
    }
    let options = KubeOptions {
        kubeconfig: config.kubeconfig.clone(),
        context: config.context.clone(),
        timeout: config.timeout,
    };
    let kube: Box<dyn KeySource> = Box::new(KubeSource::connect(&options).await?);
    if config.key_files.is_empty() {
        return Ok(kube);
    }
    Ok(Box::new(Combined(vec![kube, Box::new(files)])))
}

async fn build_store(config: &SyncConfig) -> anyhow::Result<(Box<dyn ObjectStore>, Issuer)> {
    match &config.store {
        Location::Dir(path) => {
            let IssuerChoice::Explicit(issuer) = &config.issuer else {
                unreachable!("config requires --issuer for a directory store")
            };
            Ok((Box::new(DirStore::new(path.clone())), issuer.clone()))
        }
        Location::S3 { bucket, prefix } => {
            let sdk = crate::aws::load(config.region.as_deref(), config.timeout).await;
            let region = sdk
                .region()
                .map(|r| r.as_ref().to_owned())
                .ok_or_else(|| anyhow!("no AWS region is configured; pass --region (for example --region eu-west-1) or set AWS_REGION"))?;
            let issuer = match &config.issuer {
                IssuerChoice::Explicit(issuer) => issuer.clone(),
                IssuerChoice::FromBucket => Issuer::for_s3_bucket(bucket, &region, prefix)
                    .with_context(|| format!("deriving the issuer from bucket {bucket:?}"))?,
            };
            let client = crate::aws::s3_client(&sdk, config.s3_path_style);
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
