//! `issuer.migration`, `jwks.migration`, `iam.migration` and `role.migration`: a move to
//! another issuer recorded in `--store`'s state object (`issuer prepare`). The API server
//! accepts tokens of both issuers while it runs, so pods may carry either `iss`; each side
//! needs its own public documents, its own IAM provider, and the role's trust. The existing
//! checks judge the issuer given; these judge the other side, and a gap there is an error when
//! pods need that side now, a warning when they will at a later step, and harmless once every
//! token of the old issuer has expired ([`need`]). Reported only when a migration is recorded.

use time::OffsetDateTime;

use super::gathered_skip;
use crate::doctor::config::RoleArn;
use crate::doctor::facts::{fetch_problem, Facts, FetchError, Gathered, MigrationFacts, OtherSide};
use crate::doctor::findings::{sts, Finding, Severity};
use crate::doctor::trust;
use crate::model::jwk::parse_jwks;
use crate::model::migration::{need, step, Migration, Need, Step, Which};
use crate::model::thumbprint::rfc3339;
use crate::model::Jwk;

/// The four checks, in catalogue order.
pub const CHECKS: [&str; 4] = [
    "issuer.migration",
    "jwks.migration",
    "iam.migration",
    "role.migration",
];

/// Whether a `*.migration` check is reported: all four when a migration is recorded,
/// `issuer.migration` alone when the record could not be read, none otherwise.
pub fn reported(facts: &Facts, check: &str) -> bool {
    match &facts.migration {
        Gathered::Got(Some(_)) => true,
        Gathered::Failed { .. } => check == "issuer.migration",
        _ => false,
    }
}

/// A recorded migration as seen from the issuer given.
pub(super) struct View<'a> {
    pub facts: &'a MigrationFacts,
    /// The side that is not `--issuer`.
    pub other: &'a OtherSide,
    pub now: OffsetDateTime,
    /// The issuer the API server signs with, when the cluster was read.
    pub api_issuer: Option<&'a str>,
    /// The side of the token in hand, if it is one of the two.
    pub token_side: Option<Which>,
}

impl<'a> View<'a> {
    /// The view, when a migration is recorded and `--issuer` is one of its sides.
    pub fn new(facts: &'a Facts, now: i64, token_iss: Option<&str>) -> Option<View<'a>> {
        let Gathered::Got(Some(m)) = &facts.migration else {
            return None;
        };
        let other = m.other.as_ref()?;
        Some(View {
            facts: m,
            other,
            now: OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            api_issuer: facts.cluster.got().map(|c| c.issuer.as_str()),
            token_side: token_iss.and_then(|iss| m.record.which(iss)),
        })
    }

    pub fn record(&self) -> &'a Migration {
        &self.facts.record
    }

    pub fn issuer(&self, which: Which) -> &'a str {
        &self.record().side(which).issuer
    }

    pub fn need(&self, which: Which) -> Need {
        need(
            self.record(),
            which,
            self.now,
            self.facts.token_lifetime,
            self.api_issuer,
            self.token_side,
        )
    }

    /// "the migration recorded in STORE (OLD → NEW)".
    pub fn described(&self) -> String {
        format!(
            "the migration recorded in {} ({} → {})",
            self.facts.store,
            self.issuer(Which::Old),
            self.issuer(Which::New)
        )
    }

    /// A problem of side `which`, judged by whether pods need that side: an error now, a
    /// warning (with the STS error it will cause) for a later step, ok once no token needs it.
    fn judge(
        &self,
        check: &'static str,
        which: Which,
        sts_error: String,
        problem: String,
        fix: String,
    ) -> Finding {
        let pods = format!("pods whose tokens carry iss {}", self.issuer(which));
        match self.need(which) {
            Need::Now { why } => Finding::error(
                check,
                Some(sts_error),
                format!("{problem}: {pods} fail now ({why})"),
                fix,
            ),
            Need::Later { why } => Finding::warning_risk(
                check,
                &sts_error,
                format!("{problem}: {pods} will fail {why}"),
                format!("before the switch: {fix}"),
            ),
            Need::NoLonger { why } => {
                Finding::ok(check, format!("{problem}, which no longer matters: {why}"))
            }
        }
    }
}

/// The step in words, for `issuer.migration`.
fn step_words(view: &View<'_>) -> String {
    let m = view.record();
    let new = view.issuer(Which::New);
    let signs_new = view.api_issuer == Some(new);
    match step(Some(m), view.now, view.facts.token_lifetime) {
        Step::Prepared if signs_new => format!(
            "the API server signs with {new}, but no sync has recorded the switch yet (run sync)"
        ),
        Step::Prepared | Step::NotPrepared => {
            "prepared, the API server not switched yet (step 2 is next)".to_owned()
        }
        Step::Switched { finish_at } => format!(
            "switched at {}, the old issuer may go at {}",
            m.switched_at.map(fmt).unwrap_or_default(),
            fmt(finish_at)
        ),
        Step::ReadyToFinish { finish_at } => format!(
            "every token of the old issuer has expired (since {}): ready for `issuer finish`",
            fmt(finish_at)
        ),
    }
}

fn fmt(t: OffsetDateTime) -> String {
    rfc3339(t.unix_timestamp())
}

/// `issuer.migration`: the record, which side the issuer given is, the step.
pub(super) fn issuer_migration(facts: &Facts, view: Option<&View<'_>>) -> Finding {
    const CHECK: &str = "issuer.migration";
    let m = match &facts.migration {
        Gathered::Got(Some(m)) => m,
        Gathered::Failed { error } => {
            return Finding::skipped(
                CHECK,
                format!("not checked: whether a migration to another issuer is recorded: {error}"),
                "let doctor read --store's .kube-oidc-publisher/state.json (s3:GetObject) to check both issuers of a migration",
            )
        }
        _ => unreachable!("reported only when a migration is recorded or could not be read"),
    };
    let Some(view) = view else {
        return Finding::warning(
            CHECK,
            format!(
                "{} records a migration from {} to {}, but the issuer {} is neither: the migration checks are skipped",
                m.store, m.record.old.issuer, m.record.new.issuer, facts.issuer
            ),
            format!(
                "pass the --store and --issuer sync runs with: --issuer {} (or {})",
                m.record.old.issuer, m.record.new.issuer
            ),
        );
    };
    let this = view.other.which.other();
    Finding::ok(
        CHECK,
        format!(
            "{}: this issuer is its {} side; {}. A token of either issuer is judged against its own issuer's documents and provider, and the {} issuer is checked in jwks.migration, iam.migration and role.migration",
            view.described(),
            this.as_str(),
            step_words(view),
            view.other.which.as_str()
        ),
    )
}

/// `jwks.migration`: the other issuer's discovery document and JWKS, fetched anonymously as
/// STS fetches them; its usable keys when the JWKS could be read.
pub(super) fn jwks_migration(
    facts: &Facts,
    view: Option<&View<'_>>,
) -> (Finding, Option<Vec<Jwk>>) {
    const CHECK: &str = "jwks.migration";
    let Some(view) = view else {
        return (
            Finding::skipped(
                CHECK,
                "not checked: the issuer is neither side of the recorded migration",
                "fix issuer.migration first",
            ),
            None,
        );
    };
    let which = view.other.which;
    let issuer = view.issuer(which);
    let store = &view.record().side(which).store;
    let fix = format!(
        "run sync: while the migration is recorded, every sync also publishes {store} for {issuer}; and serve {store} publicly at {issuer}"
    );
    let judge =
        |problem: String| view.judge(CHECK, which, sts::NO_KEY.into(), problem, fix.clone());
    let public = &view.other.public;
    let answer = |fetched: &crate::doctor::facts::Fetched| -> Result<Vec<u8>, Finding> {
        match &fetched.result {
            Ok(a) if a.status == 200 => Ok(a.body.clone()),
            Ok(a) => Err(judge(format!("GET {} answered {}", fetched.url, a.status))),
            Err(FetchError::UnknownIssuer { detail }) => Err(Finding::could_not_run(
                CHECK,
                format!(
                    "GET {}: {detail}; pass --ca-file with the CA of a privately signed host",
                    fetched.url
                ),
            )),
            Err(e) => Err(judge(format!("GET {}: {}", fetched.url, fetch_problem(e)))),
        }
    };
    let Some(discovery) = &public.discovery else {
        return (
            judge(format!("{issuer} is not an https URL STS fetches")),
            None,
        );
    };
    let body = match answer(discovery) {
        Ok(body) => body,
        Err(finding) => return (finding, None),
    };
    let named = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|d| d.get("issuer")?.as_str().map(str::to_owned));
    if named.as_deref() != Some(issuer) {
        return (
            judge(format!(
                "the discovery document at {} names issuer {}, not {issuer}",
                discovery.url,
                named.map_or("nothing".to_owned(), |n| format!("{n:?}"))
            )),
            None,
        );
    }
    let Some(jwks) = &public.jwks else {
        return (
            judge(format!(
                "the discovery document at {} names no https jwks_uri",
                discovery.url
            )),
            None,
        );
    };
    let body = match answer(jwks) {
        Ok(body) => body,
        Err(finding) => return (finding, None),
    };
    let keys = match parse_jwks(&body) {
        Ok(parsed) if !parsed.keys.is_empty() => parsed.keys,
        Ok(_) => {
            return (
                judge(format!("the JWKS at {} holds no key STS can use", jwks.url)),
                None,
            )
        }
        Err(e) => {
            return (
                judge(format!("the JWKS at {} is not valid: {e}", jwks.url)),
                None,
            )
        }
    };
    let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
    if let Some(cluster) = facts.cluster.got() {
        let missing: Vec<&str> = cluster
            .kids
            .iter()
            .map(String::as_str)
            .filter(|kid| !kids.contains(kid))
            .collect();
        if !missing.is_empty() {
            let finding = judge(format!(
                "the JWKS at {} lacks {}, which the API server signs with",
                jwks.url,
                missing.join(", ")
            ));
            return (finding, Some(keys));
        }
    }
    (
        Finding::ok(
            CHECK,
            format!(
                "the {} issuer {issuer}'s documents are public: {} names it, and its JWKS holds {}",
                which.as_str(),
                discovery.url,
                kids.join(", ")
            ),
        ),
        Some(keys),
    )
}

/// The account and partition the issuer's provider was looked up in, for an ARN.
fn provider_arn(facts: &Facts, issuer: &str) -> Option<String> {
    let aws = facts.aws.got()?;
    let partition = facts
        .role_arn
        .as_deref()
        .and_then(|r| RoleArn::parse(r).ok())
        .map_or(aws.partition.clone(), |r| r.partition);
    Some(format!(
        "arn:{partition}:iam::{}:oidc-provider/{}",
        aws.provider_account,
        issuer.trim_start_matches("https://")
    ))
}

/// `iam.migration`: the other issuer's IAM provider, with the token's audience.
pub(super) fn iam_migration(
    facts: &Facts,
    view: Option<&View<'_>>,
    audiences: &[String],
) -> Finding {
    const CHECK: &str = "iam.migration";
    let Some(view) = view else {
        return Finding::skipped(
            CHECK,
            "not checked: the issuer is neither side of the recorded migration",
            "fix issuer.migration first",
        );
    };
    if facts.aws.got().is_none() {
        return gathered_skip(CHECK, &facts.aws);
    }
    let provider = match &view.other.provider {
        Gathered::Got(provider) => provider,
        other => return gathered_skip(CHECK, other),
    };
    let which = view.other.which;
    let issuer = view.issuer(which);
    let Some(provider) = provider else {
        let arn = provider_arn(facts, issuer).unwrap_or_default();
        let fix = match which {
            Which::New => format!("run `issuer prepare` again: it creates {arn}"),
            Which::Old => format!(
                "recreate {arn} (sync with the old issuer's --store and --issuer creates it) and keep it until every old token has expired"
            ),
        };
        return view.judge(
            CHECK,
            which,
            sts::no_provider(issuer),
            format!(
                "IAM has no OIDC provider {arn} for the {} issuer",
                which.as_str()
            ),
            fix,
        );
    };
    if !audiences.iter().any(|a| provider.client_ids.contains(a)) {
        let audience = audiences
            .first()
            .map_or("sts.amazonaws.com", String::as_str);
        return view.judge(
            CHECK,
            which,
            sts::INCORRECT_AUDIENCE.into(),
            format!(
                "the {} issuer's provider {} has client IDs {:?}, without the audience {audiences:?}",
                which.as_str(),
                provider.arn,
                provider.client_ids
            ),
            format!(
                "`aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {} --client-id {audience}`",
                provider.arn
            ),
        );
    }
    Finding::ok(
        CHECK,
        format!(
            "{} exists for the {} issuer, its client IDs {:?} contain {audiences:?} (its thumbprints are set by `issuer prepare` and not compared here)",
            provider.arn,
            which.as_str(),
            provider.client_ids
        ),
    )
}

/// `role.migration`: whether the role trusts both sides, and if only one, which pods break
/// at which step. `role` holds the `role.*` findings of the issuer given.
pub(super) fn role_migration(
    facts: &Facts,
    view: Option<&View<'_>>,
    role: &[Finding],
    subject: Option<&str>,
    audiences: &[String],
) -> Finding {
    const CHECK: &str = "role.migration";
    let Some(view) = view else {
        return Finding::skipped(
            CHECK,
            "not checked: the issuer is neither side of the recorded migration",
            "fix issuer.migration first",
        );
    };
    let role_facts = match &facts.role {
        Gathered::Got(role) => role,
        other => return gathered_skip(CHECK, other),
    };
    let Some(policy) = &role_facts.trust_policy else {
        return Finding::skipped(
            CHECK,
            "not checked: the role does not exist",
            "fix role.exists first",
        );
    };
    let Ok(arn) = RoleArn::parse(&role_facts.arn) else {
        return Finding::skipped(CHECK, "not checked: not a role ARN", "fix --role-arn");
    };
    let other = view.other.which;
    let this = other.other();
    let provider_of = |which: Which| {
        format!(
            "arn:{}:iam::{}:oidc-provider/{}",
            arn.partition,
            arn.account,
            view.issuer(which).trim_start_matches("https://")
        )
    };
    // Why a side does not let the pods in: no statement for its provider at all (the usual
    // gap of a migration), or the first error of the statement that comes closest.
    let first_error = |findings: &[Finding], which: Which| {
        findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .map(|f| match f.check {
                "role.principal" => format!("no statement trusts {}", provider_of(which)),
                check => format!("{check}: {}", f.message),
            })
    };
    let this_gap = first_error(role, this);
    let other_issuer = view.issuer(other);
    let host_path = other_issuer.trim_start_matches("https://");
    let other_provider = provider_of(other);
    let other_gap = first_error(
        &trust::analyse(
            policy,
            &trust::Expected {
                provider_arn: &other_provider,
                host_path,
                subject,
                audiences,
            },
        ),
        other,
    );
    let (missing, gap) = match (this_gap, other_gap) {
        (None, None) => {
            return Finding::ok(
                CHECK,
                format!(
                    "{} trusts both issuers' providers ({} and {}): its pods keep working through the switch until `issuer finish`",
                    role_facts.arn,
                    view.issuer(Which::Old),
                    view.issuer(Which::New)
                ),
            )
        }
        (Some(_), Some(_)) => {
            return Finding::skipped(
                CHECK,
                "not checked: the trust policy lets these pods in through neither issuer",
                "fix the role.* errors first",
            )
        }
        (Some(gap), None) => (this, gap),
        (None, Some(gap)) => (other, gap),
    };
    let kept = missing.other();
    let record = view.record();
    let fix = match missing {
        Which::New => format!(
            "extend it: `kube-oidc-publisher issuer prepare --store {} --issuer {} --new-store {} --new-issuer {} --role {}` adds a statement for the new provider with the same conditions",
            record.old.store, record.old.issuer, record.new.store, record.new.issuer, arn.name
        ),
        Which::Old => format!(
            "keep (or restore) a statement for the old provider {} until every old token has expired, and run `issuer finish` (which removes it) only when `issuer status` says so, not with --force",
            provider_of(Which::Old)
        ),
    };
    view.judge(
        CHECK,
        missing,
        sts::ACCESS_DENIED.into(),
        format!(
            "{} trusts the {} issuer {} but not the {} issuer {} ({gap})",
            role_facts.arn,
            kept.as_str(),
            view.issuer(kept),
            missing.as_str(),
            view.issuer(missing)
        ),
        fix,
    )
}
