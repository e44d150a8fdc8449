//! An in-memory [`Effects`] for unit tests of the bootstrap plan: one account, its buckets and
//! roles in maps, every call counted by name, and an optional failure for a chosen call.
//! Integration tests use the real APIs (moto server).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{BucketHead, Effects, Error, PublicAccessBlock, RoleState};
use crate::calls::Calls;

/// One bucket's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryBucket {
    pub region: String,
    pub ownership: Option<String>,
    pub public_access_block: Option<PublicAccessBlock>,
    pub policy: Option<String>,
    /// Owned by another account: HeadBucket answers 403.
    pub foreign: bool,
}

/// One role and its inline policies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryRole {
    pub arn: String,
    pub trust_policy: String,
    pub tags: BTreeMap<String, String>,
    pub policies: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    account_public_access_block: Option<PublicAccessBlock>,
    buckets: BTreeMap<String, MemoryBucket>,
    roles: BTreeMap<String, MemoryRole>,
    /// (bucket, key) of every object.
    objects: std::collections::BTreeSet<(String, String)>,
    /// IAM OIDC providers by ARN, with their tags.
    providers: BTreeMap<String, BTreeMap<String, String>>,
    calls: Calls<Error>,
}

/// Account 123456789012 in region `region` (the region a created bucket gets).
pub struct MemoryEffects {
    account: String,
    region: String,
    state: Mutex<State>,
}

/// Calls that read.
const READS: [&str; 10] = [
    "account_id",
    "account_public_access_block",
    "head_bucket",
    "ownership",
    "bucket_public_access_block",
    "bucket_policy",
    "role",
    "role_policy",
    "object_exists",
    "provider_tags",
];

impl MemoryEffects {
    pub fn new(region: &str) -> MemoryEffects {
        MemoryEffects {
            account: "123456789012".into(),
            region: region.into(),
            state: Mutex::default(),
        }
    }

    pub fn set_account_public_access_block(&self, config: Option<PublicAccessBlock>) {
        self.state.lock().unwrap().account_public_access_block = config;
    }

    pub fn insert_bucket(&self, name: &str, bucket: MemoryBucket) {
        self.state
            .lock()
            .unwrap()
            .buckets
            .insert(name.into(), bucket);
    }

    pub fn bucket(&self, name: &str) -> Option<MemoryBucket> {
        self.state.lock().unwrap().buckets.get(name).cloned()
    }

    pub fn insert_role(&self, name: &str, role: MemoryRole) {
        self.state.lock().unwrap().roles.insert(name.into(), role);
    }

    pub fn role_state(&self, name: &str) -> Option<MemoryRole> {
        self.state.lock().unwrap().roles.get(name).cloned()
    }

    pub fn insert_object(&self, bucket: &str, key: &str) {
        let mut state = self.state.lock().unwrap();
        state.objects.insert((bucket.into(), key.into()));
    }

    pub fn has_object(&self, bucket: &str, key: &str) -> bool {
        let state = self.state.lock().unwrap();
        state.objects.contains(&(bucket.into(), key.into()))
    }

    pub fn insert_provider(&self, arn: &str, tags: BTreeMap<String, String>) {
        self.state
            .lock()
            .unwrap()
            .providers
            .insert(arn.into(), tags);
    }

    pub fn has_provider(&self, arn: &str) -> bool {
        self.state.lock().unwrap().providers.contains_key(arn)
    }

    /// Calls of `name` so far ("put_bucket_policy", "create_role", ...).
    pub fn calls(&self, name: &str) -> usize {
        self.state.lock().unwrap().calls.count(name)
    }

    /// Calls that change something.
    pub fn writes(&self) -> usize {
        self.state.lock().unwrap().calls.writes(&READS)
    }

    /// Makes every call of `name` fail with `error()`.
    pub fn fail(&self, name: &'static str, error: fn() -> Error) {
        self.state.lock().unwrap().calls.fail(Some((name, error)));
    }

    pub fn clear_failure(&self) {
        self.state.lock().unwrap().calls.fail(None);
    }

    fn call(&self, name: &'static str) -> Result<MutexGuard<'_, State>, Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record(name)?;
        Ok(state)
    }

    fn no_bucket(bucket: &str) -> Error {
        Error::Service {
            action: "s3",
            resource: bucket.into(),
            detail: "NoSuchBucket".into(),
        }
    }
}

fn bucket_mut<'a>(state: &'a mut State, bucket: &str) -> Result<&'a mut MemoryBucket, Error> {
    state
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| MemoryEffects::no_bucket(bucket))
}

fn role_mut<'a>(state: &'a mut State, name: &str) -> Result<&'a mut MemoryRole, Error> {
    state.roles.get_mut(name).ok_or_else(|| Error::Service {
        action: "iam",
        resource: name.into(),
        detail: "NoSuchEntity".into(),
    })
}

#[async_trait]
impl Effects for MemoryEffects {
    async fn account_id(&self) -> Result<String, Error> {
        let _state = self.call("account_id")?;
        Ok(self.account.clone())
    }

    async fn account_public_access_block(
        &self,
        _account: &str,
    ) -> Result<Option<PublicAccessBlock>, Error> {
        Ok(self
            .call("account_public_access_block")?
            .account_public_access_block)
    }

    async fn head_bucket(&self, bucket: &str) -> Result<BucketHead, Error> {
        let state = self.call("head_bucket")?;
        match state.buckets.get(bucket) {
            None => Ok(BucketHead::Missing),
            Some(b) if b.foreign => Err(Error::BucketForbidden {
                bucket: bucket.into(),
            }),
            Some(b) => Ok(BucketHead::Present {
                region: Some(b.region.clone()),
            }),
        }
    }

    async fn create_bucket(
        &self,
        bucket: &str,
        location_constraint: Option<&str>,
    ) -> Result<(), Error> {
        let mut state = self.call("create_bucket")?;
        match state.buckets.get(bucket) {
            Some(b) if b.foreign => Err(Error::BucketOwnedByAnother {
                bucket: bucket.into(),
            }),
            Some(_) => Ok(()),
            None => {
                // As S3 does since April 2023: ACLs disabled, all four blocks on, no policy.
                let all = PublicAccessBlock {
                    block_public_acls: true,
                    ignore_public_acls: true,
                    block_public_policy: true,
                    restrict_public_buckets: true,
                };
                let region = location_constraint.unwrap_or("us-east-1").to_owned();
                assert_eq!(region, self.region, "created in the client's region");
                state.buckets.insert(
                    bucket.into(),
                    MemoryBucket {
                        region,
                        ownership: Some(super::BUCKET_OWNER_ENFORCED.into()),
                        public_access_block: Some(all),
                        policy: None,
                        foreign: false,
                    },
                );
                Ok(())
            }
        }
    }

    async fn ownership(&self, bucket: &str) -> Result<Option<String>, Error> {
        let mut state = self.call("ownership")?;
        Ok(bucket_mut(&mut state, bucket)?.ownership.clone())
    }

    async fn put_ownership(&self, bucket: &str, ownership: &str) -> Result<(), Error> {
        let mut state = self.call("put_ownership")?;
        bucket_mut(&mut state, bucket)?.ownership = Some(ownership.into());
        Ok(())
    }

    async fn bucket_public_access_block(
        &self,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlock>, Error> {
        let mut state = self.call("bucket_public_access_block")?;
        Ok(bucket_mut(&mut state, bucket)?.public_access_block)
    }

    async fn put_bucket_public_access_block(
        &self,
        bucket: &str,
        config: &PublicAccessBlock,
    ) -> Result<(), Error> {
        let mut state = self.call("put_bucket_public_access_block")?;
        bucket_mut(&mut state, bucket)?.public_access_block = Some(*config);
        Ok(())
    }

    async fn bucket_policy(&self, bucket: &str) -> Result<Option<String>, Error> {
        let mut state = self.call("bucket_policy")?;
        Ok(bucket_mut(&mut state, bucket)?.policy.clone())
    }

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), Error> {
        let mut state = self.call("put_bucket_policy")?;
        let b = bucket_mut(&mut state, bucket)?;
        // S3 refuses a public policy (and only a public one) while BlockPublicPolicy is on.
        let public = serde_json::from_str::<serde_json::Value>(policy).map_or(true, |p| {
            !crate::model::bucket_statement::public_statements(&p, "").is_empty()
        });
        if public && b.public_access_block.is_some_and(|p| p.block_public_policy) {
            return Err(Error::AccessDenied {
                action: "s3:PutBucketPolicy",
                resource: bucket.into(),
            });
        }
        b.policy = Some(policy.into());
        Ok(())
    }

    async fn role(&self, name: &str) -> Result<Option<RoleState>, Error> {
        let state = self.call("role")?;
        Ok(state.roles.get(name).map(|r| RoleState {
            arn: r.arn.clone(),
            trust_policy: r.trust_policy.clone(),
            tags: r.tags.clone(),
        }))
    }

    async fn role_policy(&self, role: &str, policy_name: &str) -> Result<Option<String>, Error> {
        let mut state = self.call("role_policy")?;
        Ok(role_mut(&mut state, role)?
            .policies
            .get(policy_name)
            .cloned())
    }

    async fn create_role(
        &self,
        name: &str,
        trust_policy: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        let mut state = self.call("create_role")?;
        if state.roles.contains_key(name) {
            return Err(Error::RoleCreatedMeanwhile { name: name.into() });
        }
        let arn = super::role_arn("aws", &self.account, name);
        state.roles.insert(
            name.into(),
            MemoryRole {
                arn: arn.clone(),
                trust_policy: trust_policy.into(),
                tags: tags.clone(),
                policies: BTreeMap::new(),
            },
        );
        Ok(arn)
    }

    async fn tag_role(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), Error> {
        let mut state = self.call("tag_role")?;
        let role = role_mut(&mut state, name)?;
        role.tags
            .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(())
    }

    async fn update_assume_role_policy(&self, name: &str, policy: &str) -> Result<(), Error> {
        let mut state = self.call("update_assume_role_policy")?;
        role_mut(&mut state, name)?.trust_policy = policy.into();
        Ok(())
    }

    async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), Error> {
        let mut state = self.call("put_role_policy")?;
        role_mut(&mut state, role)?
            .policies
            .insert(policy_name.into(), policy.into());
        Ok(())
    }

    async fn object_exists(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        let mut state = self.call("object_exists")?;
        bucket_mut(&mut state, bucket)?;
        Ok(state.objects.contains(&(bucket.into(), key.into())))
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        let mut state = self.call("delete_object")?;
        bucket_mut(&mut state, bucket)?;
        state.objects.remove(&(bucket.into(), key.into()));
        Ok(())
    }

    async fn delete_bucket_policy(&self, bucket: &str) -> Result<(), Error> {
        let mut state = self.call("delete_bucket_policy")?;
        bucket_mut(&mut state, bucket)?.policy = None;
        Ok(())
    }

    async fn provider_tags(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, Error> {
        let state = self.call("provider_tags")?;
        Ok(state.providers.get(arn).cloned())
    }

    async fn delete_provider(&self, arn: &str) -> Result<(), Error> {
        let mut state = self.call("delete_provider")?;
        match state.providers.remove(arn) {
            Some(_) => Ok(()),
            None => Err(Error::Service {
                action: "iam:DeleteOpenIDConnectProvider",
                resource: arn.into(),
                detail: "NoSuchEntity".into(),
            }),
        }
    }

    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), Error> {
        let mut state = self.call("delete_role_policy")?;
        role_mut(&mut state, role)?.policies.remove(policy_name);
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<(), Error> {
        let mut state = self.call("delete_role")?;
        // As IAM: a role with an inline policy left cannot be deleted.
        if !role_mut(&mut state, name)?.policies.is_empty() {
            return Err(Error::RoleDeleteConflict { name: name.into() });
        }
        state.roles.remove(name);
        Ok(())
    }
}
