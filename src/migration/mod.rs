//! Moving a cluster to a new issuer (`issuer prepare | status | finish`, docs/issuer-
//! migration.md) as observe → plan → apply. The documents go through [`crate::publish`] (a
//! sync for each store, with the migration recorded in their state objects); the trust policies
//! through the [`Roles`] effect, edited by the pure `model::migration`; the old provider through
//! [`OidcProviders`]. Dry runs are plans printed instead of applied: nothing here asks whether
//! it may write, the caller decides whether to call an `apply_*`.

use serde::Serialize;

use crate::iam::OidcProviders;
use crate::model::migration::{extend, remove_old, trusts, Providers};
use crate::model::policy::check_trust_policy_length;
use crate::model::state::STATE_PATH;
use crate::model::{DISCOVERY_PATH, JWKS_PATH};
use crate::roles::Roles;
use crate::store::ObjectStore;

/// One role's trust policy as a migration step would leave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleEdit {
    pub name: String,
    #[serde(skip)]
    pub before: String,
    /// `None`: nothing to change (already extended, or already trimmed).
    #[serde(skip)]
    pub after: Option<String>,
    pub changed: bool,
    /// Past IAM's default trust-policy length quota.
    pub warning: Option<String>,
}

/// A role left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedRole {
    pub name: String,
    pub reason: String,
}

/// `prepare`'s roles: each `named` role, and with `all` every role whose trust policy names the
/// old provider and that is tagged as ours, with its trust policy extended to the new provider.
pub async fn plan_extend(
    roles: &dyn Roles,
    named: &[String],
    all: bool,
    providers: Providers<'_>,
) -> anyhow::Result<(Vec<RoleEdit>, Vec<SkippedRole>)> {
    let mut chosen = Vec::new();
    let mut skipped = Vec::new();
    for name in named {
        match roles.get(name).await? {
            Some(role) => chosen.push(role),
            None => anyhow::bail!(
                "--role {name}: there is no IAM role {name:?} in this account; check the name (`aws iam get-role --role-name {name}`). Nothing was changed"
            ),
        }
    }
    if all {
        for listed in roles.list().await? {
            if named.contains(&listed.name) {
                continue;
            }
            let old = trusts(&listed.trust_policy, providers.old_host_path).unwrap_or(false);
            let new = trusts(&listed.trust_policy, providers.new_host_path).unwrap_or(false);
            if !old && !new {
                continue;
            }
            // ListRoles has no tags: ask for the role itself.
            let Some(role) = roles.get(&listed.name).await? else {
                continue;
            };
            if role.is_managed() {
                chosen.push(role);
            } else {
                skipped.push(SkippedRole {
                    name: role.name.clone(),
                    reason: format!("trusts the old provider but is not tagged {}={}: name it with --role {} to extend it", crate::iam::MANAGED_BY_TAG, crate::iam::MANAGED_BY_VALUE, role.name),
                });
            }
        }
    }
    let mut edits = Vec::new();
    for role in chosen {
        let after = extend(&role.trust_policy, providers)
            .map_err(|e| anyhow::anyhow!("role {}: {e}", role.name))?;
        if after.is_none() && !trusts(&role.trust_policy, providers.new_host_path)? {
            skipped.push(SkippedRole {
                name: role.name.clone(),
                reason: format!(
                    "its trust policy names neither {} nor {}: nothing to extend",
                    providers.old_host_path, providers.new_host_path
                ),
            });
            continue;
        }
        let warning = match &after {
            Some(text) => {
                let document: serde_json::Value = serde_json::from_str(text)?;
                check_trust_policy_length(&document)
                    .map_err(|e| anyhow::anyhow!("role {}: {e}. Nothing was changed", role.name))?
            }
            None => None,
        };
        edits.push(RoleEdit {
            name: role.name,
            before: role.trust_policy,
            changed: after.is_some(),
            after,
            warning,
        });
    }
    Ok((edits, skipped))
}

/// `finish`'s roles: the recorded roles, with the old provider's statements removed (only where
/// a statement for the new provider stays). A role gone meanwhile is skipped.
pub async fn plan_trim(
    roles: &dyn Roles,
    recorded: &[String],
    providers: Providers<'_>,
) -> anyhow::Result<(Vec<RoleEdit>, Vec<SkippedRole>)> {
    let mut edits = Vec::new();
    let mut skipped = Vec::new();
    for name in recorded {
        let Some(role) = roles.get(name).await? else {
            skipped.push(SkippedRole {
                name: name.clone(),
                reason: "no longer exists".into(),
            });
            continue;
        };
        let after = remove_old(&role.trust_policy, providers)
            .map_err(|e| anyhow::anyhow!("role {name}: {e}"))?;
        if after.is_none() && trusts(&role.trust_policy, providers.old_host_path)? {
            skipped.push(SkippedRole {
                name: name.clone(),
                reason: format!("it trusts {} but not {}: removing that statement would leave the role unusable; extend it first (`issuer prepare --role {name}`)", providers.old_host_path, providers.new_host_path),
            });
            continue;
        }
        edits.push(RoleEdit {
            name: role.name,
            before: role.trust_policy,
            changed: after.is_some(),
            after,
            warning: None,
        });
    }
    Ok((edits, skipped))
}

/// Writes each changed trust policy; returns the number of writes.
pub async fn apply_roles(roles: &dyn Roles, edits: &[RoleEdit]) -> anyhow::Result<usize> {
    let mut writes = 0;
    for edit in edits {
        if let Some(after) = &edit.after {
            roles.set_trust_policy(&edit.name, after).await?;
            writes += 1;
        }
    }
    Ok(writes)
}

/// What `finish` does to the old provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderFate {
    /// Ours: deleted.
    Delete,
    /// Not tagged as ours: left for its owner.
    LeftNotOurs,
    /// Already gone.
    Absent,
    /// IAM not managed (`--no-iam`).
    NotManaged,
}

/// Deletes the old provider if it is ours; returns the writes.
pub async fn apply_provider(
    providers: &dyn OidcProviders,
    arn: &str,
    fate: &ProviderFate,
) -> anyhow::Result<usize> {
    match fate {
        ProviderFate::Delete => {
            providers.delete(arn).await?;
            Ok(1)
        }
        _ => Ok(0),
    }
}

/// The old store's objects `finish` deletes, in order: the discovery document first (STS
/// starts there), then the JWKS, then the state (which records the migration, so a finish that
/// stops half-way can run again).
pub const OLD_OBJECTS: [&str; 3] = [DISCOVERY_PATH, JWKS_PATH, STATE_PATH];

/// Deletes the old documents that still exist; returns the writes.
pub async fn delete_old_documents(store: &dyn ObjectStore) -> anyhow::Result<usize> {
    let mut writes = 0;
    for key in OLD_OBJECTS {
        if store.get(key).await?.is_some() {
            store.delete(key).await?;
            writes += 1;
        }
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::roles::memory::MemoryRoles;
    use crate::roles::Role;

    const P: Providers = Providers {
        old_host_path: "old.example.com/c1",
        new_host_path: "new.example.com/c1",
    };

    fn policy(host_path: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::123456789012:oidc-provider/{host_path}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{host_path}:sub":"system:serviceaccount:a:b"}}}}}}]}}"#
        )
    }

    fn role(name: &str, managed: bool) -> Role {
        let mut tags = BTreeMap::new();
        if managed {
            tags.insert(
                crate::iam::MANAGED_BY_TAG.to_owned(),
                crate::iam::MANAGED_BY_VALUE.to_owned(),
            );
        }
        Role {
            name: name.into(),
            arn: format!("arn:aws:iam::123456789012:role/{name}"),
            trust_policy: policy(P.old_host_path),
            tags,
        }
    }

    #[tokio::test]
    async fn all_roles_extends_only_ours_and_a_named_one_whatever_its_tags() {
        let roles = MemoryRoles::default();
        roles.insert(role("ours", true));
        roles.insert(role("theirs", false));
        roles.insert(role("named", false));
        let mut unrelated = role("unrelated", true);
        unrelated.trust_policy = policy("other.example.com/x");
        roles.insert(unrelated);

        let (edits, skipped) = plan_extend(&roles, &["named".into()], true, P)
            .await
            .unwrap();
        let names: Vec<&str> = edits.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["named", "ours"]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].name, "theirs");
        assert_eq!(apply_roles(&roles, &edits).await.unwrap(), 2);
        assert!(trusts(&roles.role("ours").unwrap().trust_policy, P.new_host_path).unwrap());
        assert_eq!(
            roles.role("theirs").unwrap().trust_policy,
            policy(P.old_host_path)
        );

        // Again: nothing to write.
        let (edits, _) = plan_extend(&roles, &["named".into()], true, P)
            .await
            .unwrap();
        assert!(edits.iter().all(|e| !e.changed));
        assert_eq!(apply_roles(&roles, &edits).await.unwrap(), 0);

        // finish trims the recorded roles, once.
        let recorded = vec!["named".to_owned(), "ours".to_owned()];
        let (edits, skipped) = plan_trim(&roles, &recorded, P).await.unwrap();
        assert!(skipped.is_empty());
        assert_eq!(apply_roles(&roles, &edits).await.unwrap(), 2);
        let trimmed = roles.role("ours").unwrap().trust_policy;
        assert!(!trusts(&trimmed, P.old_host_path).unwrap());
        let (edits, _) = plan_trim(&roles, &recorded, P).await.unwrap();
        assert_eq!(apply_roles(&roles, &edits).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_named_role_that_does_not_exist_is_an_error_before_any_write() {
        let roles = MemoryRoles::default();
        let error = plan_extend(&roles, &["nope".into()], false, P)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("no IAM role \"nope\""),
            "{error}"
        );
        assert_eq!(roles.writes(), 0);
    }
}
