//! `Roles` over the real IAM API (AWS SDK; `AWS_ENDPOINT_URL_IAM` from the standard chain). The
//! retries and the error mapping are `iam::aws`'s, shared with the OIDC provider's calls.

use async_trait::async_trait;

use super::{Error, Role, Roles};
use crate::iam::aws::with_retries;

pub struct AwsRoles {
    iam: aws_sdk_iam::Client,
}

impl AwsRoles {
    pub fn new(iam: aws_sdk_iam::Client) -> AwsRoles {
        AwsRoles { iam }
    }
}

fn role_of(role: &aws_sdk_iam::types::Role) -> Role {
    Role {
        name: role.role_name().to_owned(),
        arn: role.arn().to_owned(),
        trust_policy: crate::aws::decode_policy_document(
            role.assume_role_policy_document().unwrap_or_default(),
        ),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
    }
}

#[async_trait]
impl Roles for AwsRoles {
    async fn get(&self, name: &str) -> Result<Option<Role>, Error> {
        let resource = format!("IAM role {name}");
        match with_retries("iam:GetRole", &resource, || {
            self.iam.get_role().role_name(name).send()
        })
        .await
        {
            Ok(output) => Ok(output.role().map(role_of)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(&self) -> Result<Vec<Role>, Error> {
        let mut roles = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = with_retries("iam:ListRoles", "the account's roles", || {
                self.iam.list_roles().set_marker(marker.clone()).send()
            })
            .await?;
            roles.extend(output.roles().iter().map(role_of));
            match (output.is_truncated(), output.marker()) {
                (true, Some(next)) => marker = Some(next.to_owned()),
                _ => return Ok(roles),
            }
        }
    }

    async fn set_trust_policy(&self, name: &str, policy: &str) -> Result<(), Error> {
        let resource = format!("IAM role {name}");
        with_retries("iam:UpdateAssumeRolePolicy", &resource, || {
            self.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(policy)
                .send()
        })
        .await
        .map(drop)
    }
}
