//! `doctor`: validate the flags, read `--token`, build the public HTTPS client and the AWS
//! configuration, resolve the issuer (`--issuer`, or the default of an S3 `--store`), observe,
//! check, print. All the logic is in `crate::doctor`.

use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context as _};
use serde_json::json;

use crate::cli::DoctorArgs;
use crate::doctor::checks::{self, STS_BUDGET_MS};
use crate::doctor::cloudfront::Hosting;
use crate::doctor::config::{DoctorConfig, IssuerSource};
use crate::doctor::facts::Token;
use crate::doctor::http::PublicClient;
use crate::doctor::{observe, Report, Verdict};
use crate::exit::Exit;
use crate::model::Issuer;
use crate::output::OutputFormat;
use crate::store::Location;

pub async fn run(args: &DoctorArgs) -> anyhow::Result<Exit> {
    let result = doctor(args).await;
    if let (Err(error), OutputFormat::Json) = (&result, args.output.format) {
        // Scripts reading stdout get a result object when doctor cannot run, too.
        println!(
            "{}",
            json!({ "status": "error", "exit_code": 2, "error": format!("{error:#}") })
        );
    }
    let report = result?;
    match args.output.format {
        OutputFormat::Text => print!("{}", report.to_text()),
        OutputFormat::Json => println!("{}", report.to_json()),
    }
    Ok(match report.verdict() {
        Verdict::Pass => Exit::Ok,
        Verdict::Fail => Exit::Drift,
        Verdict::Incomplete => Exit::Error,
    })
}

async fn doctor(args: &DoctorArgs) -> anyhow::Result<Report> {
    let config = DoctorConfig::from_args(args)?;
    let token = match &config.token_file {
        Some(path) => {
            let text = tokio::fs::read_to_string(path)
                .await
                .with_context(|| format!("cannot read --token {}; pass the file holding the service-account token (a pod's projected token, or `kubectl create token NAME > token.jwt`)", path.display()))?;
            Some(Token {
                origin: format!("--token {}", path.display()),
                jwt: text.trim().to_owned(),
            })
        }
        None => None,
    };
    let client = PublicClient::new(
        &config.ca_files,
        &config.connect_to,
        Duration::from_millis(STS_BUDGET_MS),
    )
    .await?;
    let sdk = crate::aws::load(config.region.as_deref(), config.timeout).await;
    let issuer = match (&config.issuer, &config.store) {
        (IssuerSource::Given(raw), _) => raw.clone(),
        (IssuerSource::FromBucket, Some(Location::S3 { bucket, prefix })) => {
            let region = sdk.region().map(|r| r.as_ref().to_owned()).ok_or_else(|| {
                anyhow!("no AWS region is configured, so the issuer of s3://{bucket} is unknown; pass --region (the bucket's region) or --issuer")
            })?;
            Issuer::for_s3_bucket(bucket, &region, prefix)
                .with_context(|| format!("deriving the issuer from bucket {bucket:?}"))?
                .to_string()
        }
        (IssuerSource::FromBucket, _) => unreachable!("config derives the issuer only from S3"),
    };
    let distributions =
        crate::hosting::aws::AwsDistributions::new(crate::aws::cloudfront_client(&sdk));
    let certificates = crate::hosting::aws::AwsCertificates::new(crate::aws::acm_client(&sdk));
    let dns = crate::hosting::aws::AwsDnsRecords::new(crate::aws::route53_client(&sdk));
    let hosting = Hosting {
        distributions: &distributions,
        certificates: &certificates,
        dns: &dns,
    };
    let facts = observe::observe(&config, &issuer, &client, token, &sdk, &hosting).await;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Ok(Report {
        issuer,
        findings: checks::check(&facts, now),
    })
}
