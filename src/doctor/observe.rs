//! The effects of `doctor`, all read-only and run concurrently: the two anonymous GETs
//! ([`super::http`]), the API server (its keys and issuer through [`KubeSource`]; TokenRequest
//! and the ServiceAccount for `--service-account`), AWS (STS GetCallerIdentity, IAM
//! GetOpenIDConnectProvider, ListOpenIDConnectProviders for near misses, GetRole) and the S3
//! bucket (Public Access Block of the bucket and of the account, Object Ownership, bucket
//! policy), and for an issuer served by CloudFront the distribution and what it relies on
//! ([`super::cloudfront`], after the GETs, whose URLs it compares), and the migration record in
//! `--store`'s state with its other issuer ([`super::migration`]). What cannot be read becomes [`Gathered::NotGiven`] (an input is missing: say what
//! to pass) or [`Gathered::Failed`] (say what went wrong); nothing here decides what is right.
//! Nothing is written anywhere, and no token or credential is logged.

use aws_config::SdkConfig;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::cloudfront::Hosting;
use super::config::{DoctorConfig, RoleArn};
use super::facts::{
    AwsFacts, ClusterFacts, Facts, Gathered, ProviderFacts, PublicAccessBlock, PublicFacts,
    RoleFacts, S3Facts, ServiceAccountRef, Token,
};
use super::http::PublicClient;
use crate::aws::{is_code, Kind};
use crate::iam::aws::AwsProviders;
use crate::iam::OidcProviders as _;
use crate::source::kube::{KubeOptions, KubeSource};
use crate::source::{self, KeySource as _};
use crate::store::Location;

/// The annotation the pod identity webhook reads.
pub const ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// Lifetime asked for a minted token: the shortest TokenRequest accepts.
const MINTED_TOKEN_SECONDS: i64 = 600;

/// What to pass for the cluster checks.
const PASS_CLUSTER: &str = "pass --kubeconfig PATH and/or --context NAME (or set KUBECONFIG) to compare with the API server's issuer and keys";

const PASS_AWS: &str = "configure AWS credentials as for the aws CLI (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO) allowed iam:GetOpenIDConnectProvider, iam:GetRole and the S3 reads";

/// Observes everything the checks need.
pub async fn observe(
    config: &DoctorConfig,
    issuer: &str,
    client: &PublicClient,
    token_file: Option<Token>,
    sdk: &SdkConfig,
    hosting: &Hosting<'_>,
) -> Facts {
    let public_side = async {
        let public = public(client, issuer).await;
        let cloudfront = super::cloudfront::observe(config, issuer, &public, hosting, sdk).await;
        (public, cloudfront)
    };
    let ((public, cloudfront), (cluster, token, annotation), (aws, role, s3), record) = tokio::join!(
        public_side,
        cluster_side(config, token_file),
        aws_side(config, issuer, sdk),
        super::migration::read_record(config, sdk),
    );
    // A migration's other issuer: its documents and provider (after the caller's account is
    // known, for the provider's ARN).
    let migration = super::migration::observe(config, issuer, client, sdk, &aws, record).await;
    Facts {
        issuer: issuer.to_owned(),
        audience: config.audience.clone(),
        service_account: config.service_account.clone(),
        role_arn: config.role_arn.as_ref().map(|r| r.arn.clone()),
        public,
        cluster,
        token,
        annotation,
        aws,
        s3,
        role,
        cloudfront,
        migration,
    }
}

/// The discovery document, then the `jwks_uri` it names, as STS fetches them.
pub(super) async fn public(client: &PublicClient, issuer: &str) -> PublicFacts {
    if !issuer.starts_with("https://") || url::Url::parse(issuer).is_err() {
        return PublicFacts {
            discovery: None,
            jwks: None,
        };
    }
    // OpenID Connect Discovery: strip a terminating slash before appending the path.
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let discovery = client.get(&url).await;
    let jwks_uri = discovery
        .result
        .as_ref()
        .ok()
        .filter(|a| a.status == 200)
        .and_then(|a| serde_json::from_slice::<serde_json::Value>(&a.body).ok())
        .and_then(|doc| doc.get("jwks_uri")?.as_str().map(str::to_owned))
        .filter(|uri| uri.starts_with("https://") && url::Url::parse(uri).is_ok());
    let jwks = match jwks_uri {
        Some(uri) => Some(client.get(&uri).await),
        None => None,
    };
    PublicFacts {
        discovery: Some(discovery),
        jwks,
    }
}

/// The API server's keys and issuer, the token, and the ServiceAccount's annotation.
async fn cluster_side(
    config: &DoctorConfig,
    token_file: Option<Token>,
) -> (
    Gathered<ClusterFacts>,
    Gathered<Token>,
    Gathered<Option<String>>,
) {
    let explicit = config.kubeconfig.is_some() || config.context.is_some();
    let options = KubeOptions {
        kubeconfig: config.kubeconfig.clone(),
        context: config.context.clone(),
        timeout: config.timeout,
        ..KubeOptions::default()
    };
    let keys = async {
        match KubeSource::connect(&options).await {
            Err(source::Error::NoKubeconfig { detail }) if !explicit => {
                tracing::debug!("no kubeconfig: {detail}");
                Gathered::not_given(
                    "not checked: no cluster configured (no kubeconfig found, not in a pod)",
                    PASS_CLUSTER,
                )
            }
            Err(e) => Gathered::failed(e.to_string()),
            Ok(source) => match source.fetch().await {
                Ok(keys) => Gathered::Got(ClusterFacts {
                    server: source
                        .describe()
                        .trim_start_matches("the API server at ")
                        .to_owned(),
                    issuer: keys.issuer.unwrap_or_default(),
                    kids: keys.keys.into_iter().map(|k| k.kid).collect(),
                }),
                Err(e) => Gathered::failed(e.to_string()),
            },
        }
    };
    let service_account = async {
        let Some(sa) = &config.service_account else {
            return (None, None);
        };
        let client = match kube_client(&options).await {
            Ok(client) => client,
            Err(error) => {
                let error = format!("--service-account {sa} needs the cluster: {error}");
                return (
                    Some(Gathered::failed(error.clone())),
                    Some(Gathered::failed(error)),
                );
            }
        };
        let api: Api<ServiceAccount> = Api::namespaced(client, &sa.namespace);
        let minted = async {
            if token_file.is_some() {
                return None;
            }
            Some(mint_token(&api, sa, &config.audience).await)
        };
        let (minted, annotation) = tokio::join!(minted, read_annotation(&api, sa));
        (minted, Some(annotation))
    };
    let (cluster, (minted, annotation)) = tokio::join!(keys, service_account);
    let token = match (token_file, minted) {
        (Some(token), _) => Gathered::Got(token),
        (None, Some(minted)) => minted,
        (None, None) => Gathered::not_given(
            "not checked: no token given",
            "pass --token FILE (a pod's projected token) or --service-account NS/NAME (a token is minted with TokenRequest)",
        ),
    };
    let annotation = annotation.unwrap_or_else(|| {
        Gathered::not_given(
            "not checked: no ServiceAccount given",
            "pass --service-account NS/NAME",
        )
    });
    (cluster, token, annotation)
}

/// A kube client as kubectl would build it (`--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`,
/// in-cluster), with the doctor's timeout.
async fn kube_client(options: &KubeOptions) -> Result<kube::Client, String> {
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..Default::default()
    };
    let mut config = match (&options.kubeconfig, &options.context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube_options)
                .await
                .map_err(|e| e.to_string())?
        }
        (None, Some(_)) => kube::Config::from_kubeconfig(&kube_options)
            .await
            .map_err(|e| e.to_string())?,
        (None, None) => kube::Config::infer().await.map_err(|e| {
            format!("no Kubernetes credentials ({e}); pass --kubeconfig and --context")
        })?,
    };
    config.connect_timeout = Some(options.timeout);
    config.read_timeout = Some(options.timeout);
    // sync's client (TCP_NODELAY, the kubeconfig's own self-signed certificate accepted).
    crate::source::client::build(&config).map_err(|e| e.to_string())
}

fn kube_error(what: &str, sa: &ServiceAccountRef, error: kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.code == 404 => format!(
            "{what}: the ServiceAccount {sa} does not exist (`kubectl get serviceaccount -n {} {}`)",
            sa.namespace, sa.name
        ),
        kube::Error::Api(status) if status.code == 403 => format!(
            "{what}: the API server refused it ({}); the kubeconfig's user needs `create` on serviceaccounts/token and `get` on serviceaccounts in namespace {}",
            status.message, sa.namespace
        ),
        other => format!("{what}: {other}"),
    }
}

/// TokenRequest: a short-lived token for the audience, as the kubelet would get one.
async fn mint_token(
    api: &Api<ServiceAccount>,
    sa: &ServiceAccountRef,
    audience: &str,
) -> Gathered<Token> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_owned()],
            expiration_seconds: Some(MINTED_TOKEN_SECONDS),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    match api
        .create_token_request(&sa.name, &PostParams::default(), &request)
        .await
    {
        Ok(answer) => match answer.status {
            Some(status) if !status.token.is_empty() => Gathered::Got(Token {
                origin: format!("TokenRequest for {sa}"),
                jwt: status.token,
            }),
            _ => Gathered::failed(format!("TokenRequest for {sa} returned no token")),
        },
        Err(e) => Gathered::failed(kube_error(&format!("TokenRequest for {sa}"), sa, e)),
    }
}

async fn read_annotation(
    api: &Api<ServiceAccount>,
    sa: &ServiceAccountRef,
) -> Gathered<Option<String>> {
    match api.get(&sa.name).await {
        Ok(account) => Gathered::Got(
            account
                .metadata
                .annotations
                .and_then(|a| a.get(ROLE_ANNOTATION).cloned()),
        ),
        Err(e) => Gathered::failed(kube_error(&format!("reading ServiceAccount {sa}"), sa, e)),
    }
}

/// AWS: the caller's account, the provider, the role, the bucket.
async fn aws_side(
    config: &DoctorConfig,
    issuer: &str,
    sdk: &SdkConfig,
) -> (Gathered<AwsFacts>, Gathered<RoleFacts>, Gathered<S3Facts>) {
    let s3_store = match &config.store {
        Some(Location::S3 { bucket, prefix }) => Some((bucket.clone(), prefix.clone())),
        _ => None,
    };
    let no_s3 = || -> Gathered<S3Facts> {
        match &config.store {
            Some(Location::Dir(_)) => Gathered::not_given(
                "not checked: a directory store; what its web server serves is checked by the anonymous GETs",
                "nothing to pass: configure the web server to serve both documents publicly",
            ),
            _ => Gathered::not_given(
                "not checked: no S3 store given",
                "pass --store s3://BUCKET[/PREFIX] to check the bucket's public access",
            ),
        }
    };
    let no_role = || -> Gathered<RoleFacts> {
        Gathered::not_given(
            "not checked: no role given",
            "pass --role-arn ARN to check its trust policy",
        )
    };
    let global = global(sdk);
    let sts = crate::aws::sts_client(&global);
    let identity = match sts.get_caller_identity().send().await {
        Ok(identity) => identity,
        Err(e) => {
            let aws = if crate::aws::classify(&e) == Kind::NoCredentials {
                Gathered::<AwsFacts>::not_given("not checked: no AWS credentials", PASS_AWS)
            } else {
                Gathered::<AwsFacts>::failed(format!(
                    "STS GetCallerIdentity failed ({}); check the AWS credentials in use (`aws sts get-caller-identity`)",
                    crate::aws::describe_error(&e)
                ))
            };
            let role = if config.role_arn.is_some() {
                aws.absent()
            } else {
                no_role()
            };
            let s3 = if s3_store.is_some() {
                aws.absent()
            } else {
                no_s3()
            };
            return (aws, role, s3);
        }
    };
    let account = identity.account().unwrap_or_default().to_owned();
    let partition = identity
        .arn()
        .and_then(|arn| arn.strip_prefix("arn:"))
        .and_then(|rest| rest.split(':').next())
        .unwrap_or("aws")
        .to_owned();
    let iam = crate::aws::iam_client(&global);
    let (provider_partition, provider_account) = match &config.role_arn {
        Some(role) => (role.partition.clone(), role.account.clone()),
        None => (partition.clone(), account.clone()),
    };
    let host_path = issuer.strip_prefix("https://").unwrap_or(issuer);
    let arn = format!("arn:{provider_partition}:iam::{provider_account}:oidc-provider/{host_path}");
    let provider = async {
        match provider(sdk, &provider_partition, &arn).await {
            Gathered::Got(None) => (Gathered::Got(None), other_providers(&iam).await),
            found => (found, Vec::new()),
        }
    };
    let role = async {
        match &config.role_arn {
            Some(role) => read_role(&iam, role).await,
            None => no_role(),
        }
    };
    let s3 = async {
        match &s3_store {
            Some((bucket, prefix)) => {
                read_bucket(config, sdk, bucket, prefix, &account, &partition).await
            }
            None => no_s3(),
        }
    };
    let ((provider, other_providers), role, s3) = tokio::join!(provider, role, s3);
    (
        Gathered::Got(AwsFacts {
            account,
            partition,
            provider_account,
            provider,
            other_providers,
        }),
        role,
        s3,
    )
}

/// IAM and STS are global: any region signs for them.
fn global(sdk: &SdkConfig) -> SdkConfig {
    if sdk.region().is_none() {
        sdk.to_builder()
            .region(aws_config::Region::new("us-east-1"))
            .build()
    } else {
        sdk.clone()
    }
}

/// The IAM OIDC provider `arn` (`None`: IAM answered NoSuchEntity).
pub(super) async fn provider(
    sdk: &SdkConfig,
    partition: &str,
    arn: &str,
) -> Gathered<Option<ProviderFacts>> {
    let global = global(sdk);
    let providers = AwsProviders::new(
        crate::aws::iam_client(&global),
        crate::aws::sts_client(&global),
        partition,
    );
    match providers.get(arn).await {
        Ok(found) => Gathered::Got(found.map(|p| ProviderFacts {
            arn: p.arn,
            url: p.url,
            client_ids: p.client_ids,
            thumbprints: p.thumbprints,
        })),
        Err(e) => Gathered::failed(e.to_string()),
    }
}

/// The host/paths of the account's providers, to name a near miss; empty when not allowed.
async fn other_providers(iam: &aws_sdk_iam::Client) -> Vec<String> {
    match iam.list_open_id_connect_providers().send().await {
        Ok(list) => list
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn())
            .filter_map(|arn| {
                arn.split_once(":oidc-provider/")
                    .map(|(_, hp)| hp.to_owned())
            })
            .collect(),
        Err(e) => {
            tracing::debug!(error = %crate::aws::describe_error(&e), "ListOpenIDConnectProviders");
            Vec::new()
        }
    }
}

async fn read_role(iam: &aws_sdk_iam::Client, role: &RoleArn) -> Gathered<RoleFacts> {
    match iam.get_role().role_name(&role.name).send().await {
        Ok(out) => Gathered::Got(RoleFacts {
            arn: role.arn.clone(),
            trust_policy: Some(crate::aws::decode_policy_document(
                out.role()
                    .and_then(|r| r.assume_role_policy_document())
                    .unwrap_or("{}"),
            )),
        }),
        Err(e) => match crate::aws::classify(&e) {
            Kind::NotFound => Gathered::Got(RoleFacts {
                arn: role.arn.clone(),
                trust_policy: None,
            }),
            Kind::Denied => Gathered::failed(format!(
                "access denied: iam:GetRole on {}; grant it to the credentials in use (or run doctor with credentials of the role's account)",
                role.arn
            )),
            _ => Gathered::failed(format!(
                "iam:GetRole on {} failed: {}",
                role.arn,
                crate::aws::describe_error(&e)
            )),
        },
    }
}

fn s3_failure<E>(what: &str, bucket: &str, error: &aws_sdk_s3::error::SdkError<E>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match crate::aws::classify(error) {
        Kind::Denied => {
            format!("access denied: {what} on bucket {bucket}; grant it to the credentials in use")
        }
        Kind::NotFound => {
            format!("bucket {bucket} does not exist (or is in another partition); check --store")
        }
        _ => format!(
            "{what} on bucket {bucket} failed: {}",
            crate::aws::describe_error(error)
        ),
    }
}

async fn read_bucket(
    config: &DoctorConfig,
    sdk: &SdkConfig,
    bucket: &str,
    prefix: &str,
    account: &str,
    partition: &str,
) -> Gathered<S3Facts> {
    if sdk.region().is_none() {
        return Gathered::failed(
            "no AWS region is configured, so the bucket cannot be read; pass --region (the bucket's region)",
        );
    }
    let s3 = crate::aws::s3_client(sdk, config.s3_path_style);
    let control = aws_sdk_s3control::Client::new(sdk);
    let bucket_block = async {
        match s3.get_public_access_block().bucket(bucket).send().await {
            Ok(out) => {
                Gathered::Got(
                    out.public_access_block_configuration()
                        .map(|c| PublicAccessBlock {
                            block_public_acls: c.block_public_acls().unwrap_or(false),
                            ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                            block_public_policy: c.block_public_policy().unwrap_or(false),
                            restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
                        }),
                )
            }
            Err(e) if is_code(&e, &["NoSuchPublicAccessBlockConfiguration"]) => Gathered::Got(None),
            Err(e) => Gathered::failed(s3_failure("s3:GetBucketPublicAccessBlock", bucket, &e)),
        }
    };
    let account_block = async {
        match control.get_public_access_block().account_id(account).send().await {
            Ok(out) => Gathered::Got(out.public_access_block_configuration().map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })),
            Err(e) if is_code(&e, &["NoSuchPublicAccessBlockConfiguration"]) => Gathered::Got(None),
            Err(e) => Gathered::failed(format!(
                "reading the account's Block Public Access (s3:GetAccountPublicAccessBlock, S3 Control) failed: {}; grant it, or check it with `aws s3control get-public-access-block --account-id {account}`",
                crate::aws::describe_error(&e)
            )),
        }
    };
    let ownership = async {
        match s3
            .get_bucket_ownership_controls()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(out) => Gathered::Got(
                out.ownership_controls()
                    .and_then(|c| c.rules().first())
                    .map(|rule| rule.object_ownership().as_str().to_owned()),
            ),
            Err(e) if is_code(&e, &["OwnershipControlsNotFoundError"]) => Gathered::Got(None),
            Err(e) => Gathered::failed(s3_failure("s3:GetBucketOwnershipControls", bucket, &e)),
        }
    };
    let policy = async {
        match s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => Gathered::Got(out.policy().map(str::to_owned)),
            Err(e) if is_code(&e, &["NoSuchBucketPolicy"]) => Gathered::Got(None),
            Err(e) => Gathered::failed(s3_failure("s3:GetBucketPolicy", bucket, &e)),
        }
    };
    let (bucket_block, account_block, ownership, policy) =
        tokio::join!(bucket_block, account_block, ownership, policy);
    Gathered::Got(S3Facts {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        partition: partition.to_owned(),
        bucket_block,
        account_block,
        ownership,
        policy,
    })
}
