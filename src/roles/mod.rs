//! `Roles`: the IAM roles whose trust policies a move to another issuer edits (`issuer
//! prepare` extends them, `issuer finish` trims them). One narrow trait with a real
//! implementation (`aws`: IAM) and an in-memory one for unit tests.
//!
//! Semantics callers rely on:
//! - trust policies come back as the text IAM stores, URL-decoded once, never reformatted: the
//!   edits in `model::migration` keep every byte they do not change.
//! - `get` returns `Ok(None)` only for a role that does not exist (`NoSuchEntity`).
//! - `list` walks every page of ListRoles; it returns no tags (ListRoles does not), so a caller
//!   that needs them asks `get` for the roles it keeps.
//! - Errors are `iam::Error`s, mapped by the same classifier and retried the same way as the
//!   OIDC provider's calls.

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use crate::iam::Error;

pub mod aws;
pub mod memory;

/// One role as the migration needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub arn: String,
    /// The trust policy document, URL-decoded, as stored.
    pub trust_policy: String,
    /// Empty from `list`.
    pub tags: BTreeMap<String, String>,
}

impl Role {
    /// Tagged `kube-oidc-publisher/managed-by: kube-oidc-publisher`.
    pub fn is_managed(&self) -> bool {
        self.tags
            .get(crate::iam::MANAGED_BY_TAG)
            .map(String::as_str)
            == Some(crate::iam::MANAGED_BY_VALUE)
    }
}

/// The effect trait for the roles side of a migration.
#[async_trait]
pub trait Roles: Send + Sync {
    /// GetRole: the role with its trust policy and tags, `None` if there is no such role.
    async fn get(&self, name: &str) -> Result<Option<Role>, Error>;

    /// ListRoles, every page: every role of the account, without tags.
    async fn list(&self) -> Result<Vec<Role>, Error>;

    /// UpdateAssumeRolePolicy: replaces the role's trust policy with `policy`, as given.
    async fn set_trust_policy(&self, name: &str, policy: &str) -> Result<(), Error>;
}
