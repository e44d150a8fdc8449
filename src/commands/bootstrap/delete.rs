//! `bootstrap --delete`: validate the flags as bootstrap does, ask the API server which issuer
//! it signs with (refusing while it is this one, unless `--force`), observe this cluster's
//! grant, objects, provider and role, plan ([`crate::bootstrap::delete::plan()`]) and apply
//! unless `--dry-run` or `--check`. Prints one line per item (removed, kept and why, already
//! gone) and a summary; `--output json` prints the same as one object.

use anyhow::Context as _;
use serde::Serialize;

use super::{cluster_name, connect, validate, Aws, Cluster, Validated};
use crate::bootstrap::delete::{self, ApiServerCheck, DeleteChange, DeletePlan, Gone, Kept};
use crate::bootstrap::Effects;
use crate::cli::BootstrapArgs;
use crate::config::{Mode, SyncConfig};
use crate::exit::Exit;
use crate::model::policy;
use crate::model::state::STATE_PATH;
use crate::model::{DISCOVERY_PATH, JWKS_PATH};
use crate::output::OutputFormat;
use crate::source::SourceKind;

pub(super) async fn delete(args: &BootstrapArgs) -> anyhow::Result<Exit> {
    let flags = validate(args)?;
    let Validated { config, bucket, .. } = &flags;
    let Aws {
        region,
        partition,
        issuer,
        effects,
        ..
    } = connect(config, bucket, &flags.prefix).await?;
    // Before anything is read from AWS: an issuer still in use is not removed.
    let answer = api_server_issuer(config).await;
    let api_server = delete::check_api_server(issuer.as_str(), answer, args.force)?;
    let prefix = &flags.prefix;

    let account = effects.account_id().await?;
    let key_prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let target = delete::Target {
        statement: policy::bucket_policy_statement(partition, bucket, prefix)?,
        bucket: bucket.clone(),
        keys: [DISCOVERY_PATH, JWKS_PATH, STATE_PATH]
            .iter()
            .map(|path| format!("{key_prefix}{path}"))
            .collect(),
        provider_arn: policy::provider_arn(partition, &account, &issuer)?,
        provider: config.iam.is_some(),
        role: flags.role.as_ref().map(|(name, _, _)| name.clone()),
        cluster_name: cluster_name(args, &issuer),
    };
    let observed = delete::observe(&effects, &target).await?;
    let plan = delete::plan(&target, &observed)?;
    let writes = match config.mode {
        Mode::Apply => delete::apply(&plan.changes, &effects as &dyn Effects)
            .await
            .with_context(|| format!("removing the cluster of issuer {issuer}"))?,
        Mode::DryRun | Mode::Check => 0,
    };

    let summary = Summary {
        status: match (config.mode, plan.changes.is_empty()) {
            (_, true) => "nothing_to_delete",
            (Mode::Apply, false) => "deleted",
            (Mode::DryRun, false) => "planned",
            (Mode::Check, false) => "drift",
        },
        cluster: Cluster::new(&issuer, &flags.store, &region, &account),
        api_server,
        calls: plan.changes.iter().map(DeleteChange::describe).collect(),
        plan,
        writes,
        bucket_policy_limit_bytes: policy::BUCKET_POLICY_MAX_BYTES,
        mode: config.mode,
    };
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&summary).expect("a summary always serialises")
        ),
        OutputFormat::Text => print!("{}", summary.text()),
    }
    Ok(
        if config.mode == Mode::Check && !summary.plan.changes.is_empty() {
            Exit::Drift
        } else {
            Exit::Ok
        },
    )
}

/// The issuer the API server signs with (its discovery document's), or why it could not be
/// read; `None` with `--source files`, which reads no API server.
async fn api_server_issuer(config: &SyncConfig) -> Option<Result<Option<String>, String>> {
    if config.source == SourceKind::Files {
        return None;
    }
    let source = match crate::publish::kube_source(config).await {
        Ok(source) => source,
        Err(error) => return Some(Err(format!("{error:#}"))),
    };
    use crate::source::KeySource as _;
    Some(
        source
            .fetch()
            .await
            .map(|keys| keys.issuer)
            .map_err(|error| error.to_string()),
    )
}

/// Everything `bootstrap --delete` prints; `--output json` prints exactly this object.
#[derive(Serialize)]
struct Summary {
    /// `deleted`, `nothing_to_delete`, `planned` (--dry-run) or `drift` (--check).
    status: &'static str,
    #[serde(flatten)]
    cluster: Cluster,
    /// Whether the API server still signs for the issuer was checked, or skipped (--force).
    api_server: ApiServerCheck,
    /// Every AWS call that changes something, in order: made (or, in a dry run, to be made).
    calls: Vec<String>,
    /// `changes` (as data), `kept` (item, reason), `gone` (item), and `bucket_policy_bytes`:
    /// the bucket policy's size once the changes are made (0: no policy left).
    #[serde(flatten)]
    plan: DeletePlan,
    writes: usize,
    bucket_policy_limit_bytes: usize,
    #[serde(skip)]
    mode: Mode,
}

impl Summary {
    fn text(&self) -> String {
        let mut out = String::new();
        let pending = !self.plan.changes.is_empty();
        let heading = match (self.mode, pending) {
            (_, false) => "nothing to delete",
            (Mode::Apply, true) => "removed",
            (Mode::DryRun, true) => "plan (dry run, nothing changed)",
            (Mode::Check, true) => "changes pending (--check, nothing changed)",
        };
        out.push_str(&format!(
            "{heading}: the cluster of issuer {} from {} (account {}, {})\n",
            self.cluster.issuer, self.cluster.store, self.cluster.account_id, self.cluster.region
        ));
        let verb = if self.mode == Mode::Apply {
            "removed"
        } else {
            "to remove"
        };
        for call in &self.calls {
            out.push_str(&format!("  {verb}: {call}\n"));
        }
        for Kept { item, reason } in &self.plan.kept {
            out.push_str(&format!("  kept: {item}: {reason}\n"));
        }
        for Gone { item } in &self.plan.gone {
            out.push_str(&format!("  already gone: {item}\n"));
        }
        match &self.api_server {
            ApiServerCheck::Passed { api_server_issuer } => out.push_str(&format!(
                "API server signs with {api_server_issuer}, not this issuer\n"
            )),
            ApiServerCheck::Skipped => out.push_str(
                "warning: --force: skipped the check that the API server no longer signs tokens for this issuer\n",
            ),
        }
        let policy = match self.plan.bucket_policy_bytes {
            0 => "no bucket policy left".to_owned(),
            bytes => format!(
                "bucket policy {bytes} of {} bytes",
                self.bucket_policy_limit_bytes
            ),
        };
        let count = |n: usize, noun: &str| format!("{n} {noun}{}", if n == 1 { "" } else { "s" });
        match self.mode {
            Mode::Apply => out.push_str(&format!(
                "{}, {} kept, {} already gone; {policy}\n",
                count(self.writes, "write"),
                self.plan.kept.len(),
                self.plan.gone.len()
            )),
            Mode::DryRun | Mode::Check => out.push_str(&format!(
                "{} to make, {} kept, {} already gone; {policy} after\n",
                count(self.calls.len(), "AWS call"),
                self.plan.kept.len(),
                self.plan.gone.len()
            )),
        }
        out
    }
}
