//! An in-memory `OidcProviders` for unit tests of the reconcile loop: providers in a map,
//! calls counted by name, and an optional failure for a chosen call. Integration tests use
//! the real IAM API (moto server).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Account, Error, OidcProviders, ProviderState};
use crate::calls::Calls;

#[derive(Default)]
struct State {
    providers: BTreeMap<String, ProviderState>,
    calls: Calls<Error>,
}

pub struct MemoryProviders {
    account: Account,
    state: Mutex<State>,
}

impl Default for MemoryProviders {
    fn default() -> Self {
        MemoryProviders {
            account: Account {
                id: "123456789012".into(),
                partition: "aws".into(),
            },
            state: Mutex::default(),
        }
    }
}

impl MemoryProviders {
    pub fn new() -> MemoryProviders {
        MemoryProviders::default()
    }

    pub fn insert(&self, provider: ProviderState) {
        self.state
            .lock()
            .unwrap()
            .providers
            .insert(provider.arn.clone(), provider);
    }

    pub fn provider(&self, arn: &str) -> Option<ProviderState> {
        self.state.lock().unwrap().providers.get(arn).cloned()
    }

    /// Calls of `name` so far ("create", "set_thumbprints", …).
    pub fn calls(&self, name: &str) -> usize {
        self.state.lock().unwrap().calls.count(name)
    }

    /// Calls that change IAM.
    pub fn writes(&self) -> usize {
        self.state.lock().unwrap().calls.writes(&["get", "account"])
    }

    /// Makes every call of `name` fail with `error()`.
    pub fn fail(&self, name: &'static str, error: fn() -> Error) {
        self.state.lock().unwrap().calls.fail(Some((name, error)));
    }

    fn call(&self, name: &'static str) -> Result<std::sync::MutexGuard<'_, State>, Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record(name)?;
        Ok(state)
    }
}

#[async_trait]
impl OidcProviders for MemoryProviders {
    async fn account(&self) -> Result<Account, Error> {
        drop(self.call("account")?);
        Ok(self.account.clone())
    }

    async fn get(&self, arn: &str) -> Result<Option<ProviderState>, Error> {
        Ok(self.call("get")?.providers.get(arn).cloned())
    }

    async fn create(
        &self,
        url: &str,
        client_ids: &[String],
        thumbprints: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        let arn = self.account.provider_arn(url);
        let mut state = self.call("create")?;
        if state.providers.contains_key(&arn) {
            return Err(Error::AlreadyExists { url: url.into() });
        }
        let thumbprints = if thumbprints.is_empty() {
            vec!["f".repeat(40)]
        } else {
            thumbprints.to_vec()
        };
        let provider = ProviderState {
            arn: arn.clone(),
            url: url.into(),
            client_ids: client_ids.to_vec(),
            thumbprints,
            tags: tags.clone(),
        };
        state.providers.insert(arn.clone(), provider);
        Ok(arn)
    }

    async fn set_thumbprints(&self, arn: &str, thumbprints: &[String]) -> Result<(), Error> {
        let mut state = self.call("set_thumbprints")?;
        state
            .providers
            .get_mut(arn)
            .expect("provider exists")
            .thumbprints = thumbprints.to_vec();
        Ok(())
    }

    async fn add_client_id(&self, arn: &str, client_id: &str) -> Result<(), Error> {
        let mut state = self.call("add_client_id")?;
        let ids = &mut state
            .providers
            .get_mut(arn)
            .expect("provider exists")
            .client_ids;
        if !ids.iter().any(|id| id == client_id) {
            ids.push(client_id.into());
        }
        Ok(())
    }

    async fn remove_client_id(&self, arn: &str, client_id: &str) -> Result<(), Error> {
        let mut state = self.call("remove_client_id")?;
        state
            .providers
            .get_mut(arn)
            .expect("provider exists")
            .client_ids
            .retain(|id| id != client_id);
        Ok(())
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), Error> {
        let mut state = self.call("tag")?;
        let provider = state.providers.get_mut(arn).expect("provider exists");
        provider.tags.extend(tags.clone());
        Ok(())
    }
    async fn delete(&self, arn: &str) -> Result<(), Error> {
        self.call("delete")?.providers.remove(arn);
        Ok(())
    }
}
