//! `rotate stage`, `rotate status` and `rotate revoke`: the signing-key rotation runbook as
//! commands (docs/rotation.md). `stage` is a sync that also publishes the new key as staged and
//! then checks, anonymously and over verified HTTPS, that the public JWKS shows it; `status`
//! only reads (and mints one short-lived token whose header names the signing key); `revoke`
//! is a sync that removes keys at once.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};

use crate::cli::{RevokeArgs, RotateCommand, StageArgs, StatusArgs, SyncArgs};
use crate::config::{IssuerChoice, Mode, SyncConfig};
use crate::doctor::checks::STS_BUDGET_MS;
use crate::doctor::facts::fetch_problem;
use crate::doctor::http::PublicClient;
use crate::doctor::token;
use crate::exit::Exit;
use crate::hosting::aws::AwsDistributions;
use crate::hosting::Distributions as _;
use crate::model::cloudfront::Invalidation;
use crate::model::jwk::parse_jwks;
use crate::model::rotation::{self, Signing};
use crate::model::state::{State, STATE_PATH};
use crate::model::{Issuer, Jwk};
use crate::output::OutputFormat;
use crate::publish::{build_store, kube_source, publish};
use crate::source::files::KeyFiles;
use crate::source::{KeySource, SourceKind};
use crate::store::{Location, ObjectStore};

/// The audience of the token `status` mints: no relying party accepts it, so the token is
/// useless to anyone who might see it (it is never printed anyway).
pub const STATUS_AUDIENCE: &str = "kube-oidc-publisher-rotate-status";

/// The shortest lifetime TokenRequest accepts.
const STATUS_TOKEN_SECONDS: i64 = 600;

/// Where a pod finds its own namespace.
const POD_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

pub async fn run(command: &RotateCommand) -> anyhow::Result<Exit> {
    let (result, output) = match command {
        RotateCommand::Stage(args) => (stage(args).await, args.sync.publish.output.format),
        RotateCommand::Status(args) => (status(args).await, args.sync.publish.output.format),
        RotateCommand::Revoke(args) => (revoke(args).await, args.sync.publish.output.format),
    };
    if let (Err(error), OutputFormat::Json) = (&result, output) {
        // Scripts reading stdout get a result object on failure too; stderr has the same text.
        println!(
            "{}",
            serde_json::json!({ "status": "error", "error": format!("{error:#}") })
        );
    }
    result
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

async fn stage(args: &StageArgs) -> anyhow::Result<Exit> {
    let wait = humantime::parse_duration(&args.wait).map_err(|_| {
        anyhow!(
            "--wait {:?} is not a duration; write it like 2m, 90s or 10m",
            args.wait
        )
    })?;
    let mut config = SyncConfig::from_args(&args.sync)?;
    if config.source == SourceKind::Files {
        let new: Vec<String> = config
            .key_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        bail!(
            "rotate stage publishes a key beside the API server's keys, but --source files publishes exactly the --key-file keys, so there is nothing to stage beside: publish the new key by adding it to your sync's --key-file list, after the current key files (keep those until their tokens have expired): {}. Nothing was published",
            files_sync_command(&args.sync, &["CURRENT.pub".to_owned()], &new)
        );
    }
    let files = std::mem::take(&mut config.key_files);
    if files.is_empty() {
        bail!("rotate stage needs --key-file PATH: the new public key (PEM), e.g. `openssl rsa -in sa-new.key -pubout -out sa-new.pub`");
    }
    let staged = KeyFiles::new(files).fetch().await?;
    if staged.keys.is_empty() {
        bail!("the --key-file files hold no key STS can use; nothing was published");
    }
    let kids: Vec<String> = staged.keys.iter().map(|k| k.kid.clone()).collect();
    config.requests.stage = staged.keys;
    let report = publish(&config).await?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    if config.mode != Mode::Apply {
        crate::output::print_sync(&report, config.output);
        return Ok(if config.mode == Mode::Check && report.drift() {
            Exit::Drift
        } else {
            Exit::Ok
        });
    }
    let issuer = Issuer::parse(&report.issuer).context("the issuer of the sync report")?;
    let url = issuer.jwks_uri();
    for kid in &kids {
        if !report.staged.contains(kid) && report.kids.contains(kid) {
            tracing::info!(%kid, "the API server already serves this key: it is an ordinary published key, not a staged one");
        }
    }
    // Behind CloudFront, the edge may still hold the old JWKS: wait until the invalidation this
    // run made has completed, on the same --wait budget, before asking the issuer URL.
    let mut left = wait;
    if let (Some(distribution), Some(invalidation)) =
        (&config.cloudfront_distribution, &report.invalidation)
    {
        let started = Instant::now();
        wait_for_invalidation(&config, distribution, invalidation, wait).await?;
        left = wait.saturating_sub(started.elapsed());
    }
    let visible = match wait_until_visible(&config, &url, &kids, left).await? {
        Ok(()) => now(),
        Err(last) => {
            let message = format!(
                "key {} is published in {} (the JWKS there holds it, and every later sync keeps it), but an anonymous GET of {url} did not show it within {}: {last}. Do not switch the API server's signing key to it yet. If a CDN or cache serves the JWKS, wait for its max-age and run this command again (it only checks again); if the GET itself fails, `kube-oidc-publisher doctor --issuer {issuer}` shows why STS cannot read the documents. To abandon the stage: `rotate revoke --kid KID`",
                kids.join(", "),
                report.store,
                humantime::format_duration(wait)
            );
            match config.output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::json!({
                        "status": "error",
                        "error": message,
                        "staged": kids,
                        "published": true,
                        "publicly_visible": false,
                        "jwks_uri": url,
                        "writes": report.writes,
                    })
                ),
                OutputFormat::Text => crate::output::print_sync(&report, config.output),
            }
            // Reported here, with what was published: not an `Err`, which would print a
            // second JSON object.
            eprintln!("error: {message}");
            return Ok(Exit::Error);
        }
    };
    // Record when it was first seen (an earlier record is kept: this is idempotent).
    config.requests.seen_publicly = kids.iter().map(|k| (k.clone(), visible)).collect();
    let recorded = publish(&config).await?;
    let writes = report.writes + recorded.writes;
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "status": "ok",
                "issuer": report.issuer,
                "store": report.store,
                "jwks_uri": url,
                "staged": kids,
                "published": true,
                "publicly_visible": true,
                "kids": recorded.kids,
                "writes": writes,
                "warnings": report.warnings,
            })
        ),
        OutputFormat::Text => {
            crate::output::print_sync(&report, config.output);
            let note = if recorded.writes > 0 {
                ", recorded in the state"
            } else {
                ""
            };
            println!(
                "staged {}: publicly visible at {url}{note}; run `rotate status` for when the API server may sign with it",
                kids.join(", ")
            );
        }
    }
    Ok(Exit::Ok)
}

/// Polls GetInvalidation until CloudFront says `Completed`, with a progress line per poll;
/// an error naming what to do once `wait` has passed.
async fn wait_for_invalidation(
    config: &SyncConfig,
    distribution: &str,
    invalidation: &Invalidation,
    wait: Duration,
) -> anyhow::Result<()> {
    let sdk = crate::aws::load(config.region.as_deref(), config.timeout).await;
    let distributions = AwsDistributions::new(crate::aws::cloudfront_client(&sdk));
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_secs(2);
    let mut status = invalidation.status.clone();
    loop {
        if status == "Completed" {
            tracing::info!(distribution, invalidation = %invalidation.id, "the CloudFront invalidation has completed");
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "the new key is published, but CloudFront invalidation {} of distribution {distribution} was still {status} after {}: the edge may serve the old JWKS until it completes. Do not switch the API server's signing key yet; run this command again later (it publishes nothing new and checks again)",
                invalidation.id,
                humantime::format_duration(wait)
            );
        }
        tracing::info!(distribution, invalidation = %invalidation.id, %status, "waiting for the CloudFront invalidation to complete");
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(Duration::from_secs(15));
        status = match distributions
            .invalidation(distribution, &invalidation.id)
            .await
            .with_context(|| format!("reading CloudFront invalidation {}", invalidation.id))?
        {
            Some(now) => now.status,
            None => bail!(
                "CloudFront distribution {distribution} has no invalidation {}; run this command again",
                invalidation.id
            ),
        };
    }
}

/// GETs the public JWKS anonymously until every kid is in it or `wait` has passed (at least
/// once). `Ok(Err(last))`: not visible in time, with the last answer.
async fn wait_until_visible(
    config: &SyncConfig,
    url: &str,
    kids: &[String],
    wait: Duration,
) -> anyhow::Result<Result<(), String>> {
    let client = PublicClient::new(
        &config.ca_files,
        &config.connect_to,
        Duration::from_millis(STS_BUDGET_MS),
    )
    .await?;
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_secs(1);
    loop {
        let fetched = client.get(url).await;
        let last = match fetched.result {
            Ok(answer) if answer.status == 200 => match parse_jwks(&answer.body) {
                Ok(parsed) => {
                    let missing: Vec<&str> = kids
                        .iter()
                        .filter(|kid| !parsed.keys.iter().any(|k| &k.kid == *kid))
                        .map(String::as_str)
                        .collect();
                    if missing.is_empty() {
                        return Ok(Ok(()));
                    }
                    let served: Vec<&str> = parsed.keys.iter().map(|k| k.kid.as_str()).collect();
                    format!(
                        "the last answer (200) lists {} but not {}",
                        served.join(", "),
                        missing.join(", ")
                    )
                }
                Err(e) => format!("the last answer (200) is not a valid JWKS: {e}"),
            },
            Ok(answer) => format!("the last answer was HTTP {}", answer.status),
            Err(e) => format!("the last attempt failed: {}", fetch_problem(&e)),
        };
        tracing::info!(%url, "the public JWKS does not show the staged key yet: {last}");
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Err(last));
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

async fn status(args: &StatusArgs) -> anyhow::Result<Exit> {
    let config = SyncConfig::from_args(&args.sync)?;
    let kube = match config.source {
        SourceKind::Files => None,
        SourceKind::Cluster => Some(kube_source(&config).await?),
    };
    let store = open_store(&config).await?;
    // The API server's keys (the union over every API server) and any --key-file, as sync
    // reads them; the kube client is kept for TokenRequest.
    let keys = async {
        let files = KeyFiles::new(config.key_files.clone());
        match &kube {
            None => files.fetch().await,
            Some(kube) if config.key_files.is_empty() => kube.fetch().await,
            Some(kube) => {
                let (api, files) = tokio::join!(kube.fetch(), files.fetch());
                let (mut api, files) = (api?, files?);
                api.keys.extend(files.keys);
                api.dropped.extend(files.dropped);
                Ok(api)
            }
        }
    };
    let (keys, state) = tokio::join!(keys, store.get(STATE_PATH));
    let keys = keys?;
    for warning in &keys.warnings {
        tracing::warn!("{warning}");
    }
    let state = match state? {
        Some(object) => State::parse(&object.body)?,
        None => State::default(),
    };
    let signing = match (&kube, &args.token_request) {
        (None, _) => Signing::Unknown(
            "signing key unknown (--source files: there is no API server to ask)".into(),
        ),
        (Some(_), None) => Signing::Unknown(
            "signing key unknown (pass --token-request NAMESPACE/NAME of a ServiceAccount you may create tokens for)".into(),
        ),
        (Some(kube), Some(sa)) => signing_key(kube.client(), sa, &keys.keys).await,
    };
    let kids: Vec<String> = keys.keys.into_iter().map(|k| k.kid).collect();
    let mut report = rotation::status(
        &state,
        &kids,
        &signing,
        now(),
        Duration::from_secs(config.cache_max_age.into()),
        config.retention,
    );
    // Behind CloudFront: what the edge serves now, as STS would read it.
    let edge = match (&config.cloudfront_distribution, &config.issuer) {
        (Some(_), IssuerChoice::Explicit(issuer)) => Some(edge_copy(&config, issuer).await?),
        _ => None,
    };
    let files = config.source == SourceKind::Files;
    if files && report.next_step.starts_with("nothing to do") {
        // The model's advice is `rotate stage`, which refuses --source files: name the sync
        // that publishes a new key there instead.
        let current: Vec<String> = config
            .key_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        report.next_step = format!(
            "nothing to do: one key, published and visible; to rotate with --source files, publish the new public key by adding it to sync's --key-file list, keeping the current one until its tokens have expired: {} (`rotate stage` is for --source cluster)",
            files_sync_command(&args.sync, &current, &["NEW.pub".to_owned()])
        );
    }
    match config.output {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(&report).expect("a status always serialises");
            if let Some(edge) = &edge {
                value["edge"] = serde_json::to_value(edge).expect("an edge copy serialises");
            }
            if files {
                // No API server was asked: whether a key is there is not known.
                for key in value["keys"].as_array_mut().into_iter().flatten() {
                    key["at_api_server"] = serde_json::Value::Null;
                }
            }
            println!("{value}");
        }
        OutputFormat::Text => {
            let show =
                |t: Option<time::OffsetDateTime>| t.map(rfc3339).unwrap_or_else(|| "-".into());
            let yes = |b: bool| if b { "yes" } else { "no" };
            let at_api = |b: bool| if files { "n/a" } else { yes(b) };
            println!(
                "{:<44} {:<7} {:<8} {:<7} {:<21} {:<21}",
                "kid", "at API", "signing", "staged", "published since", "removable at"
            );
            for key in &report.keys {
                println!(
                    "{:<44} {:<7} {:<8} {:<7} {:<21} {:<21}",
                    key.kid,
                    at_api(key.at_api_server),
                    key.signing.map_or("?", yes),
                    yes(key.staged),
                    show(key.published_since),
                    show(key.removable_at)
                );
            }
            if let Some(why) = &report.signing_unknown {
                println!("{why}");
            }
            if let Some(edge) = &edge {
                println!(
                    "{}",
                    edge.describe(report.keys.iter().map(|k| k.kid.as_str()))
                );
            }
            println!("next: {}", report.next_step);
        }
    }
    Ok(Exit::Ok)
}

/// The JWKS the issuer URL serves now (for a CloudFront issuer: the edge's copy), from one
/// anonymous GET the way STS makes it.
#[derive(serde::Serialize)]
struct EdgeCopy {
    jwks_uri: String,
    /// The kids it lists; `None` when it could not be read.
    kids: Option<Vec<String>>,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl EdgeCopy {
    /// One line: what the edge serves, and which published keys it does not serve yet.
    fn describe<'a>(&self, published: impl Iterator<Item = &'a str>) -> String {
        let Some(kids) = &self.kids else {
            return format!(
                "edge: {} could not be read ({}); `kube-oidc-publisher doctor` shows why",
                self.jwks_uri,
                self.error.as_deref().unwrap_or("no answer")
            );
        };
        let missing: Vec<&str> = published
            .filter(|kid| !kids.iter().any(|k| k == kid))
            .collect();
        let mut line = format!("edge: {} serves {}", self.jwks_uri, kids.join(", "));
        if !missing.is_empty() {
            line.push_str(&format!(
                "; not yet: {} (it refreshes within the documents' max-age, or at once after sync's invalidation)",
                missing.join(", ")
            ));
        }
        line
    }
}

async fn edge_copy(config: &SyncConfig, issuer: &Issuer) -> anyhow::Result<EdgeCopy> {
    let client = PublicClient::new(
        &config.ca_files,
        &config.connect_to,
        Duration::from_millis(STS_BUDGET_MS),
    )
    .await?;
    let jwks_uri = issuer.jwks_uri();
    let (kids, error) = match client.get(&jwks_uri).await.result {
        Ok(answer) if answer.status == 200 => match parse_jwks(&answer.body) {
            Ok(parsed) => (Some(parsed.keys.into_iter().map(|k| k.kid).collect()), None),
            Err(e) => (None, Some(format!("HTTP 200, but not a valid JWKS: {e}"))),
        },
        Ok(answer) => (None, Some(format!("HTTP {}", answer.status))),
        Err(e) => (None, Some(fetch_problem(&e))),
    };
    Ok(EdgeCopy {
        jwks_uri,
        kids,
        error,
    })
}

/// The kid in the header of a freshly minted token, its signature checked with the API
/// server's key of that kid. Never fails: what cannot be learnt is reported as unknown.
async fn signing_key(client: &kube::Client, service_account: &str, api_keys: &[Jwk]) -> Signing {
    let unknown = |why: String| Signing::Unknown(format!("signing key unknown ({why})"));
    let (namespace, name) = match service_account.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => (ns.to_owned(), name.to_owned()),
        Some(_) => {
            return unknown(format!(
                "--token-request {service_account:?} is not NAMESPACE/NAME"
            ))
        }
        None => match tokio::fs::read_to_string(POD_NAMESPACE_FILE).await {
            Ok(ns) if !ns.trim().is_empty() => (ns.trim().to_owned(), service_account.to_owned()),
            _ => {
                return unknown(format!(
                    "--token-request {service_account} names no namespace and this is not a pod; pass NAMESPACE/{service_account}"
                ))
            }
        },
    };
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![STATUS_AUDIENCE.to_owned()],
            expiration_seconds: Some(STATUS_TOKEN_SECONDS),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    let answer = match api
        .create_token_request(&name, &PostParams::default(), &request)
        .await
    {
        Ok(answer) => answer,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return unknown(format!(
                "TokenRequest for {namespace}/{name} was refused: {}; grant `create` on serviceaccounts/token in namespace {namespace}, or pass another --token-request",
                status.message
            ))
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {
            return unknown(format!(
                "there is no ServiceAccount {namespace}/{name}; pass --token-request NAMESPACE/NAME of an existing one"
            ))
        }
        Err(e) => return unknown(format!("TokenRequest for {namespace}/{name} failed: {e}")),
    };
    let Some(jwt) = answer.status.map(|s| s.token).filter(|t| !t.is_empty()) else {
        return unknown(format!(
            "TokenRequest for {namespace}/{name} returned no token"
        ));
    };
    let decoded = match token::decode(&jwt) {
        Ok(decoded) => decoded,
        Err(e) => return unknown(format!("the minted token cannot be read: {e}")),
    };
    drop(jwt);
    let Some(kid) = decoded.kid.clone() else {
        return unknown("the minted token's header has no kid".into());
    };
    if let Some(key) = api_keys.iter().find(|k| k.kid == kid) {
        if let Err(e) = token::verify(&decoded, key) {
            return unknown(format!("the minted token names kid {kid}, but {e}"));
        }
    }
    Signing::Known(kid)
}

async fn revoke(args: &RevokeArgs) -> anyhow::Result<Exit> {
    let mut config = SyncConfig::from_args(&args.sync)?;
    config.requests.revoke = args.kids.clone();
    // A key still staged was never served by an API server since it was staged: it signed no
    // token, and removing it breaks no pod. Read before the sync, which removes the record.
    let staged: Vec<String> = read_state(&config)
        .await?
        .keys
        .into_iter()
        .filter(|(_, record)| record.staged)
        .map(|(kid, _)| kid)
        .collect();
    // Refusals (a kid not published, or still served) come from here, before any warning.
    let report = publish(&config).await?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    let (unused, signing): (Vec<&String>, Vec<&String>) =
        report.revoked.iter().partition(|kid| staged.contains(kid));
    let done = match config.mode {
        Mode::Apply => "REVOKED: removed from the published JWKS now",
        Mode::DryRun | Mode::Check => {
            "would be REVOKED (nothing written now): removed from the published JWKS at once"
        }
    };
    if !signing.is_empty() {
        tracing::warn!(
            kids = ?signing,
            "{done}, without waiting for their retention. Pods whose tokens they signed fail STS (\"Couldn't retrieve verification key\") until kubelet refreshes their tokens"
        );
    }
    if !unused.is_empty() {
        tracing::info!(
            kids = ?unused,
            "{done}: staged keys no API server served, so they signed no token and no pod is affected"
        );
    }
    crate::output::print_sync(&report, config.output);
    Ok(Exit::Ok)
}

/// The configured store; the AWS configuration is loaded only for S3.
async fn open_store(config: &SyncConfig) -> anyhow::Result<Box<dyn ObjectStore>> {
    let sdk = match config.store {
        Location::S3 { .. } => {
            Some(crate::aws::load(config.region.as_deref(), config.timeout).await)
        }
        Location::Dir(_) => None,
    };
    let region = sdk
        .as_ref()
        .and_then(|s| s.region())
        .map(|r| r.as_ref().to_owned());
    let (store, _issuer) = build_store(config, sdk.as_ref(), region.as_deref())?;
    Ok(store)
}

/// The store's retention state (empty when there is none yet).
async fn read_state(config: &SyncConfig) -> anyhow::Result<State> {
    let store = open_store(config).await?;
    Ok(match store.get(STATE_PATH).await? {
        Some(object) => State::parse(&object.body)?,
        None => State::default(),
    })
}

/// The `sync` that publishes `current` and `new` key files with `--source files`, with the
/// store and issuer of this run (other options as the user runs sync). Each word is quoted for a
/// POSIX shell, so a key file's path with a space in it pastes as one argument.
fn files_sync_command(sync: &SyncArgs, current: &[String], new: &[String]) -> String {
    let store = sync.store();
    let mut words = vec!["kube-oidc-publisher", "sync", "--source", "files"];
    for path in current.iter().chain(new) {
        words.extend(["--key-file", path]);
    }
    words.extend(["--store", store]);
    if let Some(issuer) = &sync.publish.issuer.url {
        words.extend(["--issuer", issuer.as_str()]);
    }
    if sync.publish.iam.no_iam {
        words.push("--no-iam");
    }
    // Only a NUL byte cannot be quoted, and no argument can hold one.
    let command = shlex::try_join(words.iter().copied()).unwrap_or_else(|_| words.join(" "));
    format!("`{command}`")
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::files_sync_command;
    use crate::cli::{Cli, Command};

    #[test]
    fn the_printed_sync_command_quotes_paths_for_a_shell() {
        let cli = Cli::try_parse_from([
            "kube-oidc-publisher",
            "sync",
            "--store",
            "/srv/oidc docs",
            "--issuer",
            "https://oidc.example.com/a",
            "--no-iam",
        ])
        .expect("valid sync flags");
        let Command::Sync(sync) = cli.command else {
            panic!("parsed as sync")
        };
        let printed = files_sync_command(
            &sync,
            &["/keys/current key.pub".to_owned()],
            &["NEW.pub".to_owned()],
        );
        assert_eq!(
            printed,
            "`kube-oidc-publisher sync --source files --key-file '/keys/current key.pub' --key-file NEW.pub --store '/srv/oidc docs' --issuer https://oidc.example.com/a --no-iam`"
        );
    }
}
