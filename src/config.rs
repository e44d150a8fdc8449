//! Flags turned into a validated configuration (`sync`, `run`, `doctor`), without I/O, so each
//! rule is unit-tested here. A fleet's (`--fleet`, `--fleet-from`) is in [`fleet`], its file's
//! shape in [`fleet_file`].

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{DoctorArgs, PublishArgs, RunArgs, SyncArgs};
use crate::doctor::config::{
    parse_distribution_id, parse_hosted_zone_id, parse_service_account, DoctorConfig,
    DoctorConfigError, IssuerSource, RoleArn,
};
use crate::model::issuer::IssuerError;
use crate::model::Issuer;
use crate::output::OutputFormat;
// `Mode` lives in `plan` (pure), so `output` can read it without importing `config`.
pub use crate::plan::Mode;
use crate::plan::ObjectMeta;
use crate::source::{ApiServerEndpoints, SourceKind};
use crate::store::{Location, LocationError};
use crate::tls::ConnectTo;

pub mod fleet;
pub mod fleet_file;

/// A fleet from `sync`'s (or `run`'s) arguments: `matches` say which options the command line
/// (or the environment) set, and those apply to every cluster.
pub fn fleet_from_args(
    args: &SyncArgs,
    matches: &clap::ArgMatches,
) -> Result<fleet::Fleet, fleet::FleetError> {
    fleet::Fleet::load(&fleet_options(args), matches)
}

fn fleet_options(args: &SyncArgs) -> fleet::FleetOptions {
    fleet::FleetOptions {
        file: args.fleet.fleet.clone(),
        from: args.fleet.fleet_from.clone(),
        store_template: args.fleet.store_template.clone(),
        issuer_template: args.fleet.issuer_template.clone(),
        concurrency: args.fleet.concurrency,
        output: args.publish.output.format,
    }
}

/// The `sync` command's definition, as clap builds it (with the global options propagated):
/// what a fleet file's keys are checked against.
fn sync_command() -> clap::Command {
    use clap::CommandFactory as _;
    let mut cli = crate::cli::Cli::command();
    cli.build();
    cli.find_subcommand("sync")
        .expect("the sync command exists")
        .clone()
}

/// Why a `sync` command line written out for one cluster of a fleet was refused.
enum ArgvError {
    /// clap's message, as `sync` would print it.
    Usage(String),
    Config(ConfigError),
}

/// A `sync` command line (`kube-oidc-publisher sync ...`) parsed and validated as `sync` does.
fn sync_config_from_argv(argv: Vec<std::ffi::OsString>) -> Result<SyncConfig, ArgvError> {
    use clap::Parser as _;
    let cli = crate::cli::Cli::try_parse_from(argv).map_err(|e| {
        ArgvError::Usage(crate::output::usage_error_message(&e.render().to_string()))
    })?;
    let crate::cli::Command::Sync(sync) = cli.command else {
        unreachable!("argv names the sync command")
    };
    SyncConfig::from_args(&sync).map_err(ArgvError::Config)
}

/// The fleet of a `sync` command line `argv` with the fleet file's text given.
#[cfg(test)]
fn fleet_from_argv(
    argv: &[&str],
    file: (PathBuf, String),
) -> Result<fleet::Fleet, fleet::FleetError> {
    use clap::{CommandFactory as _, FromArgMatches as _};
    let matches = crate::cli::Cli::command()
        .try_get_matches_from(argv)
        .expect("a valid command line");
    let cli = crate::cli::Cli::from_arg_matches(&matches).expect("a valid command line");
    let crate::cli::Command::Sync(sync) = cli.command else {
        unreachable!("argv starts with `sync`")
    };
    let matches = matches
        .subcommand_matches("sync")
        .expect("the sync command");
    fleet::Fleet::from_parts(&fleet_options(&sync), matches, Some(file))
}

/// Validated, de-duplicated client IDs (IAM: 1-255 characters each, at most 100).
fn audiences(values: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        if value.is_empty() || value.len() > 255 {
            return Err(ConfigError::Audience(value.clone()));
        }
        if !out.contains(value) {
            out.push(value.clone());
        }
    }
    if out.len() > 100 {
        return Err(ConfigError::Audience(out[100].clone()));
    }
    Ok(out)
}

/// `auto` or `none` alone, or up to 5 pinned SHA-1 values.
fn thumbprint_mode(values: &[String]) -> Result<ThumbprintMode, ConfigError> {
    match values {
        [one] if one == "auto" => Ok(ThumbprintMode::Auto),
        [one] if one == "none" => Ok(ThumbprintMode::None),
        _ if values.iter().any(|v| v == "auto" || v == "none") => Err(ConfigError::Thumbprint(
            "auto and none cannot be combined with other values; pass one of them alone, or only HEX values".into(),
        )),
        _ => crate::model::thumbprint::parse_pinned(values)
            .map(ThumbprintMode::Pinned)
            .map_err(|e| ConfigError::Thumbprint(e.to_string())),
    }
}

/// Which issuer to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerChoice {
    Explicit(Issuer),
    /// The bucket's virtual-hosted URL, once the region is known.
    FromBucket,
}

/// `--thumbprint`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThumbprintMode {
    Auto,
    None,
    Pinned(Vec<String>),
}

/// The IAM side of `sync`, absent with `--no-iam`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamConfig {
    pub audiences: Vec<String>,
    pub cluster_name: Option<String>,
    pub thumbprints: ThumbprintMode,
    pub adopt: bool,
}

#[derive(Clone, Debug)]
pub struct SyncConfig {
    pub store: Location,
    pub issuer: IssuerChoice,
    pub source: SourceKind,
    pub key_files: Vec<PathBuf>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `None` with `--no-iam`.
    pub iam: Option<IamConfig>,
    pub ca_files: Vec<PathBuf>,
    pub connect_to: Vec<ConnectTo>,
    pub region: Option<String>,
    pub s3_path_style: bool,
    pub cache_max_age: u32,
    pub mode: Mode,
    pub allow_issuer_mismatch: bool,
    /// `--allow-issuer-change`: the store may already publish another issuer.
    pub allow_issuer_change: bool,
    pub timeout: Duration,
    pub output: OutputFormat,
    /// How long a key that left the source stays published.
    pub retention: Duration,
    /// What `rotate revoke` and `rotate stage` ask (never set by `sync` flags).
    pub requests: crate::model::state::Requests,
    /// Read keys from every API server listed by the `kubernetes` EndpointSlices, or only
    /// through the configured server address.
    pub api_server_endpoints: ApiServerEndpoints,
    /// `--cloudfront-distribution`: the distribution serving the (S3) store.
    pub cloudfront_distribution: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--store")]
    Store(#[from] LocationError),
    #[error("--issuer")]
    Issuer(#[from] IssuerError),
    #[error("--issuer is required with a directory store: the directory is the issuer root, and only you know the public URL that serves it (for example --issuer https://oidc.example.com/cluster-1)")]
    IssuerRequired,
    #[error("--source files needs at least one --key-file PATH (a PEM file of public keys)")]
    NoKeyFiles,
    #[error("--cache-max-age {0} is out of range: use 1 to 86400 seconds (0 makes STS refetch on every call, which has led to throttling failures; 300 is the default)")]
    CacheMaxAge(u32),
    #[error("--timeout must be at least 1 second")]
    Timeout,
    #[error("--retain-removed-keys {0:?} is not a duration; write it like 26h, 90m or 2d")]
    RetentionFormat(String),
    #[error("--retain-removed-keys {given} is shorter than the published max-age plus IAM's 5 minutes of clock skew ({minimum} s): a removed key would disappear while STS may still use it. Use at least the longest token lifetime (24h for IRSA) plus that")]
    RetentionTooShort { given: String, minimum: u64 },
    #[error("--thumbprint: {0}")]
    Thumbprint(String),
    #[error("--audience {0:?} is not a valid client ID: IAM accepts 1 to 255 characters, at most 100 client IDs")]
    Audience(String),
    #[error("{0}")]
    ConnectTo(String),
    #[error("--cloudfront-distribution {0:?} is not a CloudFront distribution ID (letters and digits, like E2ABCDEF123456)")]
    DistributionId(String),
    #[error("--cloudfront-distribution needs an S3 store (--store s3://BUCKET/PREFIX): CloudFront serves the bucket; a directory is served by your own web server, whose cache you purge yourself")]
    DistributionNeedsS3,
}

impl SyncConfig {
    pub fn from_args(args: &SyncArgs) -> Result<SyncConfig, ConfigError> {
        SyncConfig::from_parts(args.store(), &args.publish)
    }

    /// For commands that know the store otherwise (`bootstrap` builds it from `--bucket`).
    pub fn from_parts(store: &str, args: &PublishArgs) -> Result<SyncConfig, ConfigError> {
        let (store, issuer) = store_and_issuer(store, args.issuer.url.as_deref())?;
        if args.keys.source == SourceKind::Files && args.keys.key_files.is_empty() {
            return Err(ConfigError::NoKeyFiles);
        }
        if !(1..=86400).contains(&args.cache_max_age) {
            return Err(ConfigError::CacheMaxAge(args.cache_max_age));
        }
        if args.timeout == 0 {
            return Err(ConfigError::Timeout);
        }
        let iam = if args.iam.no_iam {
            None
        } else {
            Some(IamConfig {
                audiences: audiences(&args.iam.audiences)?,
                cluster_name: args.iam.cluster_name.clone(),
                thumbprints: thumbprint_mode(&args.iam.thumbprints)?,
                adopt: args.iam.adopt,
            })
        };
        let connect_to = args
            .tls
            .connect_to
            .iter()
            .map(|raw| raw.parse::<ConnectTo>().map_err(ConfigError::ConnectTo))
            .collect::<Result<Vec<_>, _>>()?;
        let retention = humantime::parse_duration(&args.retain_removed_keys)
            .map_err(|_| ConfigError::RetentionFormat(args.retain_removed_keys.clone()))?;
        let minimum = u64::from(args.cache_max_age) + 300;
        if retention.as_secs() < minimum {
            return Err(ConfigError::RetentionTooShort {
                given: args.retain_removed_keys.clone(),
                minimum,
            });
        }
        let cloudfront_distribution = match &args.cloudfront.id {
            None => None,
            Some(id) if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) => {
                return Err(ConfigError::DistributionId(id.clone()))
            }
            Some(_) if !matches!(store, Location::S3 { .. }) => {
                return Err(ConfigError::DistributionNeedsS3)
            }
            Some(id) => Some(id.clone()),
        };
        let mode = match (args.dry_run, args.check) {
            (true, _) => Mode::DryRun,
            (false, true) => Mode::Check,
            (false, false) => Mode::Apply,
        };
        Ok(SyncConfig {
            store,
            issuer,
            source: args.keys.source,
            key_files: args.keys.key_files.clone(),
            kubeconfig: args.keys.kube.kubeconfig.clone(),
            context: args.keys.kube.context.clone(),
            iam,
            ca_files: args.tls.ca_files.clone(),
            connect_to,
            region: args.aws.region.clone(),
            s3_path_style: args.s3.path_style,
            cache_max_age: args.cache_max_age,
            mode,
            allow_issuer_mismatch: args.allow_issuer_mismatch,
            allow_issuer_change: args.allow_issuer_change,
            timeout: Duration::from_secs(args.timeout),
            output: args.output.format,
            retention,
            requests: Default::default(),
            api_server_endpoints: args.keys.api_server_endpoints,
            cloudfront_distribution,
        })
    }

    /// The metadata every published object carries.
    pub fn object_meta(&self) -> ObjectMeta {
        ObjectMeta {
            content_type: "application/json".into(),
            cache_control: format!("public, max-age={}", self.cache_max_age),
        }
    }
}

/// `--store` and `--issuer`: where to publish, and for which issuer.
fn store_and_issuer(
    store: &str,
    issuer: Option<&str>,
) -> Result<(Location, IssuerChoice), ConfigError> {
    let store = Location::parse(store)?;
    let issuer = match (issuer, &store) {
        (Some(raw), _) => IssuerChoice::Explicit(Issuer::parse(raw)?),
        (None, Location::Dir(_)) => return Err(ConfigError::IssuerRequired),
        (None, Location::S3 { .. }) => IssuerChoice::FromBucket,
    };
    Ok((store, issuer))
}

/// `run`: a `sync` configuration plus the loop's own settings.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub sync: SyncConfig,
    pub interval: Duration,
    pub listen: std::net::SocketAddr,
}

/// Why `run`'s own options are refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunConfigError {
    #[error(transparent)]
    Sync(#[from] ConfigError),
    #[error(transparent)]
    Fleet(#[from] fleet::FleetError),
    #[error("--interval {0:?} is not a duration of at least 1 s; write it like 60s, 5m or 1h")]
    Interval(String),
    #[error(
        "run always publishes; --dry-run and --check are for a single `sync` (or use `doctor`)"
    )]
    Mode,
    #[error("run reports each pass as a log line on stderr, not on stdout: use --log-format json instead of --output json")]
    Output,
}

impl RunConfig {
    pub fn from_args(args: &RunArgs) -> Result<RunConfig, RunConfigError> {
        let sync = SyncConfig::from_args(&args.sync)?;
        run_checks(&sync, sync.output)?;
        Ok(RunConfig {
            sync,
            interval: interval(args)?,
            listen: args.listen,
        })
    }
}

/// `run --fleet`: a fleet plus the loop's own settings.
#[derive(Clone, Debug)]
pub struct FleetRunConfig {
    pub fleet: fleet::Fleet,
    pub interval: Duration,
    pub listen: std::net::SocketAddr,
}

impl FleetRunConfig {
    /// `matches`: `run`'s own, which say which options the command line set.
    pub fn from_args(
        args: &RunArgs,
        matches: &clap::ArgMatches,
    ) -> Result<FleetRunConfig, RunConfigError> {
        let fleet = fleet_from_args(&args.sync, matches)?;
        for config in fleet.configs() {
            run_checks(config, fleet.output)?;
        }
        Ok(FleetRunConfig {
            fleet,
            interval: interval(args)?,
            listen: args.listen,
        })
    }
}

/// What `run` refuses of a `sync` configuration.
fn run_checks(sync: &SyncConfig, output: OutputFormat) -> Result<(), RunConfigError> {
    if sync.mode != Mode::Apply {
        return Err(RunConfigError::Mode);
    }
    if output != OutputFormat::Text {
        return Err(RunConfigError::Output);
    }
    Ok(())
}

fn interval(args: &RunArgs) -> Result<Duration, RunConfigError> {
    humantime::parse_duration(&args.interval)
        .ok()
        .filter(|d| *d >= Duration::from_secs(1))
        .ok_or_else(|| RunConfigError::Interval(args.interval.clone()))
}

/// `doctor`: the issuer is kept as given (a malformed one is doctor's first finding).
impl DoctorConfig {
    pub fn from_args(args: &DoctorArgs) -> Result<DoctorConfig, DoctorConfigError> {
        let store = args
            .store
            .location
            .as_deref()
            .map(Location::parse)
            .transpose()?;
        let issuer = match (&args.issuer.url, &store) {
            (Some(raw), _) if raw.is_empty() => return Err(DoctorConfigError::EmptyIssuer),
            (Some(raw), _) => IssuerSource::Given(raw.clone()),
            (None, Some(Location::S3 { .. })) => IssuerSource::FromBucket,
            (None, Some(Location::Dir(_))) => {
                return Err(DoctorConfigError::DirectoryNeedsIssuer(
                    args.store.location.clone().unwrap_or_default(),
                ))
            }
            (None, None) => unreachable!("clap requires --issuer or --store"),
        };
        let service_account = args
            .service_account
            .as_deref()
            .map(parse_service_account)
            .transpose()?;
        if args.audience.value.is_empty() || args.audience.value.chars().count() > 255 {
            return Err(DoctorConfigError::Audience(args.audience.value.clone()));
        }
        let role_arn = args.role_arn.as_deref().map(RoleArn::parse).transpose()?;
        let connect_to = args
            .tls
            .connect_to
            .iter()
            .map(|raw| {
                raw.parse::<ConnectTo>()
                    .map_err(DoctorConfigError::ConnectTo)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DoctorConfig {
            issuer,
            store,
            token_file: args.token.clone(),
            service_account,
            audience: args.audience.value.clone(),
            role_arn,
            ca_files: args.tls.ca_files.clone(),
            connect_to,
            kubeconfig: args.kube.kubeconfig.clone(),
            context: args.kube.context.clone(),
            region: args.aws.region.clone(),
            s3_path_style: args.s3.path_style,
            cloudfront_distribution: args
                .cloudfront
                .id
                .as_deref()
                .map(parse_distribution_id)
                .transpose()?,
            hosted_zone_id: args
                .hosted_zone_id
                .as_deref()
                .map(parse_hosted_zone_id)
                .transpose()?,
            timeout: Duration::from_secs(args.timeout.seconds),
            token_lifetime: humantime::parse_duration(&args.lifetime.token_lifetime).map_err(
                |_| DoctorConfigError::TokenLifetime(args.lifetime.token_lifetime.clone()),
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<SyncConfig, ConfigError> {
        let mut argv = vec!["kube-oidc-publisher", "sync"];
        argv.extend_from_slice(args);
        let Command::Sync(sync) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!("argv starts with `sync`")
        };
        SyncConfig::from_args(&sync)
    }

    #[test]
    fn store_flag_selects_s3_or_a_directory() {
        let c = parse(&["--store", "s3://b-1/c1", "--no-iam"]).unwrap();
        assert_eq!(
            c.store,
            Location::S3 {
                bucket: "b-1".into(),
                prefix: "c1".into()
            }
        );
        assert_eq!(c.issuer, IssuerChoice::FromBucket);
        assert!(c.iam.is_none());
        let c = parse(&["--store", "./public", "--issuer", "https://o.example/c1"]).unwrap();
        assert_eq!(c.store, Location::Dir("./public".into()));
        let iam = c.iam.unwrap();
        assert_eq!(iam.audiences, ["sts.amazonaws.com"]);
        assert_eq!(iam.thumbprints, ThumbprintMode::Auto);
    }

    #[test]
    fn cloudfront_distribution_needs_an_s3_store_and_an_id() {
        let c = parse(&[
            "--store",
            "s3://b-1/c1",
            "--no-iam",
            "--cloudfront-distribution",
            "E2ABCDEF123456",
        ])
        .unwrap();
        assert_eq!(c.cloudfront_distribution.as_deref(), Some("E2ABCDEF123456"));
        assert_eq!(
            parse(&[
                "--store",
                "./p",
                "--issuer",
                "https://o.example/c1",
                "--cloudfront-distribution",
                "E2ABCDEF123456",
            ])
            .unwrap_err(),
            ConfigError::DistributionNeedsS3
        );
        assert_eq!(
            parse(&[
                "--store",
                "s3://b-1/c1",
                "--cloudfront-distribution",
                "E2/x"
            ])
            .unwrap_err(),
            ConfigError::DistributionId("E2/x".into())
        );
    }

    #[test]
    fn directory_store_needs_an_issuer() {
        assert_eq!(
            parse(&["--store", "./public"]).unwrap_err(),
            ConfigError::IssuerRequired
        );
    }

    #[test]
    fn issuer_flag_is_validated() {
        let e = parse(&["--store", "./p", "--issuer", "https://o.example/c1/"]).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Issuer(IssuerError::TrailingSlash { .. })
        ));
    }

    #[test]
    fn source_files_needs_key_files() {
        assert_eq!(
            parse(&["--store", "s3://bbb", "--source", "files"]).unwrap_err(),
            ConfigError::NoKeyFiles
        );
        let c = parse(&[
            "--store",
            "s3://bbb",
            "--source",
            "files",
            "--key-file",
            "a.pem",
            "--key-file",
            "b.pem",
        ])
        .unwrap();
        assert_eq!(
            c.key_files,
            [PathBuf::from("a.pem"), PathBuf::from("b.pem")]
        );
        assert_eq!(c.source, SourceKind::Files);
    }

    #[test]
    fn cache_max_age_defaults_to_300_and_zero_is_refused() {
        let c = parse(&["--store", "s3://bbb"]).unwrap();
        assert_eq!(c.object_meta().cache_control, "public, max-age=300");
        assert_eq!(c.object_meta().content_type, "application/json");
        assert_eq!(
            parse(&["--store", "s3://bbb", "--cache-max-age", "0"]).unwrap_err(),
            ConfigError::CacheMaxAge(0)
        );
    }

    #[test]
    fn dry_run_and_check_select_the_mode() {
        assert_eq!(parse(&["--store", "s3://bbb"]).unwrap().mode, Mode::Apply);
        assert_eq!(
            parse(&["--store", "s3://bbb", "--dry-run"]).unwrap().mode,
            Mode::DryRun
        );
        assert_eq!(
            parse(&["--store", "s3://bbb", "--check"]).unwrap().mode,
            Mode::Check
        );
        let argv = [
            "kube-oidc-publisher",
            "sync",
            "--store",
            "s3://bbb",
            "--check",
            "--dry-run",
        ];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn thumbprint_flag_is_auto_none_or_up_to_five_hex_values() {
        let mode = |args: &[&str]| {
            let mut all = vec!["--store", "s3://bbb"];
            all.extend_from_slice(args);
            parse(&all).map(|c| c.iam.unwrap().thumbprints)
        };
        assert_eq!(mode(&[]).unwrap(), ThumbprintMode::Auto);
        assert_eq!(
            mode(&["--thumbprint", "none"]).unwrap(),
            ThumbprintMode::None
        );
        let hex = "9E99A48A9960B14926BB7F3B02E22DA2B0AB7280";
        assert_eq!(
            mode(&["--thumbprint", hex]).unwrap(),
            ThumbprintMode::Pinned(vec![hex.to_ascii_lowercase()])
        );
        assert!(matches!(
            mode(&["--thumbprint", "abc"]),
            Err(ConfigError::Thumbprint(_))
        ));
        assert!(matches!(
            mode(&["--thumbprint", "auto", "--thumbprint", hex]),
            Err(ConfigError::Thumbprint(_))
        ));
        let six: Vec<String> = (0..6).map(|i| format!("{i}").repeat(40)).collect();
        let mut args = vec![];
        for t in &six {
            args.extend(["--thumbprint", t.as_str()]);
        }
        assert!(matches!(mode(&args), Err(ConfigError::Thumbprint(_))));
    }

    #[test]
    fn audiences_are_validated_and_deduplicated() {
        let c = parse(&[
            "--store",
            "s3://bbb",
            "--audience",
            "a",
            "--audience",
            "b",
            "--audience",
            "a",
        ])
        .unwrap();
        assert_eq!(c.iam.unwrap().audiences, ["a", "b"]);
        let long = "x".repeat(256);
        assert!(matches!(
            parse(&["--store", "s3://bbb", "--audience", &long]),
            Err(ConfigError::Audience(_))
        ));
    }

    #[test]
    fn connect_to_is_parsed() {
        let c = parse(&[
            "--store",
            "s3://bbb",
            "--connect-to",
            "oidc.example.com:443:127.0.0.1:8443",
        ])
        .unwrap();
        assert_eq!(c.connect_to[0].to_port, 8443);
        assert!(matches!(
            parse(&["--store", "s3://bbb", "--connect-to", "nonsense"]),
            Err(ConfigError::ConnectTo(_))
        ));
    }

    #[test]
    fn retention_defaults_to_26_hours_and_must_outlast_caches() {
        let c = parse(&["--store", "s3://bbb"]).unwrap();
        assert_eq!(c.retention, Duration::from_secs(26 * 3600));
        let c = parse(&["--store", "s3://bbb", "--retain-removed-keys", "2d"]).unwrap();
        assert_eq!(c.retention, Duration::from_secs(48 * 3600));
        assert!(matches!(
            parse(&["--store", "s3://bbb", "--retain-removed-keys", "soon"]),
            Err(ConfigError::RetentionFormat(_))
        ));
        assert!(matches!(
            parse(&["--store", "s3://bbb", "--retain-removed-keys", "5m"]),
            Err(ConfigError::RetentionTooShort { minimum: 600, .. })
        ));
    }

    #[test]
    fn timeout_defaults_to_ten_seconds() {
        assert_eq!(
            parse(&["--store", "s3://bbb"]).unwrap().timeout,
            Duration::from_secs(10)
        );
        assert_eq!(
            parse(&["--store", "s3://bbb", "--timeout", "0"]).unwrap_err(),
            ConfigError::Timeout
        );
    }

    fn parse_run(args: &[&str]) -> Result<RunConfig, RunConfigError> {
        let mut argv = vec!["kube-oidc-publisher", "run", "--store", "s3://bbb"];
        argv.extend_from_slice(args);
        let Command::Run(run) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!("argv starts with `run`")
        };
        RunConfig::from_args(&run)
    }

    #[test]
    fn run_interval_defaults_to_a_minute_and_is_at_least_a_second() {
        let c = parse_run(&[]).unwrap();
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.sync.mode, Mode::Apply);
        let c = parse_run(&["--interval", "5s", "--listen", "127.0.0.1:0"]).unwrap();
        assert_eq!(c.interval, Duration::from_secs(5));
        assert_eq!(c.listen.port(), 0);
        for bad in ["0s", "500ms", "often"] {
            assert_eq!(
                parse_run(&["--interval", bad]).unwrap_err(),
                RunConfigError::Interval(bad.into())
            );
        }
    }

    #[test]
    fn run_refuses_dry_run_check_and_json_output() {
        assert_eq!(parse_run(&["--dry-run"]).unwrap_err(), RunConfigError::Mode);
        assert_eq!(parse_run(&["--check"]).unwrap_err(), RunConfigError::Mode);
        assert_eq!(
            parse_run(&["--output", "json"]).unwrap_err(),
            RunConfigError::Output
        );
        assert_eq!(
            parse_run(&["--cache-max-age", "0"]).unwrap_err(),
            RunConfigError::Sync(ConfigError::CacheMaxAge(0))
        );
    }
}

#[cfg(test)]
mod doctor_tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<DoctorConfig, DoctorConfigError> {
        let mut argv = vec!["kube-oidc-publisher", "doctor"];
        argv.extend_from_slice(args);
        let Command::Doctor(doctor) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!("argv starts with `doctor`")
        };
        DoctorConfig::from_args(&doctor)
    }

    #[test]
    fn issuer_or_store_is_required_and_the_issuer_is_kept_as_given() {
        let argv = ["kube-oidc-publisher", "doctor"];
        assert!(Cli::try_parse_from(argv).is_err());
        let c = parse(&["--issuer", "https://oidc.example.test/c1/"]).unwrap();
        assert_eq!(
            c.issuer,
            IssuerSource::Given("https://oidc.example.test/c1/".into()),
            "a trailing slash is a finding, not a usage error"
        );
        assert_eq!(c.audience, "sts.amazonaws.com");
        assert_eq!(c.timeout, Duration::from_secs(10));
        let c = parse(&["--store", "s3://acme-oidc/c1"]).unwrap();
        assert_eq!(c.issuer, IssuerSource::FromBucket);
        assert_eq!(
            parse(&["--store", "./public"]).unwrap_err(),
            DoctorConfigError::DirectoryNeedsIssuer("./public".into())
        );
    }

    #[test]
    fn service_account_is_namespace_slash_name() {
        let c = parse(&[
            "--issuer",
            "https://o.example/c1",
            "--service-account",
            "shop/api",
        ])
        .unwrap();
        let sa = c.service_account.unwrap();
        assert_eq!(sa.subject(), "system:serviceaccount:shop:api");
        for bad in ["shop", "shop/", "/api", "Shop/api", "shop/a*", "sh.op/api"] {
            assert!(
                matches!(
                    parse(&["--issuer", "https://o.example/c1", "--service-account", bad]),
                    Err(DoctorConfigError::ServiceAccount(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn connect_to_and_timeout_are_validated() {
        let c = parse(&[
            "--issuer",
            "https://o.example/c1",
            "--connect-to",
            "o.example:443:127.0.0.1:8443",
        ])
        .unwrap();
        assert_eq!(c.connect_to[0].to_port, 8443);
        assert!(matches!(
            parse(&["--issuer", "https://o.example/c1", "--connect-to", "x"]),
            Err(DoctorConfigError::ConnectTo(_))
        ));
        let argv = [
            "kube-oidc-publisher",
            "doctor",
            "--issuer",
            "https://o.example",
            "--timeout",
            "0",
        ];
        assert!(Cli::try_parse_from(argv).is_err());
    }
}
