//! The effects behind the `*.migration` checks, read-only: the migration record in
//! `--store`'s state object (as `issuer status` reads it), then, for the side that is not
//! `--issuer`, its documents fetched anonymously as STS fetches them and its IAM provider.
//! Nothing here judges what it reads; [`super::checks`] does.

use aws_config::SdkConfig;

use super::config::DoctorConfig;
use super::facts::{AwsFacts, Gathered, MigrationFacts, OtherSide, ProviderFacts};
use super::http::PublicClient;
use crate::model::state::{State, STATE_PATH};
use crate::store::dir::DirStore;
use crate::store::s3::S3Store;
use crate::store::{Location, ObjectStore};

/// The record in `--store`'s state object, without its other side yet (`NotGiven` without
/// `--store`).
pub async fn read_record(
    config: &DoctorConfig,
    sdk: &SdkConfig,
) -> Gathered<Option<(String, crate::model::migration::Migration)>> {
    let store: Box<dyn ObjectStore> = match &config.store {
        None => {
            return Gathered::not_given(
                "not checked: no --store to read a migration record from",
                "pass --store (as sync runs) to check both issuers of a migration",
            )
        }
        Some(Location::Dir(path)) => Box::new(DirStore::new(path.clone())),
        Some(Location::S3 { bucket, prefix }) => {
            if sdk.region().is_none() {
                return Gathered::failed(format!(
                    "no AWS region is configured, so s3://{bucket}'s state object cannot be read; pass --region (the bucket's region)"
                ));
            }
            Box::new(S3Store::new(
                crate::aws::s3_client(sdk, config.s3_path_style),
                bucket.clone(),
                prefix.clone(),
                config.timeout.as_secs(),
            ))
        }
    };
    let object = match store.get(STATE_PATH).await {
        Ok(Some(object)) => object,
        Ok(None) => return Gathered::Got(None),
        Err(e) => return Gathered::failed(format!("reading {}: {e}", store.location(STATE_PATH))),
    };
    match State::parse(&object.body) {
        Ok(state) => Gathered::Got(state.migration.map(|m| (store.describe(), m))),
        Err(e) => Gathered::failed(format!(
            "{} is not a state object this version reads ({e}); run sync to rewrite it",
            store.location(STATE_PATH)
        )),
    }
}

/// The record and its other side: that issuer's documents and provider.
pub async fn observe(
    config: &DoctorConfig,
    issuer: &str,
    client: &PublicClient,
    sdk: &SdkConfig,
    aws: &Gathered<AwsFacts>,
    record: Gathered<Option<(String, crate::model::migration::Migration)>>,
) -> Gathered<Option<MigrationFacts>> {
    let (store, record) = match record {
        Gathered::Got(Some(found)) => found,
        Gathered::Got(None) => return Gathered::Got(None),
        other => return other.absent(),
    };
    let token_lifetime = config.token_lifetime;
    let Some(which) = record.which(issuer).map(|w| w.other()) else {
        return Gathered::Got(Some(MigrationFacts {
            store,
            record,
            token_lifetime,
            other: None,
        }));
    };
    let other_issuer = record.side(which).issuer.clone();
    let provider = async {
        match aws {
            Gathered::Got(aws) => {
                let host_path = other_issuer.trim_start_matches("https://");
                // The account (and partition) the issuer's provider was looked up in.
                let partition = config
                    .role_arn
                    .as_ref()
                    .map_or(aws.partition.as_str(), |r| r.partition.as_str());
                let arn = format!(
                    "arn:{partition}:iam::{}:oidc-provider/{host_path}",
                    aws.provider_account
                );
                super::observe::provider(sdk, partition, &arn).await
            }
            other => other.absent(),
        }
    };
    let (public, provider): (_, Gathered<Option<ProviderFacts>>) =
        tokio::join!(super::observe::public(client, &other_issuer), provider);
    Gathered::Got(Some(MigrationFacts {
        store,
        record,
        token_lifetime,
        other: Some(OtherSide {
            which,
            public,
            provider,
        }),
    }))
}
