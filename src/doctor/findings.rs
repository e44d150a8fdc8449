//! What `doctor` reports: one [`Finding`] per check, in the order STS walks the chain, the exit
//! code they add up to, and the two renderings (text for people, one JSON object for scripts).
//! Pure: no I/O, no clock.

use serde::Serialize;

/// The exact strings STS answers with (PROTOCOL.md §6). A finding names the one it leads to.
pub mod sts {
    /// `No OpenIDConnect provider found in your account for <iss>`, with the token's issuer.
    pub fn no_provider(iss: &str) -> String {
        format!("InvalidIdentityToken: No OpenIDConnect provider found in your account for {iss}")
    }
    pub const INCORRECT_AUDIENCE: &str = "InvalidIdentityToken: Incorrect token audience";
    pub const ACCESS_DENIED: &str =
        "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity";
    pub const NO_KEY: &str =
        "InvalidIdentityToken: Couldn't retrieve verification key from your identity provider";
    pub const THUMBPRINT: &str = "InvalidIdentityToken: OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint";
    pub const EXPIRED: &str = "ExpiredToken";
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// STS would reject tokens because of this.
    Error,
    /// Works today, but is fragile or wider than it should be.
    Warning,
    Ok,
    /// Not checked: an input is missing, a check it depends on failed, or doctor could not
    /// read what it needed (then `could_not_run` is set).
    Skipped,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Ok => "ok",
            Severity::Skipped => "skipped",
        }
    }
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id, `<area>.<what>` (the catalogue is in docs/troubleshooting.md).
    pub check: &'static str,
    /// Which step of STS's walk it belongs to (1 issuer … 7 role).
    pub step: u8,
    pub severity: Severity,
    /// The STS error this leads to, exactly as STS words it (for a warning: the one it leads
    /// to when the risk materialises); `None` when no STS error would result.
    pub sts_error: Option<String>,
    /// What was found, with the values compared.
    pub message: String,
    /// One line: what to change (or, for a skipped check, what to pass to run it).
    pub fix: Option<String>,
    /// Skipped because doctor itself could not read what the check needs (credentials
    /// refused, API server unreachable, …), not because an input was left out.
    pub could_not_run: bool,
}

impl Finding {
    fn new(check: &'static str, severity: Severity, message: impl Into<String>) -> Finding {
        Finding {
            check,
            step: step_of(check),
            severity,
            sts_error: None,
            message: message.into(),
            fix: None,
            could_not_run: false,
        }
    }

    pub fn ok(check: &'static str, message: impl Into<String>) -> Finding {
        Finding::new(check, Severity::Ok, message)
    }

    pub fn error(
        check: &'static str,
        sts_error: Option<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            sts_error,
            fix: Some(fix.into()),
            ..Finding::new(check, Severity::Error, message)
        }
    }

    pub fn warning(
        check: &'static str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            fix: Some(fix.into()),
            ..Finding::new(check, Severity::Warning, message)
        }
    }

    /// A warning about a risk that shows up as this STS error when it materialises (throttling
    /// after `no-cache`, a slow host on a bad day).
    pub fn warning_risk(
        check: &'static str,
        sts_error: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            sts_error: Some(sts_error.to_owned()),
            ..Finding::warning(check, message, fix)
        }
    }

    /// Not checked because something was not given (or an earlier check failed).
    pub fn skipped(
        check: &'static str,
        message: impl Into<String>,
        pass: impl Into<String>,
    ) -> Finding {
        Finding {
            fix: Some(pass.into()),
            ..Finding::new(check, Severity::Skipped, message)
        }
    }

    /// Not checked because doctor could not read what it needs.
    pub fn could_not_run(check: &'static str, error: impl Into<String>) -> Finding {
        Finding {
            could_not_run: true,
            ..Finding::new(check, Severity::Skipped, error)
        }
    }
}

/// The checks, in the order they are reported, with their step. Every id a finding uses is
/// here; the unit tests check that the pure checks emit exactly these, in this order (the
/// `cloudfront.*` ones only for an issuer served by CloudFront, the `*.migration` ones only
/// while `--store` records a move to another issuer).
pub const CATALOGUE: &[(&str, u8)] = &[
    ("issuer.format", 1),
    ("issuer.api_server", 1),
    ("issuer.migration", 1),
    ("discovery.fetch", 2),
    ("discovery.content_type", 2),
    ("discovery.cache_control", 2),
    ("discovery.document", 2),
    ("jwks.fetch", 3),
    ("jwks.content_type", 3),
    ("jwks.cache_control", 3),
    ("jwks.keys", 3),
    ("jwks.migration", 3),
    ("keys.api_server", 4),
    ("token.kid", 4),
    ("token.signature", 4),
    ("token.issuer", 4),
    ("token.expiry", 4),
    ("iam.provider", 5),
    ("iam.client_ids", 5),
    ("iam.thumbprint", 5),
    ("iam.migration", 5),
    ("s3.public_access_block", 6),
    ("s3.account_public_access_block", 6),
    ("s3.object_ownership", 6),
    ("s3.bucket_policy", 6),
    ("cloudfront.distribution", 6),
    ("cloudfront.dns", 6),
    ("cloudfront.certificate", 6),
    ("cloudfront.origin", 6),
    ("cloudfront.origin_access_control", 6),
    ("cloudfront.bucket_policy", 6),
    ("cloudfront.edge_cache", 6),
    ("role.exists", 7),
    ("role.principal", 7),
    ("role.action", 7),
    ("role.condition_keys", 7),
    ("role.sub", 7),
    ("role.aud", 7),
    ("role.migration", 7),
    ("serviceaccount.annotation", 7),
];

/// The step a check id belongs to (0 for an id not in the catalogue, which tests reject).
pub fn step_of(check: &str) -> u8 {
    CATALOGUE
        .iter()
        .find(|(id, _)| *id == check)
        .map_or(0, |(_, step)| *step)
}

/// The steps' headings in the text report.
pub fn step_title(step: u8) -> &'static str {
    match step {
        1 => "issuer",
        2 => "discovery document (anonymous GET, as STS)",
        3 => "JWKS (anonymous GET, as STS)",
        4 => "signing keys and token",
        5 => "IAM OIDC provider",
        6 => "hosting (S3 store, CloudFront)",
        7 => "role trust policy",
        _ => "other",
    }
}

/// Every finding of one run, and what they add up to.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub issuer: String,
    pub findings: Vec<Finding>,
}

/// What a report means for STS, as the exit code says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found that would make STS reject tokens (exit 0).
    Pass,
    /// Something would make STS reject tokens (exit 1).
    Fail,
    /// Nothing failed, but doctor could not run some checks it was asked to (exit 2).
    Incomplete,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Incomplete => "incomplete",
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Incomplete => 2,
        }
    }
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Errors win: a failure found is a failure even if other checks could not run.
    pub fn verdict(&self) -> Verdict {
        if self.count(Severity::Error) > 0 {
            Verdict::Fail
        } else if self.findings.iter().any(|f| f.could_not_run) {
            Verdict::Incomplete
        } else {
            Verdict::Pass
        }
    }

    pub fn find(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let verdict = self.verdict();
        serde_json::json!({
            "status": verdict.as_str(),
            "exit_code": verdict.exit_code(),
            "issuer": self.issuer,
            "summary": {
                "error": self.count(Severity::Error),
                "warning": self.count(Severity::Warning),
                "ok": self.count(Severity::Ok),
                "skipped": self.count(Severity::Skipped),
            },
            "findings": self.findings,
        })
    }

    /// The text report: findings grouped by step, each error and warning with the STS error
    /// and the fix under it, then one summary line.
    pub fn to_text(&self) -> String {
        let mut out = format!("doctor: issuer {}\n", self.issuer);
        let mut step = 0;
        let mut i = 0;
        while i < self.findings.len() {
            let f = &self.findings[i];
            if f.step != step {
                step = f.step;
                out.push_str(&format!("\n{step}. {}\n", step_title(step)));
            }
            // Skipped checks that share their reason are listed on one line.
            let mut n = 1;
            if f.severity == Severity::Skipped {
                while let Some(next) = self.findings.get(i + n) {
                    let same = next.step == f.step
                        && next.severity == Severity::Skipped
                        && next.message == f.message
                        && next.fix == f.fix;
                    if !same {
                        break;
                    }
                    n += 1;
                }
            }
            let checks: Vec<&str> = self.findings[i..i + n].iter().map(|f| f.check).collect();
            i += checks.len();
            let checks = checks.join(", ");
            if checks.len() > 31 {
                out.push_str(&format!("  {:<8} {checks}\n", f.severity.as_str()));
                out.push_str(&format!("  {:<8} {:<31} {}\n", "", "", f.message));
            } else {
                out.push_str(&format!(
                    "  {:<8} {:<31} {}\n",
                    f.severity.as_str(),
                    checks,
                    f.message
                ));
            }
            if let Some(sts) = &f.sts_error {
                out.push_str(&format!("  {:<8} {:<31} STS: {sts}\n", "", ""));
            }
            if let Some(fix) = &f.fix {
                let label = match (f.severity, f.could_not_run) {
                    (Severity::Skipped, false) => "to run it",
                    _ => "fix",
                };
                out.push_str(&format!("  {:<8} {:<31} {label}: {fix}\n", "", ""));
            }
        }
        let verdict = self.verdict();
        let meaning = match verdict {
            Verdict::Pass if self.count(Severity::Warning) > 0 => {
                "nothing found that makes STS reject tokens; see the warnings"
            }
            Verdict::Pass => "nothing found that makes STS reject tokens",
            Verdict::Fail => "STS would reject tokens: fix the errors above, in order",
            Verdict::Incomplete => {
                "no failure found, but some checks could not run: see the skipped ones"
            }
        };
        out.push_str(&format!(
            "\n{} error{}, {} warning{}, {} ok, {} skipped: {meaning} (exit {})\n",
            self.count(Severity::Error),
            plural(self.count(Severity::Error)),
            self.count(Severity::Warning),
            plural(self.count(Severity::Warning)),
            self.count(Severity::Ok),
            self.count(Severity::Skipped),
            verdict.exit_code()
        ));
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            issuer: "https://oidc.example.test/c1".into(),
            findings,
        }
    }

    #[test]
    fn errors_fail_could_not_run_is_incomplete_skipped_inputs_pass() {
        let ok = Finding::ok("issuer.format", "fine");
        let skipped = Finding::skipped("role.exists", "no role", "pass --role-arn ARN");
        let failed = Finding::could_not_run("iam.provider", "access denied");
        let error = Finding::error("iam.provider", Some(sts::no_provider("x")), "m", "f");
        assert_eq!(
            report(vec![ok.clone(), skipped.clone()]).verdict(),
            Verdict::Pass
        );
        assert_eq!(
            report(vec![ok.clone(), failed.clone()]).verdict(),
            Verdict::Incomplete
        );
        assert_eq!(report(vec![failed, error]).verdict(), Verdict::Fail);
        let warned = report(vec![ok, Finding::warning("role.sub", "wild", "narrow it")]);
        assert_eq!(warned.verdict(), Verdict::Pass);
        assert!(warned.to_text().contains("see the warnings (exit 0)"));
    }

    #[test]
    fn every_catalogued_check_has_a_step_and_a_title() {
        let ids: Vec<&str> = CATALOGUE.iter().map(|(id, _)| *id).collect();
        for id in &ids {
            assert!(step_of(id) >= 1, "{id}");
            assert_ne!(step_title(step_of(id)), "other", "{id}");
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "ids are unique");
        let steps: Vec<u8> = ids.iter().map(|id| step_of(id)).collect();
        assert!(
            steps.windows(2).all(|w| w[0] <= w[1]),
            "catalogue in step order"
        );
        assert_eq!(step_of("nonsense"), 0);
    }

    #[test]
    fn text_report_shows_the_sts_error_and_the_fix_under_the_finding() {
        let text = report(vec![Finding::error(
            "discovery.fetch",
            Some(sts::NO_KEY.into()),
            "GET … answered 403",
            "allow anonymous s3:GetObject",
        )])
        .to_text();
        assert!(text.contains("2. discovery document"), "{text}");
        assert!(
            text.contains("STS: InvalidIdentityToken: Couldn't retrieve verification key"),
            "{text}"
        );
        assert!(text.contains("fix: allow anonymous s3:GetObject"), "{text}");
        assert!(text.ends_with("(exit 1)\n"), "{text}");
        let json = report(vec![]).to_json();
        assert_eq!(json["status"], "pass");
        assert_eq!(json["exit_code"], 0);
    }
}
