//! The IAM side of a sync: what it needs ([`ProviderInputs`]), observing the OIDC provider
//! together with the thumbprints the public host's chain gives, and applying the provider's
//! changes in order.

use tokio::sync::OnceCell;

use crate::iam::{self, Account, OidcProviders};
use crate::model::Issuer;
use crate::plan::{Change, DesiredProvider, ObservedProvider};
use crate::tls::Thumbprints;

use super::ProviderError;

/// How the provider's thumbprints are chosen (`--thumbprint`).
pub enum ThumbprintSource<'a> {
    /// Computed from the verified chain of the public host(s).
    Auto(&'a dyn Thumbprints),
    /// Given by the user (validated).
    Pinned(Vec<String>),
    /// Left to IAM, which fetches its own.
    None,
}

/// What the IAM side needs.
pub struct ProviderInputs<'a> {
    pub providers: &'a dyn OidcProviders,
    /// The caller's account once known: asked of `providers` (STS) only while empty, so a
    /// caller that keeps the cell across passes (`run`), or fills it (`bootstrap`, which has
    /// already asked), asks STS once per process.
    pub account: &'a OnceCell<Account>,
    pub thumbprints: ThumbprintSource<'a>,
    pub client_ids: Vec<String>,
    /// `--cluster-name`; `None` keeps the provider's cluster tag.
    pub cluster_name: Option<String>,
    pub adopt: bool,
}

/// The public hosts whose certificates IAM may check: the `jwks_uri` host and, when it differs,
/// the issuer host (PROTOCOL.md §4). This tool renders `jwks_uri` under the issuer, so one.
fn public_hosts(issuer: &Issuer) -> Vec<String> {
    let jwks_uri = issuer.jwks_uri();
    let jwks_host = jwks_uri["https://".len()..]
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut hosts = vec![jwks_host];
    if hosts[0] != issuer.host() {
        hosts.push(issuer.host().to_owned());
    }
    hosts
}

/// Reads the provider and computes the desired state (thumbprints included), concurrently.
pub(super) async fn observe_provider(
    issuer: &Issuer,
    inputs: &ProviderInputs<'_>,
) -> Result<(DesiredProvider, String, Option<ObservedProvider>), ProviderError> {
    let thumbprints = async {
        match &inputs.thumbprints {
            ThumbprintSource::None => Ok::<_, ProviderError>(None),
            ThumbprintSource::Pinned(pinned) => Ok(Some(pinned.clone())),
            ThumbprintSource::Auto(fetcher) => {
                let hosts = public_hosts(issuer);
                let results =
                    futures::future::join_all(hosts.iter().map(|h| fetcher.thumbprint(h))).await;
                let mut thumbprints = Vec::new();
                for (host, result) in hosts.iter().zip(results) {
                    let thumbprint = result.map_err(|error| ProviderError::Thumbprint {
                        host: host.clone(),
                        error: Box::new(error),
                    })?;
                    if !thumbprints.contains(&thumbprint) {
                        thumbprints.push(thumbprint);
                    }
                }
                Ok(Some(thumbprints))
            }
        }
    };
    let observed = async {
        let account = inputs
            .account
            .get_or_try_init(|| inputs.providers.account())
            .await?;
        let arn = account.provider_arn(issuer.provider_url());
        let provider = inputs.providers.get(&arn).await?;
        Ok::<_, ProviderError>((arn, provider))
    };
    let (thumbprints, observed) = tokio::join!(thumbprints, observed);
    let (arn, provider) = observed?;
    let desired = DesiredProvider {
        url: issuer.provider_url().to_owned(),
        client_ids: inputs.client_ids.clone(),
        thumbprints: thumbprints?,
        cluster_name: inputs.cluster_name.clone(),
        adopt: inputs.adopt,
    };
    Ok((desired, arn, provider))
}

/// Applies the provider changes in order.
pub(super) async fn apply_provider(
    changes: &[Change],
    providers: &dyn OidcProviders,
) -> Result<usize, iam::Error> {
    for change in changes {
        match change {
            Change::CreateProvider {
                url,
                client_ids,
                thumbprints,
                tags,
            } => {
                providers.create(url, client_ids, thumbprints, tags).await?;
            }
            Change::SetThumbprints { arn, to, .. } => providers.set_thumbprints(arn, to).await?,
            Change::AddClientId { arn, client_id } => {
                providers.add_client_id(arn, client_id).await?
            }
            Change::RemoveClientId { arn, client_id } => {
                providers.remove_client_id(arn, client_id).await?
            }
            Change::TagProvider { arn, tags } => providers.tag(arn, tags).await?,
            Change::PutObject { .. } | Change::Invalidate { .. } => {
                unreachable!("document changes are applied by apply_documents")
            }
        }
        tracing::debug!(change = %change.describe(), "applied");
    }
    Ok(changes.len())
}
