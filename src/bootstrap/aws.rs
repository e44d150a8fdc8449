//! [`Effects`] over the real S3, S3 Control, IAM and STS APIs (AWS SDK; credentials, region and
//! `AWS_ENDPOINT_URL*` from the standard chain, see `crate::aws`). Each failure is mapped to
//! its meaning (`crate::aws::classify`), naming the IAM action a denial is about; "not configured" answers
//! (`NoSuchBucketPolicy`, `NoSuchPublicAccessBlockConfiguration`, `NoSuchEntity`, ...) become
//! `None`. The SDK retries throttling and 5xx answers itself; what reaches the caller is final.
//! Nothing here decides about dry runs or sets an ACL.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use super::{BucketHead, Effects, Error, PublicAccessBlock, RoleState};
use crate::aws::{is_code, Failure, Kind};

pub struct AwsEffects {
    s3: aws_sdk_s3::Client,
    s3control: aws_sdk_s3control::Client,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    partition: String,
}

impl AwsEffects {
    pub fn new(
        s3: aws_sdk_s3::Client,
        s3control: aws_sdk_s3control::Client,
        iam: aws_sdk_iam::Client,
        sts: aws_sdk_sts::Client,
        partition: &str,
    ) -> AwsEffects {
        AwsEffects {
            s3,
            s3control,
            iam,
            sts,
            partition: partition.to_owned(),
        }
    }

    fn bucket_arn(&self, bucket: &str) -> String {
        format!("arn:{}:s3:::{bucket}", self.partition)
    }

    fn role_resource(&self, name: &str) -> String {
        format!("IAM role {name}")
    }
}

/// Maps an SDK error to its meaning. `action` is the IAM action, `resource` what it was on.
fn classify<E>(action: &'static str, resource: &str, err: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let Failure {
        kind,
        detail,
        message,
    } = crate::aws::failure(err);
    let resource = resource.to_owned();
    match kind {
        Kind::NoCredentials | Kind::BadCredentials => Error::Credentials { detail },
        Kind::Denied => Error::AccessDenied { action, resource },
        Kind::Invalid => Error::Invalid {
            action,
            resource,
            detail: message,
        },
        // An answer that means "not configured" or "already done" is matched by the call that
        // knows (`is_code`); anything else is a failure of the call.
        Kind::NotFound
        | Kind::AlreadyExists
        | Kind::LimitExceeded
        | Kind::Throttled
        | Kind::Transient
        | Kind::Other => Error::Service {
            action,
            resource,
            detail,
        },
    }
}

fn pab_from_s3(
    config: Option<&aws_sdk_s3::types::PublicAccessBlockConfiguration>,
) -> Option<PublicAccessBlock> {
    config.map(|c| PublicAccessBlock {
        block_public_acls: c.block_public_acls().unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
        block_public_policy: c.block_public_policy().unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
    })
}

#[async_trait]
impl Effects for AwsEffects {
    async fn account_id(&self) -> Result<String, Error> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| classify("sts:GetCallerIdentity", "the caller", &e))?;
        identity
            .account()
            .map(str::to_owned)
            .ok_or_else(|| Error::Service {
                action: "sts:GetCallerIdentity",
                resource: "the caller".into(),
                detail: "the answer named no account".into(),
            })
    }

    async fn account_public_access_block(
        &self,
        account: &str,
    ) -> Result<Option<PublicAccessBlock>, Error> {
        let result = self
            .s3control
            .get_public_access_block()
            .account_id(account)
            .send()
            .await;
        match result {
            Ok(output) => {
                Ok(output
                    .public_access_block_configuration()
                    .map(|c| PublicAccessBlock {
                        block_public_acls: c.block_public_acls().unwrap_or(false),
                        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                        block_public_policy: c.block_public_policy().unwrap_or(false),
                        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
                    }))
            }
            // None set at the account level: only the buckets' own settings apply.
            Err(e) if is_code(&e, &["NoSuchPublicAccessBlockConfiguration"]) => Ok(None),
            Err(e) => Err(match classify(
                "s3:GetAccountPublicAccessBlock",
                &format!("account {account}"),
                &e,
            ) {
                Error::Service {
                    action,
                    resource,
                    detail,
                } if matches!(&e, SdkError::DispatchFailure(_)) => Error::Service {
                    action,
                    resource,
                    detail: format!(
                        "{detail}; S3 Control requests go to {account}.<endpoint host>, so with a custom endpoint set AWS_ENDPOINT_URL_S3_CONTROL to one whose host name still resolves with that prefix"
                    ),
                },
                other => other,
            }),
        }
    }

    async fn head_bucket(&self, bucket: &str) -> Result<BucketHead, Error> {
        use crate::store::s3::{head_bucket, HeadBucket};
        match head_bucket(&self.s3, bucket).await {
            Ok(HeadBucket::Present { region }) => Ok(BucketHead::Present { region }),
            Ok(HeadBucket::Missing) => Ok(BucketHead::Missing),
            Ok(HeadBucket::Forbidden { .. }) => Err(Error::BucketForbidden {
                bucket: bucket.to_owned(),
            }),
            Ok(HeadBucket::InAnotherRegion { region }) => Err(Error::WrongRegion {
                bucket: bucket.to_owned(),
                expected: self
                    .s3
                    .config()
                    .region()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
                actual: region.unwrap_or_else(|| "another region".to_owned()),
            }),
            Err(e) => Err(classify("s3:ListBucket", &self.bucket_arn(bucket), &e)),
        }
    }

    async fn create_bucket(
        &self,
        bucket: &str,
        location_constraint: Option<&str>,
    ) -> Result<(), Error> {
        use aws_sdk_s3::types::{
            BucketLocationConstraint, CreateBucketConfiguration, ObjectOwnership,
        };
        let mut request = self
            .s3
            .create_bucket()
            .bucket(bucket)
            .object_ownership(ObjectOwnership::BucketOwnerEnforced);
        if let Some(region) = location_constraint {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, &["BucketAlreadyOwnedByYou"]) => Ok(()),
            Err(e) if is_code(&e, &["BucketAlreadyExists"]) => Err(Error::BucketOwnedByAnother {
                bucket: bucket.to_owned(),
            }),
            Err(e) => Err(classify("s3:CreateBucket", &self.bucket_arn(bucket), &e)),
        }
    }

    async fn ownership(&self, bucket: &str) -> Result<Option<String>, Error> {
        match self
            .s3
            .get_bucket_ownership_controls()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .ownership_controls()
                .and_then(|c| c.rules().first())
                .map(|rule| rule.object_ownership().as_str().to_owned())),
            Err(e) if is_code(&e, &["OwnershipControlsNotFoundError"]) => Ok(None),
            Err(e) => Err(classify(
                "s3:GetBucketOwnershipControls",
                &self.bucket_arn(bucket),
                &e,
            )),
        }
    }

    async fn put_ownership(&self, bucket: &str, ownership: &str) -> Result<(), Error> {
        use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
        let rule = OwnershipControlsRule::builder()
            .object_ownership(ObjectOwnership::from(ownership))
            .build()
            .expect("object ownership is set");
        let controls = OwnershipControls::builder()
            .rules(rule)
            .build()
            .expect("rules are set");
        self.s3
            .put_bucket_ownership_controls()
            .bucket(bucket)
            .ownership_controls(controls)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                classify(
                    "s3:PutBucketOwnershipControls",
                    &self.bucket_arn(bucket),
                    &e,
                )
            })
    }

    async fn bucket_public_access_block(
        &self,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlock>, Error> {
        match self
            .s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(output) => Ok(pab_from_s3(output.public_access_block_configuration())),
            Err(e) if is_code(&e, &["NoSuchPublicAccessBlockConfiguration"]) => Ok(None),
            Err(e) => Err(classify(
                "s3:GetBucketPublicAccessBlock",
                &self.bucket_arn(bucket),
                &e,
            )),
        }
    }

    async fn put_bucket_public_access_block(
        &self,
        bucket: &str,
        config: &PublicAccessBlock,
    ) -> Result<(), Error> {
        let configuration = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(config.block_public_acls)
            .ignore_public_acls(config.ignore_public_acls)
            .block_public_policy(config.block_public_policy)
            .restrict_public_buckets(config.restrict_public_buckets)
            .build();
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(configuration)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                classify(
                    "s3:PutBucketPublicAccessBlock",
                    &self.bucket_arn(bucket),
                    &e,
                )
            })
    }

    async fn bucket_policy(&self, bucket: &str) -> Result<Option<String>, Error> {
        match self.s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(output) => Ok(output.policy().map(str::to_owned)),
            Err(e) if is_code(&e, &["NoSuchBucketPolicy"]) => Ok(None),
            Err(e) => Err(classify("s3:GetBucketPolicy", &self.bucket_arn(bucket), &e)),
        }
    }

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), Error> {
        self.s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("s3:PutBucketPolicy", &self.bucket_arn(bucket), &e))
    }

    async fn role(&self, name: &str) -> Result<Option<RoleState>, Error> {
        match self.iam.get_role().role_name(name).send().await {
            Ok(output) => Ok(output.role().map(|role| RoleState {
                arn: role.arn().to_owned(),
                trust_policy: crate::aws::decode_policy_document(
                    role.assume_role_policy_document().unwrap_or_default(),
                ),
                tags: role
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect(),
            })),
            Err(e) if crate::aws::classify(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(classify("iam:GetRole", &self.role_resource(name), &e)),
        }
    }

    async fn role_policy(&self, role: &str, policy_name: &str) -> Result<Option<String>, Error> {
        match self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(output) => Ok(Some(crate::aws::decode_policy_document(
                output.policy_document(),
            ))),
            Err(e) if crate::aws::classify(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(classify("iam:GetRolePolicy", &self.role_resource(role), &e)),
        }
    }

    async fn create_role(
        &self,
        name: &str,
        trust_policy: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Error> {
        let result = self
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_policy)
            .description("kube-oidc-publisher: publishes this cluster's OIDC documents and keeps its IAM OIDC provider in sync")
            .set_tags(Some(crate::iam::aws::iam_tags(tags)))
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .role()
                .map(|r| r.arn().to_owned())
                .unwrap_or_default()),
            Err(e) if crate::aws::classify(&e) == Kind::AlreadyExists => {
                Err(Error::RoleCreatedMeanwhile {
                    name: name.to_owned(),
                })
            }
            Err(e) => Err(classify("iam:CreateRole", &self.role_resource(name), &e)),
        }
    }

    async fn tag_role(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), Error> {
        self.iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(crate::iam::aws::iam_tags(tags)))
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:TagRole", &self.role_resource(name), &e))
    }

    async fn update_assume_role_policy(&self, name: &str, policy: &str) -> Result<(), Error> {
        self.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(policy)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:UpdateAssumeRolePolicy", &self.role_resource(name), &e))
    }

    async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), Error> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .policy_document(policy)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:PutRolePolicy", &self.role_resource(role), &e))
    }

    async fn object_exists(&self, bucket: &str, key: &str) -> Result<bool, Error> {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(true),
            // A HEAD answer has no body: a missing key is a bare 404 (code NotFound).
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(e) => Err(classify(
                "s3:GetObject",
                &format!("{}/{key}", self.bucket_arn(bucket)),
                &e,
            )),
        }
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                classify(
                    "s3:DeleteObject",
                    &format!("{}/{key}", self.bucket_arn(bucket)),
                    &e,
                )
            })
    }

    async fn delete_bucket_policy(&self, bucket: &str) -> Result<(), Error> {
        self.s3
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("s3:DeleteBucketPolicy", &self.bucket_arn(bucket), &e))
    }

    async fn provider_tags(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, Error> {
        match self
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect(),
            )),
            Err(e) if crate::aws::classify(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(classify("iam:GetOpenIDConnectProvider", arn, &e)),
        }
    }

    async fn delete_provider(&self, arn: &str) -> Result<(), Error> {
        self.iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:DeleteOpenIDConnectProvider", arn, &e))
    }

    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), Error> {
        self.iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("iam:DeleteRolePolicy", &self.role_resource(role), &e))
    }

    async fn delete_role(&self, name: &str) -> Result<(), Error> {
        match self.iam.delete_role().role_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, &["DeleteConflict"]) => Err(Error::RoleDeleteConflict {
                name: name.to_owned(),
            }),
            Err(e) => Err(classify("iam:DeleteRole", &self.role_resource(name), &e)),
        }
    }
}
