//! `trust-policy`: resolve the issuers (every `--issuer`, and the default of every S3
//! `--store`), the account (`--account-id`, or STS GetCallerIdentity) and the partition
//! (`--partition`, or the region's), render the role trust policy with `model::policy` (one
//! statement per provider), check its length against IAM's quota, and print it. AWS is
//! contacted only for what the flags leave open; nothing is created or changed anywhere.

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
    for warning in &rendered.warnings {
        tracing::warn!("{warning}");
    }
    match args.output.format {
        OutputFormat::Text => println!(
            "{}",
            serde_json::to_string_pretty(&rendered.policy.document)
                .expect("a policy always serialises")
        ),
        OutputFormat::Json => println!("{}", json_result(args, &rendered)),
    }
    Ok(Exit::Ok)
}

/// `--output json`. With one provider, `issuer` and `provider_arn` name it; with several they
/// are null and `providers` lists each (`issuer`, `provider_arn`) in statement order, so a script
/// written for one cluster fails loudly rather than reading only the first.
fn json_result(args: &TrustPolicyArgs, rendered: &Rendered) -> serde_json::Value {
    let subject = format!(
        "system:serviceaccount:{}:{}",
        rendered.namespace, args.service_account
    );
    let warning = (!rendered.warnings.is_empty()).then(|| rendered.warnings.join("\n"));
    match rendered.providers.as_slice() {
        [(issuer, provider_arn)] => json!({
            "status": "ok",
            "trust_policy": rendered.policy.document,
            "provider_arn": provider_arn,
            "issuer": issuer.as_str(),
            "subject": subject,
            "audience": args.audience.value,
            "warning": warning,
        }),
        several => json!({
            "status": "ok",
            "trust_policy": rendered.policy.document,
            "provider_arn": null,
            "issuer": null,
            "providers": several
                .iter()
                .map(|(issuer, arn)| json!({ "issuer": issuer.as_str(), "provider_arn": arn }))
                .collect::<Vec<_>>(),
            "subject": subject,
            "audience": args.audience.value,
            "warning": warning,
        }),
    }
}

struct Rendered {
    policy: policy::TrustPolicy,
    namespace: String,
    /// Each trusted issuer and its provider ARN, once each, in statement order.
    providers: Vec<(Issuer, String)>,
    /// The wildcard warning, then the length warning.
    warnings: Vec<String>,
}

async fn render(args: &TrustPolicyArgs) -> anyhow::Result<Rendered> {
    // Validate what needs no network first, so a typo never waits on AWS.
    if let Some(account) = &args.account_id {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PolicyError::BadAccountId(account.clone()).into());
        }
    }
    let issuer_flags = args
        .issuers
        .iter()
        .map(|url| Issuer::parse(url))
        .collect::<Result<Vec<_>, _>>()?;
    // A directory names no issuer: next to an --issuer it is where that issuer's documents are
    // written (sync needs both, and shares their environment variables), so it adds nothing.
    let mut stores = Vec::with_capacity(args.stores.len());
    for raw in &args.stores {
        match Location::parse(raw)? {
            Location::S3 { bucket, prefix } => stores.push((bucket, prefix)),
            Location::Dir(_) if !issuer_flags.is_empty() => {}
            Location::Dir(_) => {
                return Err(anyhow!(
                    "--store {raw:?} is a directory, which has no default issuer; pass --issuer with the URL the directory is served at"
                ))
            }
        }
    }
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
        (None, None) if args.partition.is_none() || !stores.is_empty() => local_region().await,
        (None, None) => None,
    };

    // Every --issuer, then every --store's default issuer: each one cluster's provider.
    let mut issuers = issuer_flags;
    for (bucket, prefix) in stores {
        let region = region.as_deref().ok_or_else(|| {
            anyhow!("no AWS region is configured, so the issuer of s3://{bucket} is unknown; pass --region (the bucket's region) or --issuer")
        })?;
        issuers.push(Issuer::for_s3_bucket(&bucket, region, &prefix)?);
    }
    if issuers.is_empty() {
        return Err(anyhow!("pass --issuer URL or --store s3://BUCKET[/PREFIX]"));
    }
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

    let mut providers: Vec<(Issuer, String)> = Vec::with_capacity(issuers.len());
    for issuer in issuers {
        let arn = policy::provider_arn(&partition, &account, &issuer)?;
        // The same provider twice (an --issuer that is also a --store's URL) is one statement.
        if !providers.iter().any(|(_, seen)| *seen == arn) {
            providers.push((issuer, arn));
        }
    }
    let trusted = providers
        .iter()
        .map(|(issuer, arn)| policy::TrustedProvider {
            arn,
            host_path: issuer.provider_url(),
        })
        .collect::<Vec<_>>();
    let policy = policy::trust_policy_for_providers(
        &trusted,
        namespace,
        &args.service_account,
        &args.audience.value,
    )
    .with_context(|| match providers.as_slice() {
        [(issuer, _)] => format!("rendering the trust policy for issuer {issuer}"),
        several => format!("rendering the trust policy for {} issuers", several.len()),
    })?;
    let length_warning = policy::check_trust_policy_length(&policy.document)?;
    let warnings = policy
        .warning
        .iter()
        .cloned()
        .chain(length_warning)
        .collect();
    Ok(Rendered {
        policy,
        namespace: namespace.to_owned(),
        providers,
        warnings,
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
