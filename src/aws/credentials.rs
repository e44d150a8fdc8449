//! The chain's credentials, kept: [`Kept`] wraps the provider the SDK configuration resolves
//! credentials with and remembers what it returned until five minutes before they expire (the
//! SDK's identity cache refreshes them at that point too), so [`account_of_credentials`] can read
//! the account they carry without a second resolution (for a web identity that would be a
//! second AssumeRoleWithWebIdentity).
//!
//! Credentials carry their account when the chain knows it: from the assumed role's ARN (web
//! identity, the publisher in its pod), from `AWS_ACCOUNT_ID` next to static keys, or from an
//! SSO profile. Then the IAM provider's ARN is known without asking STS, one round trip less on
//! every run; otherwise STS GetCallerIdentity answers, as before.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{
    future, ProvideCredentials, Result as CredentialsResult, SharedCredentialsProvider,
};
use aws_credential_types::Credentials;
use tokio::sync::Mutex;

/// Credentials this close to expiry are resolved again.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// A credentials provider that keeps what the wrapped one returned while it is fresh.
#[derive(Debug)]
pub struct Kept {
    inner: SharedCredentialsProvider,
    last: Mutex<Option<Credentials>>,
}

impl Kept {
    pub fn new(inner: SharedCredentialsProvider) -> Kept {
        Kept {
            inner,
            last: Mutex::new(None),
        }
    }

    async fn resolve(&self) -> CredentialsResult {
        // Held across the resolution: two first callers at once resolve once.
        let mut last = self.last.lock().await;
        if let Some(credentials) = last.as_ref().filter(|c| fresh(c, SystemTime::now())) {
            return Ok(credentials.clone());
        }
        let credentials = self.inner.provide_credentials().await?;
        *last = Some(credentials.clone());
        Ok(credentials)
    }
}

impl ProvideCredentials for Kept {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.resolve())
    }
}

fn fresh(credentials: &Credentials, now: SystemTime) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| expiry > now + REFRESH_BEFORE)
}

/// The 12-digit account the configured credentials carry, if they carry one. `None` also when
/// they cannot be resolved: the caller asks STS, whose error then says why.
pub async fn account_of_credentials(
    provider: Option<&SharedCredentialsProvider>,
) -> Option<String> {
    let credentials = provider?.provide_credentials().await.ok()?;
    let account = credentials.account_id()?.as_str();
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        account: Option<&'static str>,
        expiry: Option<SystemTime>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut builder = Credentials::builder()
                .access_key_id("AKIDEXAMPLE")
                .secret_access_key("secret")
                .provider_name("test");
            if let Some(account) = self.account {
                builder = builder.account_id(account);
            }
            if let Some(expiry) = self.expiry {
                builder = builder.expiry(expiry);
            }
            future::ProvideCredentials::ready(Ok(builder.build()))
        }
    }

    fn kept(
        account: Option<&'static str>,
        expiry: Option<SystemTime>,
    ) -> (SharedCredentialsProvider, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let inner = SharedCredentialsProvider::new(Counting {
            calls: calls.clone(),
            account,
            expiry,
        });
        (SharedCredentialsProvider::new(Kept::new(inner)), calls)
    }

    #[tokio::test]
    async fn the_account_comes_from_the_credentials_resolved_once() {
        let expiry = SystemTime::now() + Duration::from_secs(3600);
        let (provider, calls) = kept(Some("123456789012"), Some(expiry));
        assert_eq!(
            account_of_credentials(Some(&provider)).await.as_deref(),
            Some("123456789012")
        );
        // The SDK's own resolution afterwards is served from what was kept.
        provider.provide_credentials().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn credentials_near_expiry_are_resolved_again() {
        let soon = SystemTime::now() + Duration::from_secs(60);
        let (provider, calls) = kept(Some("123456789012"), Some(soon));
        provider.provide_credentials().await.unwrap();
        provider.provide_credentials().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn without_an_account_sts_is_asked() {
        let (provider, _) = kept(None, None);
        assert_eq!(account_of_credentials(Some(&provider)).await, None);
        assert_eq!(account_of_credentials(None).await, None);
    }
}
