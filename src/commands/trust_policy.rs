//! `trust-policy`: resolve the issuer (`--issuer`, or the default of an S3 `--store`), the
//! account (`--account-id`, or STS GetCallerIdentity) and the partition (`--partition`, or the
//! region's), render the role trust policy with `model::policy`, and print it. AWS is contacted
//! only for what the flags leave open; nothing is created or changed anywhere.

use std::time::Duration;

use anyhow::{anyhow, Context as _};
use aws_config::SdkConfig;
use serde_json::json;

use crate::cli::TrustPolicyArgs;
use crate::exit::Exit;
use crate::model::policy::{self, PolicyError};
use crate::model::Issuer;
use crate::output::OutputFormat;
use crate::store::Location;

pub async fn run(args: &TrustPolicyArgs) -> anyhow::Result<Exit> {
    let result = render(args).await;
    if let (Err(error), OutputFormat::Json) = (&result, args.output.format) {
        // Scripts reading stdout get a result object on failure too; stderr has the same text.
        println!(
            "{}",
            json!({ "status": "error", "error": format!("{error:#}") })
        );
    }
    let rendered = result?;
    if let Some(warning) = &rendered.policy.warning {
        tracing::warn!("{warning}");
    }
    match args.output.format {
        OutputFormat::Text => println!(
            "{}",
            serde_json::to_string_pretty(&rendered.policy.document)
                .expect("a policy always serialises")
        ),
        OutputFormat::Json => println!(
            "{}",
            json!({
                "status": "ok",
                "trust_policy": rendered.policy.document,
                "provider_arn": rendered.provider_arn,
                "issuer": rendered.issuer.as_str(),
                "subject": format!(
                    "system:serviceaccount:{}:{}",
                    rendered.namespace, args.service_account
                ),
                "audience": args.audience.value,
                "warning": rendered.policy.warning,
            })
        ),
    }
    Ok(Exit::Ok)
}

struct Rendered {
    policy: policy::TrustPolicy,
    namespace: String,
    provider_arn: String,
    issuer: Issuer,
}

async fn render(args: &TrustPolicyArgs) -> anyhow::Result<Rendered> {
    // Validate what needs no network first, so a typo never waits on AWS.
    if let Some(account) = &args.account_id {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PolicyError::BadAccountId(account.clone()).into());
        }
    }
    let issuer_flag = args.issuer.url.as_deref().map(Issuer::parse).transpose()?;
    let store = match (&issuer_flag, &args.store.location) {
        (None, Some(raw)) => match Location::parse(raw)? {
            Location::S3 { bucket, prefix } => Some((bucket, prefix)),
            Location::Dir(_) => {
                return Err(anyhow!(
                    "--store {raw:?} is a directory, which has no default issuer; pass --issuer with the URL the directory is served at"
                ))
            }
        },
        _ => None,
    };
    let namespace = namespace(args)?;
    policy::check_subject(namespace, &args.service_account, &args.audience.value)?;

    // STS needs the SDK's whole chain; a region alone is looked up without instance metadata,
    // so an offline run with --account-id never waits on the network.
    let sdk = match args.account_id {
        None => Some(
            crate::aws::load(
                args.aws.region.as_deref(),
                Duration::from_secs(args.timeout.seconds),
            )
            .await,
        ),
        Some(_) => None,
    };
    let region = match (&args.aws.region, &sdk) {
        (Some(region), _) => Some(region.clone()),
        (None, Some(sdk)) => sdk.region().map(|r| r.as_ref().to_owned()),
        (None, None) if args.partition.is_none() || store.is_some() => local_region().await,
        (None, None) => None,
    };

    let issuer = match (issuer_flag, store) {
        (Some(issuer), _) => issuer,
        (None, Some((bucket, prefix))) => {
            let region = region.as_deref().ok_or_else(|| {
                anyhow!("no AWS region is configured, so the issuer of s3://{bucket} is unknown; pass --region (the bucket's region) or --issuer")
            })?;
            Issuer::for_s3_bucket(&bucket, region, &prefix)?
        }
        (None, None) => return Err(anyhow!("pass --issuer URL or --store s3://BUCKET[/PREFIX]")),
    };
    let partition = match &args.partition {
        Some(partition) => partition.clone(),
        None => region
            .as_deref()
            .map_or("aws", policy::partition)
            .to_owned(),
    };
    let account = match &args.account_id {
        Some(account) => account.clone(),
        None => caller_account(sdk.as_ref().expect("loaded without --account-id")).await?,
    };

    let provider_arn = policy::provider_arn(&partition, &account, &issuer)?;
    let policy = policy::trust_policy(
        &provider_arn,
        issuer.provider_url(),
        namespace,
        &args.service_account,
        &args.audience.value,
    )
    .with_context(|| format!("rendering the trust policy for issuer {issuer}"))?;
    Ok(Rendered {
        policy,
        namespace: namespace.to_owned(),
        provider_arn,
        issuer,
    })
}

/// `--namespace`, required. `--service-account NAMESPACE/NAME` (doctor's and `rotate status
/// --token-request`'s form) is answered with the two flags that say it here.
fn namespace(args: &TrustPolicyArgs) -> anyhow::Result<&str> {
    if let Some((namespace, name)) = args.service_account.split_once('/') {
        let given = args
            .namespace
            .as_deref()
            .map_or(String::new(), |ns| format!(" (with --namespace {ns})"));
        return Err(anyhow!(
            "--service-account {:?}{given} is in the NAMESPACE/NAME form doctor takes; trust-policy takes the namespace and the name as two flags: pass --namespace {namespace} --service-account {name}",
            args.service_account
        ));
    }
    args.namespace.as_deref().ok_or_else(|| {
        anyhow!(
            "trust-policy needs --namespace NAMESPACE, the namespace of ServiceAccount {:?}; pass it (or set KUBE_OIDC_PUBLISHER_NAMESPACE)",
            args.service_account
        )
    })
}

/// `AWS_REGION` / `AWS_DEFAULT_REGION`, else the profile's region: the SDK chain minus instance
/// metadata.
async fn local_region() -> Option<String> {
    use aws_config::meta::region::RegionProviderChain;
    RegionProviderChain::first_try(
        aws_config::environment::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(aws_config::profile::ProfileFileRegionProvider::new())
    .region()
    .await
    .map(|r| r.as_ref().to_owned())
}

/// The account of the credentials in use (STS GetCallerIdentity needs no permission).
async fn caller_account(sdk: &SdkConfig) -> anyhow::Result<String> {
    let sts = if sdk.region().is_none() {
        // STS's global endpoint lives in us-east-1; without a region the SDK cannot sign.
        let sdk = sdk
            .to_builder()
            .region(aws_config::Region::new("us-east-1"))
            .build();
        crate::aws::sts_client(&sdk)
    } else {
        crate::aws::sts_client(sdk)
    };
    // `{:#}` in main prints this context, then the SDK's chain of causes.
    let out = sts.get_caller_identity().send().await.context(
        "cannot find the AWS account id with STS GetCallerIdentity; pass --account-id with the \
         12-digit id of the account that holds the OIDC provider, or configure AWS credentials \
         (AWS_PROFILE, environment variables, SSO)",
    )?;
    out.account()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("STS GetCallerIdentity returned no account id; pass --account-id"))
}
