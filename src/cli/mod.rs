//! Every flag, in one clap definition. Each option has a one-line help, a longer `--help`
//! text, and an environment-variable twin `KUBE_OIDC_PUBLISHER_<NAME>`. Turning these into a
//! validated `Config` happens in `config`, without I/O.
//!
//! Here: the command tree (`Cli`, `Command`) with its top-level help, and the two small
//! commands that print the tree itself (`completions`, `man`). Each other command family's
//! options are in the file named after it, as in `commands/`; an option that several commands
//! take is defined once, in `groups`, and flattened into each of them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::telemetry::LogFormat;

mod bootstrap;
mod doctor;
mod groups;
mod issuer;
mod rotate;
mod sync;
mod thumbprint;
mod trust_policy;

pub use bootstrap::BootstrapArgs;
use bootstrap::BOOTSTRAP_LONG_ABOUT;
pub use doctor::DoctorArgs;
use doctor::DOCTOR_LONG_ABOUT;
pub use groups::*;
use issuer::ISSUER_LONG_ABOUT;
pub use issuer::{FinishArgs, IssuerCommand, IssuerStatusArgs, PrepareArgs, TokenLifetime};
pub use rotate::{RevokeArgs, RotateCommand, StageArgs, StatusArgs};
pub use sync::{FleetArgs, PublishArgs, RunArgs, SyncArgs};
use sync::{RUN_LONG_ABOUT, SYNC_LONG_ABOUT};
pub use thumbprint::ThumbprintArgs;
use thumbprint::THUMBPRINT_LONG_ABOUT;
pub use trust_policy::TrustPolicyArgs;
use trust_policy::TRUST_POLICY_LONG_ABOUT;

const ABOUT: &str = "Publish a self-managed Kubernetes cluster's OIDC discovery documents so AWS IAM Roles for Service Accounts work without stored keys";

const LONG_ABOUT: &str = "\
Publish a self-managed Kubernetes cluster's OIDC discovery documents so that AWS STS can verify
its service-account tokens (IAM Roles for Service Accounts, IRSA) on clusters that are not EKS.

The store location is the issuer root: `sync` writes `openid/v1/jwks` and
`.well-known/openid-configuration` under it, exactly what STS fetches.

Exit codes: 0 done or nothing to do, 1 drift found by --check, 2 error.";

#[derive(Debug, Parser)]
#[command(name = "kube-oidc-publisher", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "KUBE_OIDC_PUBLISHER_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish the JWKS and discovery document and reconcile the IAM provider, once.
    #[command(long_about = SYNC_LONG_ABOUT)]
    Sync(Box<SyncArgs>),
    /// Keep publishing: sync every --interval, serve /healthz, /readyz and /metrics.
    #[command(long_about = RUN_LONG_ABOUT)]
    Run(Box<RunArgs>),
    /// Print the IAM OIDC thumbprint of an HTTPS host, computed from a verified chain.
    #[command(long_about = THUMBPRINT_LONG_ABOUT)]
    Thumbprint(ThumbprintArgs),
    /// Print the IAM role trust policy that lets one ServiceAccount assume a role.
    #[command(long_about = TRUST_POLICY_LONG_ABOUT)]
    TrustPolicy(TrustPolicyArgs),
    /// Signing-key rotation: publish a new key (stage), where each key stands (status), or
    /// remove one at once (revoke).
    #[command(subcommand)]
    Rotate(RotateCommand),
    /// Move the cluster to a new issuer: prepare, (switch the API server), status, finish.
    #[command(subcommand, long_about = ISSUER_LONG_ABOUT)]
    Issuer(IssuerCommand),
    /// Set up AWS once: bucket, public-read policy, documents, OIDC provider, publisher role.
    #[command(long_about = BOOTSTRAP_LONG_ABOUT)]
    Bootstrap(Box<BootstrapArgs>),
    /// Check the whole IRSA chain the way STS walks it; name each STS error before it happens.
    #[command(long_about = DOCTOR_LONG_ABOUT)]
    Doctor(Box<DoctorArgs>),
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish.
    #[command(long_about = COMPLETIONS_LONG_ABOUT)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    #[command(long_about = MAN_LONG_ABOUT)]
    Man(ManArgs),
}

const COMPLETIONS_LONG_ABOUT: &str = "\
Print the shell completion script for SHELL on stdout, generated from this binary's own
definitions of every command and option (so it always matches the installed version).

Examples:
  # bash: for the current shell, or for every new one
  source <(kube-oidc-publisher completions bash)
  kube-oidc-publisher completions bash > ~/.local/share/bash-completion/completions/kube-oidc-publisher

  # zsh: a directory on $fpath
  kube-oidc-publisher completions zsh > ~/.zfunc/_kube-oidc-publisher

  # fish
  kube-oidc-publisher completions fish > ~/.config/fish/completions/kube-oidc-publisher.fish

  # PowerShell: add to $PROFILE
  kube-oidc-publisher completions powershell | Out-String | Invoke-Expression";

/// `completions SHELL`.
#[derive(Clone, Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

const MAN_LONG_ABOUT: &str = "\
Print the man page of kube-oidc-publisher (roff) on stdout, generated from this binary's own
definitions of every command and option. With --out-dir, write one page per command instead:
kube-oidc-publisher.1, kube-oidc-publisher-sync.1, kube-oidc-publisher-rotate-stage.1, ...

Examples:
  kube-oidc-publisher man | man -l -
  kube-oidc-publisher man --out-dir ~/.local/share/man/man1 && man kube-oidc-publisher-sync";

/// `man [--out-dir DIR]`.
#[derive(Clone, Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (section 1) into this directory instead of printing one.
    #[arg(long, value_name = "DIR", env = "KUBE_OIDC_PUBLISHER_OUT_DIR")]
    pub out_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// docs/cli.md promises every option an environment twin named after it: walk every
    /// command of the clap tree and hold each option to that rule.
    #[test]
    fn every_option_has_the_environment_twin_named_after_it() {
        fn walk(command: &clap::Command, path: &str, wrong: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if arg.is_positional() || long == "help" || long == "version" {
                    continue;
                }
                let expected = format!(
                    "KUBE_OIDC_PUBLISHER_{}",
                    long.to_uppercase().replace('-', "_")
                );
                let actual = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                if actual.as_deref() != Some(expected.as_str()) {
                    wrong.push(format!("{path} --{long}: {actual:?}, expected {expected}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), wrong);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut wrong = Vec::new();
        walk(&command, "kube-oidc-publisher", &mut wrong);
        assert!(
            wrong.is_empty(),
            "options without their twin:\n{}",
            wrong.join("\n")
        );
    }
}
