//! `OidcProviders` over the real IAM and STS APIs (AWS SDK; endpoints, credentials and
//! `AWS_ENDPOINT_URL_IAM`/`_STS` from the standard chain). Retryable failures are retried here
//! with backoff: `ConcurrentModification` (which the SDK does not retry), and throttling or
//! `ServiceFailure` that outlast the SDK's own retries. Every other failure is mapped to its
//! meaning (`crate::aws::classify`), naming the IAM action a denial is about.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;

use super::{Account, Error, OidcProviders, ProviderState};
use crate::aws::Kind;

/// Attempts per call for retryable failures (each attempt includes the SDK's own retries).
const ATTEMPTS: u32 = 4;

pub struct AwsProviders {
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    partition: String,
    /// The configuration's credentials, whose account spares STS (`crate::aws::credentials`).
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
}

impl AwsProviders {
    pub fn new(
        iam: aws_sdk_iam::Client,
        sts: aws_sdk_sts::Client,
        partition: &str,
    ) -> AwsProviders {
        AwsProviders {
            iam,
            sts,
            partition: partition.to_owned(),
            credentials: None,
        }
    }

    /// The account is read from these credentials when they carry it, before STS is asked.
    pub fn with_credentials(
        mut self,
        credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    ) -> AwsProviders {
        self.credentials = credentials;
        self
    }
}

/// Maps an SDK error to its meaning. `action` is the IAM action, `resource` what it was on.
fn classify<E>(action: &'static str, resource: &str, err: &SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = crate::aws::failure(err);
    let resource = resource.to_owned();
    match failure.kind {
        Kind::NoCredentials | Kind::BadCredentials => Error::Credentials {
            detail: failure.detail,
        },
        Kind::Denied => Error::AccessDenied { action, resource },
        Kind::LimitExceeded => Error::LimitExceeded,
        Kind::NotFound => Error::NotFound { resource },
        Kind::AlreadyExists => Error::AlreadyExists { url: resource },
        Kind::Invalid => Error::Invalid {
            action,
            detail: failure.message,
        },
        Kind::Throttled | Kind::Transient | Kind::Other => Error::Service {
            action,
            detail: failure.detail,
        },
    }
}

/// Runs `call` until it succeeds, fails for good, or retryable failures exhaust [`ATTEMPTS`].
pub(crate) async fn with_retries<T, E, F, Fut>(
    action: &'static str,
    resource: &str,
    mut call: F,
) -> Result<T, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(err) if crate::aws::classify(&err).retryable() => {
                if attempt >= ATTEMPTS {
                    return Err(Error::Exhausted {
                        action,
                        attempts: attempt,
                        detail: crate::aws::describe_error(&err),
                    });
                }
                // 200 ms, 400 ms, 800 ms, with up to 50 % jitter so racing publishers spread out.
                let base = 200u64 << (attempt - 1);
                let jitter = u64::from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .subsec_nanos(),
                ) % (base / 2 + 1);
                tracing::debug!(action, attempt, code = ?err.code(), "retrying");
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
                attempt += 1;
            }
            Err(err) => return Err(classify(action, resource, &err)),
        }
    }
}

pub(crate) fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value are set")
        })
        .collect()
}

#[async_trait]
impl OidcProviders for AwsProviders {
    async fn account(&self) -> Result<Account, Error> {
        // The account the credentials carry (web identity, AWS_ACCOUNT_ID) spares a round trip.
        if let Some(id) = crate::aws::account_of_credentials(self.credentials.as_ref()).await {
            return Ok(Account {
                id,
                partition: self.partition.clone(),
            });
        }
        let identity = with_retries("sts:GetCallerIdentity", "the caller", || {
            self.sts.get_caller_identity().send()
        })
        .await?;
        let id = identity.account().unwrap_or_default().to_owned();
        Ok(Account {
            id,
            partition: self.partition.clone(),
        })
    }

    async fn get(&self, arn: &str) -> Result<Option<ProviderState>, Error> {
        let result = with_retries("iam:GetOpenIDConnectProvider", arn, || {
            self.iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
        })
        .await;
        let output = match result {
            Ok(output) => output,
            // NoSuchEntity is an answer: the provider does not exist.
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(ProviderState {
            arn: arn.to_owned(),
            url: output
                .url()
                .unwrap_or_default()
                .trim_start_matches("https://")
                .to_owned(),
            client_ids: output.client_id_list().to_vec(),
            thumbprints: output
                .thumbprint_list()
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            tags: output
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        }))
    }

    async fn create(
        &self,
        url: &str,
        client_ids: &[String],
        thumbprints: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        let https = format!("https://{url}");
        let output = with_retries("iam:CreateOpenIDConnectProvider", url, || {
            let request = self
                .iam
                .create_open_id_connect_provider()
                .url(&https)
                .set_client_id_list(Some(client_ids.to_vec()))
                .set_tags(Some(iam_tags(tags)));
            // Without a list IAM fetches the thumbprint itself (optional since July 2024).
            let request = if thumbprints.is_empty() {
                request
            } else {
                request.set_thumbprint_list(Some(thumbprints.to_vec()))
            };
            request.send()
        })
        .await?;
        Ok(output
            .open_id_connect_provider_arn()
            .unwrap_or_default()
            .to_owned())
    }

    async fn set_thumbprints(&self, arn: &str, thumbprints: &[String]) -> Result<(), Error> {
        with_retries("iam:UpdateOpenIDConnectProviderThumbprint", arn, || {
            self.iam
                .update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(Some(thumbprints.to_vec()))
                .send()
        })
        .await
        .map(drop)
    }

    async fn add_client_id(&self, arn: &str, client_id: &str) -> Result<(), Error> {
        with_retries("iam:AddClientIDToOpenIDConnectProvider", arn, || {
            self.iam
                .add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(client_id)
                .send()
        })
        .await
        .map(drop)
    }

    async fn remove_client_id(&self, arn: &str, client_id: &str) -> Result<(), Error> {
        with_retries("iam:RemoveClientIDFromOpenIDConnectProvider", arn, || {
            self.iam
                .remove_client_id_from_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(client_id)
                .send()
        })
        .await
        .map(drop)
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), Error> {
        with_retries("iam:TagOpenIDConnectProvider", arn, || {
            self.iam
                .tag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tags(Some(iam_tags(tags)))
                .send()
        })
        .await
        .map(drop)
    }

    async fn delete(&self, arn: &str) -> Result<(), Error> {
        let result = with_retries("iam:DeleteOpenIDConnectProvider", arn, || {
            self.iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
        })
        .await;
        match result {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
