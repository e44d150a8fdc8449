//! An in-memory `Roles` for unit tests: roles in a map, calls counted by name.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Error, Role, Roles};
use crate::calls::Calls;

#[derive(Default)]
struct State {
    roles: BTreeMap<String, Role>,
    calls: Calls<Error>,
}

#[derive(Default)]
pub struct MemoryRoles {
    state: Mutex<State>,
}

impl MemoryRoles {
    pub fn insert(&self, role: Role) {
        let mut state = self.state.lock().unwrap();
        state.roles.insert(role.name.clone(), role);
    }

    pub fn role(&self, name: &str) -> Option<Role> {
        self.state.lock().unwrap().roles.get(name).cloned()
    }

    /// Calls that change IAM.
    pub fn writes(&self) -> usize {
        self.state.lock().unwrap().calls.writes(&["get", "list"])
    }
}

#[async_trait]
impl Roles for MemoryRoles {
    async fn get(&self, name: &str) -> Result<Option<Role>, Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("get")?;
        Ok(state.roles.get(name).cloned())
    }

    async fn list(&self) -> Result<Vec<Role>, Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("list")?;
        Ok(state
            .roles
            .values()
            .map(|r| Role {
                tags: BTreeMap::new(),
                ..r.clone()
            })
            .collect())
    }

    async fn set_trust_policy(&self, name: &str, policy: &str) -> Result<(), Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("set_trust_policy")?;
        match state.roles.get_mut(name) {
            Some(role) => {
                role.trust_policy = policy.to_owned();
                Ok(())
            }
            None => Err(Error::NotFound {
                resource: format!("IAM role {name}"),
            }),
        }
    }
}
