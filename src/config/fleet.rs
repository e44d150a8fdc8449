//! `--fleet FILE` and `--fleet-from`: the fleet file and the command line turned into one
//! validated [`SyncConfig`] per cluster, without I/O.
//!
//! Each cluster's options are the file's `defaults`, then its own entry, then the command line
//! (options given there, or through their `KUBE_OIDC_PUBLISHER_*` variable, apply to every
//! cluster and win). They are written out as `sync` arguments and parsed by the same clap
//! definitions and [`SyncConfig::from_args`] as a `sync` command line, so every option is
//! accepted under its long name with the same validation and the same messages; a message is
//! prefixed with the file, the line and the cluster it concerns.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::ArgMatches;

use super::fleet_file::{Entry, FileError, FleetFile, Setting, Value};
use super::{sync_command, sync_config_from_argv, ArgvError, ConfigError, SyncConfig};
use crate::model::cluster_api::{Template, TemplateError};
use crate::model::fleet::SecretRef;
use crate::output::OutputFormat;

/// The fleet options of the command line (`--fleet`, `--fleet-from`, the templates,
/// `--concurrency`, `--output`), as `config` reads them from `sync`'s or `run`'s arguments.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    pub file: Option<PathBuf>,
    pub from: Option<String>,
    pub store_template: Option<String>,
    pub issuer_template: Option<String>,
    pub concurrency: u16,
    pub output: OutputFormat,
}

/// What one `sync --fleet` or `run --fleet` publishes.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// The file's clusters, in its order.
    pub members: Vec<Member>,
    /// `--fleet-from cluster-api`: more clusters, found on every pass.
    pub discovery: Option<Discovery>,
    /// Clusters published at the same time.
    pub concurrency: usize,
    pub output: OutputFormat,
}

/// One cluster of a fleet.
#[derive(Clone, Debug)]
pub struct Member {
    /// Unique in the fleet; the IAM provider's cluster tag and the metrics' `cluster` label.
    pub name: String,
    /// Where it came from, for messages (`fleet.yaml:12`, or the Secret it was found by).
    pub origin: String,
    pub config: SyncConfig,
    pub kubeconfig: KubeconfigFrom,
}

/// Where a member's kubeconfig comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KubeconfigFrom {
    /// The configuration's `kubeconfig` and `context`, or kubectl's default.
    Options,
    /// A Secret of the cluster the publisher runs in (the fleet file's `kubeconfig-secret`),
    /// read on every pass.
    Secret(SecretRef),
    /// A Cluster API kubeconfig Secret, as listed with its `resourceVersion`: read again only
    /// when that changes.
    Discovered {
        secret: SecretRef,
        resource_version: String,
    },
}

/// `--fleet-from cluster-api[=NAMESPACE]` with its templates.
#[derive(Clone, Debug)]
pub struct Discovery {
    /// `None`: every namespace.
    pub namespace: Option<String>,
    pub store_template: Template,
    pub issuer_template: Option<Template>,
    /// The options every discovered cluster takes (defaults and command line); its store and
    /// issuer are replaced by the templates' for each cluster.
    pub base: SyncConfig,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FleetError {
    #[error("cannot read the fleet file {path}: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("fleet file {path}: {error}")]
    File { path: PathBuf, error: FileError },
    #[error("{origin}: {message}")]
    Option { origin: String, message: String },
    #[error("--{long} names one cluster: with --fleet, give each cluster's {long} in the fleet file (or in its `defaults`)")]
    OneCluster { long: String },
    #[error("{origin}: `{key}` is not an option of sync: a cluster takes the long name of any `sync` option (see `kube-oidc-publisher sync --help`), and `name`, `kubeconfig-secret`")]
    UnknownKey { origin: String, key: String },
    #[error("{origin}: `{key}` applies to the whole run, not to one cluster: give --{key} on the command line")]
    WholeRun { origin: String, key: String },
    #[error("{origin}: `{key}` is a switch: write `{key}: true` or `{key}: false`")]
    NotASwitch { origin: String, key: String },
    #[error("{origin}: `{key}` takes a value, not true or false")]
    NotAValue { origin: String, key: String },
    #[error("{origin}: `{key}` takes one value, not a list")]
    NotAList { origin: String, key: String },
    #[error("{origin}: cluster {name:?} has no `store`: every cluster needs its own (for example store: s3://BUCKET/{name})")]
    NoStore { origin: String, name: String },
    #[error("{second}: cluster {second_name:?} has the same store as cluster {first_name:?} ({first}): each cluster needs its own store (one prefix per cluster)")]
    SharedStore {
        first: String,
        first_name: String,
        second: String,
        second_name: String,
    },
    #[error("--fleet-from {0:?}: the only source is `cluster-api` or `cluster-api=NAMESPACE`")]
    FleetFrom(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// Options that are the fleet's, never one cluster's.
const WHOLE_RUN: [&str; 6] = [
    "fleet",
    "fleet-from",
    "store-template",
    "issuer-template",
    "concurrency",
    "output",
];
/// Options that name one cluster: refused on the command line with a fleet.
const ONE_CLUSTER: [&str; 5] = ["store", "issuer", "kubeconfig", "context", "cluster-name"];

impl Fleet {
    /// `matches` are the command's own (`sync`, or `run` which takes every `sync` option): they
    /// say which options the command line (or the environment) set.
    pub fn load(options: &FleetOptions, matches: &ArgMatches) -> Result<Fleet, FleetError> {
        let file = match &options.file {
            Some(path) => Some((path.clone(), read(path)?)),
            None => None,
        };
        Fleet::from_parts(options, matches, file)
    }

    /// [`Fleet::load`] with the file's text already read (`(path, text)`).
    pub fn from_parts(
        options: &FleetOptions,
        matches: &ArgMatches,
        file: Option<(PathBuf, String)>,
    ) -> Result<Fleet, FleetError> {
        let given = command_line(matches)?;
        let (path, parsed) = match file {
            Some((path, text)) => {
                let parsed = FleetFile::parse(&text).map_err(|error| FleetError::File {
                    path: path.clone(),
                    error,
                })?;
                (path, parsed)
            }
            None => (PathBuf::new(), FleetFile::default()),
        };
        let mut members: Vec<Member> = Vec::new();
        for entry in &parsed.clusters {
            let member = member(&path, &parsed.defaults, entry, &given)?;
            if let Some(first) = members
                .iter()
                .find(|m| m.config.store == member.config.store)
            {
                return Err(FleetError::SharedStore {
                    first: first.origin.clone(),
                    first_name: first.name.clone(),
                    second: member.origin,
                    second_name: member.name,
                });
            }
            members.push(member);
        }
        let discovery = match &options.from {
            None => None,
            Some(raw) => Some(discovery(options, raw, &path, &parsed.defaults, &given)?),
        };
        if members.is_empty() && discovery.is_none() {
            return Err(FleetError::File {
                path,
                error: FileError::NoClusters,
            });
        }
        Ok(Fleet {
            members,
            discovery,
            concurrency: usize::from(options.concurrency),
            output: options.output,
        })
    }
}

impl Fleet {
    /// The longest per-request timeout of any cluster (what a pass is bounded by).
    pub fn timeout(&self) -> std::time::Duration {
        self.members
            .iter()
            .map(|m| m.config.timeout)
            .chain(self.discovery.iter().map(|d| d.base.timeout))
            .max()
            .unwrap_or_default()
    }

    /// Every configuration of the fleet (the discovered clusters' base included).
    pub fn configs(&self) -> impl Iterator<Item = &SyncConfig> {
        self.members
            .iter()
            .map(|m| &m.config)
            .chain(self.discovery.iter().map(|d| &d.base))
    }
}

fn read(path: &Path) -> Result<String, FleetError> {
    std::fs::read_to_string(path).map_err(|e| FleetError::Read {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// One cluster of the file: defaults, its entry, the command line.
fn member(
    path: &Path,
    defaults: &[Setting],
    entry: &Entry,
    given: &[Given],
) -> Result<Member, FleetError> {
    let origin = format!("{}:{} (cluster {})", path.display(), entry.line, entry.name);
    let mut settings = merged(defaults, &entry.settings);
    if !settings.contains_key("cluster-name") {
        settings.insert(
            "cluster-name".into(),
            Setting {
                key: "cluster-name".into(),
                value: Value::One(entry.name.clone()),
                line: entry.line,
            },
        );
    }
    if !matches!(settings.get("store"), Some(s) if matches!(s.value, Value::One(_))) {
        return Err(FleetError::NoStore {
            origin,
            name: entry.name.clone(),
        });
    }
    let config = parse(path, &settings, given, &origin)?;
    Ok(Member {
        name: entry.name.clone(),
        origin: format!("{}:{}", path.display(), entry.line),
        config,
        kubeconfig: match &entry.kubeconfig_secret {
            Some(secret) => KubeconfigFrom::Secret(secret.clone()),
            None => KubeconfigFrom::Options,
        },
    })
}

/// `--fleet-from`: the options every discovered cluster takes, checked once with a store and
/// an issuer rendered for an example cluster.
fn discovery(
    options: &FleetOptions,
    raw: &str,
    path: &Path,
    defaults: &[Setting],
    given: &[Given],
) -> Result<Discovery, FleetError> {
    let namespace = match raw.split_once('=') {
        None if raw == "cluster-api" => None,
        Some(("cluster-api", ns)) if !ns.is_empty() => Some(ns.to_owned()),
        _ => return Err(FleetError::FleetFrom(raw.to_owned())),
    };
    let raw_store = options
        .store_template
        .as_deref()
        .expect("clap requires --store-template with --fleet-from");
    let store_template = Template::parse("--store-template", raw_store)?;
    let issuer_template = options
        .issuer_template
        .as_deref()
        .map(|raw| Template::parse("--issuer-template", raw))
        .transpose()?;
    let example = |template: &Template| template.render("namespace", "cluster");
    let mut settings = merged(defaults, &[]);
    let mut add = |key: &str, value: String| {
        settings.insert(
            key.into(),
            Setting {
                key: key.into(),
                value: Value::One(value),
                line: 0,
            },
        );
    };
    add("store", example(&store_template));
    if let Some(issuer) = &issuer_template {
        add("issuer", example(issuer));
    }
    let origin = "--fleet-from cluster-api (with the file's defaults)".to_owned();
    let base = parse(path, &settings, given, &origin)?;
    Ok(Discovery {
        namespace,
        store_template,
        issuer_template,
        base,
    })
}

/// The defaults, overridden key by key by a cluster's settings (`key: ~` removes a default).
fn merged(defaults: &[Setting], own: &[Setting]) -> BTreeMap<String, Setting> {
    let mut settings: BTreeMap<String, Setting> = BTreeMap::new();
    for setting in defaults.iter().chain(own) {
        settings.insert(setting.key.clone(), setting.clone());
    }
    settings.retain(|_, s| s.value != Value::Unset);
    settings
}

/// An option the command line (or its environment variable) set: it applies to every cluster.
#[derive(Clone, Debug)]
struct Given {
    long: String,
    /// The arguments that say it again (`--no-iam`, or `--audience=a`, `--audience=b`).
    args: Vec<OsString>,
}

/// Every `sync` option the command line or the environment set, as arguments.
fn command_line(matches: &ArgMatches) -> Result<Vec<Given>, FleetError> {
    let command = sync_command();
    let mut given = Vec::new();
    for arg in command.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        if arg.is_global_set() || WHOLE_RUN.contains(&long) || long == "help" {
            continue;
        }
        let set = matches!(matches.try_get_raw(id), Ok(Some(_)))
            && matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
        if !set {
            continue;
        }
        if ONE_CLUSTER.contains(&long) {
            return Err(FleetError::OneCluster { long: long.into() });
        }
        let args = if arg.get_action().takes_values() {
            matches
                .get_raw(id)
                .into_iter()
                .flatten()
                .map(|value| {
                    let mut arg = OsString::from(format!("--{long}="));
                    arg.push(value);
                    arg
                })
                .collect()
        } else if matches.get_flag(id) {
            vec![OsString::from(format!("--{long}"))]
        } else {
            Vec::new()
        };
        given.push(Given {
            long: long.into(),
            args,
        });
    }
    Ok(given)
}

/// One cluster's settings and the command line, written out as a `sync` command line and
/// parsed and validated as one.
fn parse(
    path: &Path,
    settings: &BTreeMap<String, Setting>,
    given: &[Given],
    origin: &str,
) -> Result<SyncConfig, FleetError> {
    let command = sync_command();
    let mut argv: Vec<OsString> = vec!["kube-oidc-publisher".into(), "sync".into()];
    for setting in settings.values() {
        if given.iter().any(|g| g.long == setting.key) {
            continue;
        }
        let at = || format!("{}:{}", path.display(), setting.line);
        argv.extend(arguments(&command, setting, at)?);
    }
    for option in given {
        argv.extend(option.args.iter().cloned());
    }
    let option_error = |message: String| {
        let line = settings
            .values()
            .find(|s| s.line > 0 && mentions(&message, &s.key))
            .map(|s| format!("{}:{} (", path.display(), s.line));
        FleetError::Option {
            origin: match line {
                Some(at) => format!("{at}{})", origin_cluster(origin)),
                None => origin.to_owned(),
            },
            message,
        }
    };
    sync_config_from_argv(argv).map_err(|e| {
        option_error(match e {
            ArgvError::Usage(message) => message,
            ArgvError::Config(e) => config_message(&e),
        })
    })
}

/// `cluster prod-1` out of `fleet.yaml:12 (cluster prod-1)`.
fn origin_cluster(origin: &str) -> &str {
    origin
        .rsplit_once(" (")
        .map(|(_, cluster)| cluster.trim_end_matches(')'))
        .unwrap_or(origin)
}

/// Whether a message is about `--key`.
fn mentions(message: &str, key: &str) -> bool {
    let flag = format!("--{key}");
    message.match_indices(&flag).any(|(at, _)| {
        !message[at + flag.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// A configuration error as `sync` prints it (with its cause, as `{:#}` would).
fn config_message(error: &ConfigError) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// One setting as `sync` arguments.
fn arguments(
    command: &clap::Command,
    setting: &Setting,
    at: impl Fn() -> String,
) -> Result<Vec<OsString>, FleetError> {
    let key = setting.key.as_str();
    if WHOLE_RUN.contains(&key) {
        return Err(FleetError::WholeRun {
            origin: at(),
            key: key.into(),
        });
    }
    let Some(arg) = command
        .get_arguments()
        .find(|a| a.get_long() == Some(key) && !a.is_global_set() && key != "help")
    else {
        return Err(FleetError::UnknownKey {
            origin: at(),
            key: key.into(),
        });
    };
    let takes_values = arg.get_action().takes_values();
    let many = matches!(arg.get_action(), clap::ArgAction::Append);
    let option = |value: &str| OsString::from(format!("--{key}={value}"));
    Ok(match (&setting.value, takes_values) {
        (Value::Switch(true), false) => vec![OsString::from(format!("--{key}"))],
        (Value::Switch(false), false) | (Value::Unset, _) => Vec::new(),
        (Value::One(_) | Value::Many(_), false) => {
            return Err(FleetError::NotASwitch {
                origin: at(),
                key: key.into(),
            })
        }
        (Value::Switch(_), true) => {
            return Err(FleetError::NotAValue {
                origin: at(),
                key: key.into(),
            })
        }
        (Value::One(value), true) => vec![option(value)],
        (Value::Many(values), true) if many => values.iter().map(|v| option(v)).collect(),
        (Value::Many(_), true) => {
            return Err(FleetError::NotAList {
                origin: at(),
                key: key.into(),
            })
        }
        (Value::Map(_), _) => unreachable!("the fleet file refuses mappings as option values"),
    })
}

impl Discovery {
    /// The configuration of one discovered cluster: the base with its own store, issuer and
    /// cluster tag.
    pub fn config_for(
        &self,
        name: &str,
        store: &str,
        issuer: Option<&str>,
    ) -> Result<SyncConfig, ConfigError> {
        let mut config = self.base.clone();
        let (location, issuer) = super::store_and_issuer(store, issuer)?;
        config.store = location;
        config.issuer = issuer;
        if let Some(iam) = &mut config.iam {
            iam.cluster_name = Some(name.to_owned());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
