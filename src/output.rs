//! What a command prints on stdout: one short text summary (one line when nothing changed, for
//! quiet CronJob logs) or one JSON object for scripts. Warnings and errors go to stderr.

use std::ffi::OsString;

use serde_json::json;

use crate::plan::{Change, Mode};
use crate::reconcile::SyncReport;

/// `--output`: a short text summary for people, or one JSON object for scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The `status` field of the JSON result.
pub fn status(report: &SyncReport) -> &'static str {
    match (report.mode, !report.drift()) {
        (_, true) => "in_sync",
        (Mode::Apply, false) => "applied",
        (Mode::DryRun, false) => "planned",
        (Mode::Check, false) => "drift",
    }
}

pub fn print_sync(report: &SyncReport, format: OutputFormat) {
    match format {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(report).expect("a report always serialises");
            value["status"] = json!(status(report));
            println!("{value}");
        }
        OutputFormat::Text => {
            print!("{}", sync_text(report));
            // During a move to another issuer, the other issuer's store too.
            if let Some(also) = &report.also {
                print!("{}", sync_text(also));
            }
        }
    }
}

pub fn sync_text(report: &SyncReport) -> String {
    let keys = format!(
        "{} key{}",
        report.kids.len(),
        if report.kids.len() == 1 { "" } else { "s" }
    );
    let provider_changes: &[Change] = report.provider.as_ref().map_or(&[], |p| &p.changes);
    if !report.drift() {
        let provider = report.provider.as_ref().map_or(String::new(), |p| {
            format!(", IAM provider {} current", p.arn)
        });
        return format!(
            "in sync: {} serves {} for issuer {}{provider} (0 writes)\n",
            report.store, keys, report.issuer
        );
    }
    let mut out = String::new();
    let heading = match report.mode {
        Mode::Apply => "published",
        Mode::DryRun => "plan (dry run, nothing written)",
        Mode::Check => "drift (--check, nothing written)",
    };
    out.push_str(&format!(
        "{heading}: {} for issuer {}, {keys}: {}\n",
        report.store,
        report.issuer,
        report.kids.join(", ")
    ));
    for change in report.plan.changes.iter().chain(provider_changes) {
        out.push_str(&format!("  {}\n", change.describe()));
    }
    if let Some(provider) = &report.provider {
        for drift in &provider.unmanaged_drift {
            out.push_str(&format!(
                "  not managed, left alone: {} would need: {drift}\n",
                provider.arn
            ));
        }
    }
    if report.mode == Mode::Apply {
        out.push_str(&format!(
            "{} write{}\n",
            report.writes,
            if report.writes == 1 { "" } else { "s" }
        ));
    }
    out
}

/// One cluster of a fleet, on one line: its name, then what happened.
pub fn fleet_line(name: &str, result: &anyhow::Result<SyncReport>) -> String {
    let report = match result {
        Err(error) => return format!("{name}: error: {error:#}"),
        Ok(report) => report,
    };
    let keys = format!(
        "{} key{}",
        report.kids.len(),
        if report.kids.len() == 1 { "" } else { "s" }
    );
    if !report.drift() {
        return format!("{name}: in sync: {} serves {keys} (0 writes)", report.store);
    }
    let provider_changes: &[Change] = report.provider.as_ref().map_or(&[], |p| &p.changes);
    let changes: Vec<String> = report
        .plan
        .changes
        .iter()
        .chain(provider_changes)
        .map(Change::describe)
        .collect();
    let heading = match report.mode {
        Mode::Apply => format!(
            "published ({} write{})",
            report.writes,
            if report.writes == 1 { "" } else { "s" }
        ),
        Mode::DryRun => "plan (dry run, nothing written)".into(),
        Mode::Check => "drift (--check, nothing written)".into(),
    };
    format!(
        "{name}: {heading}: {}, {keys}: {}",
        report.store,
        changes.join("; ")
    )
}

/// One cluster of a fleet as a JSON object: `sync`'s, with the cluster's name.
pub fn fleet_object(name: &str, result: &anyhow::Result<SyncReport>) -> serde_json::Value {
    let mut value = match result {
        Ok(report) => {
            let mut value = serde_json::to_value(report).expect("a report always serialises");
            value["status"] = json!(status(report));
            value
        }
        Err(error) => error_object(&format!("{error:#}")),
    };
    value["cluster"] = json!(name);
    value
}

/// The result object of a command that failed, for `--output json`.
pub fn error_object(message: &str) -> serde_json::Value {
    json!({ "status": "error", "error": message })
}

/// Whether `--output json` was asked for, from the raw arguments (the program name first) and
/// `KUBE_OIDC_PUBLISHER_OUTPUT`, for when the arguments do not parse. The last `--output`
/// wins, as in clap; the flag wins over the environment.
pub fn json_requested(args: impl IntoIterator<Item = OsString>, env: Option<OsString>) -> bool {
    let mut args = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    let mut last = None;
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--output" {
            last = args.next();
        } else if let Some(value) = arg.strip_prefix("--output=") {
            last = Some(value.to_owned());
        }
    }
    match last {
        Some(value) => value == "json",
        None => env.is_some_and(|value| value == "json"),
    }
}

/// clap's rendered error without its `error: ` prefix, usage block and `--help` pointer: the
/// problem and any tip, on one line.
pub fn usage_error_message(rendered: &str) -> String {
    rendered
        .split("\n\n")
        .map(str::trim)
        .filter(|p| {
            !p.is_empty() && !p.starts_with("Usage:") && !p.starts_with("For more information")
        })
        .map(|p| p.strip_prefix("error: ").unwrap_or(p))
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        std::iter::once("kube-oidc-publisher")
            .chain(list.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn json_is_requested_by_the_last_output_flag_or_else_the_environment() {
        assert!(json_requested(
            args(&["sync", "--output", "json", "--bogus"]),
            None
        ));
        assert!(json_requested(args(&["sync", "--output=json"]), None));
        assert!(!json_requested(
            args(&["sync", "--output", "json", "--output", "text"]),
            None
        ));
        assert!(!json_requested(args(&["sync", "--bogus"]), None));
        assert!(json_requested(
            args(&["sync", "--bogus"]),
            Some("json".into())
        ));
        assert!(!json_requested(
            args(&["sync", "--output", "text"]),
            Some("json".into())
        ));
        assert!(!json_requested(
            args(&["sync", "--", "--output", "json"]),
            None
        ));
    }

    #[test]
    fn usage_error_message_keeps_the_problem_and_the_tip() {
        let rendered = "error: unexpected argument '--isuer' found\n\n  tip: a similar argument exists: '--issuer'\n\nUsage: kube-oidc-publisher sync --store <s3://BUCKET[/PREFIX] | DIR>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_error_message(rendered),
            "unexpected argument '--isuer' found; tip: a similar argument exists: '--issuer'"
        );
    }
}
