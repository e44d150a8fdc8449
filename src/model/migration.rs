//! Moving a cluster from one issuer to another (`issuer prepare | status | finish`, docs/issuer-
//! migration.md): the record kept in both stores' state objects, the trust-policy edits, which
//! step the migration is at, and when the old issuer may go. Pure: text and times in, text and
//! decisions out; nothing here reads the clock or talks to AWS.
//!
//! Trust policies are edited as text, not re-rendered: a role's owner may have formatted it by
//! hand or added statements of their own, and those must come back byte for byte. Only the
//! statements this tool adds (at `prepare`) or removes (at `finish`) change, and the array
//! around them loses or gains exactly one comma.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// IAM's clock skew past a token's `exp` (PROTOCOL.md §5).
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The default longest token lifetime: the pod-identity webhook requests 86400 s tokens.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// One issuer of a migration: its URL and the store that publishes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub issuer: String,
    pub store: String,
}

/// A migration, as recorded in both stores' state objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    pub old: Side,
    pub new: Side,
    #[serde(with = "time::serde::rfc3339")]
    pub prepared_at: OffsetDateTime,
    /// The first time a sync saw the API server sign with the new issuer.
    #[serde(with = "time::serde::rfc3339::option")]
    pub switched_at: Option<OffsetDateTime>,
    /// The roles whose trust policy `prepare` extended (or found already extended).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// One of the two sides of a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    Old,
    New,
}

impl Which {
    pub fn as_str(self) -> &'static str {
        match self {
            Which::Old => "old",
            Which::New => "new",
        }
    }

    pub fn other(self) -> Which {
        match self {
            Which::Old => Which::New,
            Which::New => Which::Old,
        }
    }
}

/// Whether pods need one side of a migration (its documents, its provider, a role's trust in
/// it), and since or until when: what makes a gap on that side an error now, a warning for a
/// later step, or harmless.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// Tokens of this side are in use now; `why` says which and until when.
    Now { why: String },
    /// Not yet: pods need it from the API server's switch (step 2) on.
    Later { why: String },
    /// No more: every token of the old side has expired.
    NoLonger { why: String },
}

/// Whether pods need side `which` now, later or no more: the old side until every token it
/// issued has expired ([`finish_at`]), the new side from the moment the API server signs with
/// it (recorded or not yet recorded by a sync). `api_issuer` is the issuer the API server signs
/// with, when known; `token_side`, the side of a token in hand (which needs its side now).
pub fn need(
    migration: &Migration,
    which: Which,
    now: OffsetDateTime,
    token_lifetime: Duration,
    api_issuer: Option<&str>,
    token_side: Option<Which>,
) -> Need {
    let fmt = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string())
    };
    let signs = |w: Which| api_issuer == Some(migration.side(w).issuer.as_str());
    if signs(which) {
        return Need::Now {
            why: "the API server signs every new token with it".into(),
        };
    }
    let by_step = match (which, step(Some(migration), now, token_lifetime)) {
        (Which::Old, Step::Prepared | Step::NotPrepared) if signs(Which::New) => Need::Now {
            why: "the API server has switched to the new issuer, but no sync has recorded when: tokens of the old one stay alive until --token-lifetime + 5 min after the switch (run sync to record it)".into(),
        },
        (Which::Old, Step::Prepared | Step::NotPrepared) => Need::Now {
            why: "the API server signs every token with it until step 2".into(),
        },
        (Which::Old, Step::Switched { finish_at }) => Need::Now {
            why: format!(
                "tokens it issued before the switch ({}) may be alive until {} (--token-lifetime + 5 min IAM clock skew)",
                migration.switched_at.map(fmt).unwrap_or_default(),
                fmt(finish_at)
            ),
        },
        (Which::Old, Step::ReadyToFinish { finish_at }) => Need::NoLonger {
            why: format!(
                "every token it issued has expired (since {}): `issuer finish` may remove it",
                fmt(finish_at)
            ),
        },
        (Which::New, Step::Prepared | Step::NotPrepared) => Need::Later {
            why: "from step 2, when the API server signs with it: at once for pods started after the switch, and for every other pod as kubelet refreshes its token".into(),
        },
        (Which::New, Step::Switched { .. } | Step::ReadyToFinish { .. }) => Need::Now {
            why: format!(
                "the API server signs every new token with it (since {})",
                migration.switched_at.map(fmt).unwrap_or_default()
            ),
        },
    };
    match by_step {
        // A token of this side in hand needs it, whatever the step says.
        Need::Later { .. } | Need::NoLonger { .. } if token_side == Some(which) => Need::Now {
            why: format!(
                "the token given carries iss {}",
                migration.side(which).issuer
            ),
        },
        by_step => by_step,
    }
}

impl Migration {
    /// One side of the migration.
    pub fn side(&self, which: Which) -> &Side {
        match which {
            Which::Old => &self.old,
            Which::New => &self.new,
        }
    }

    /// Which side `issuer` is, if either.
    pub fn which(&self, issuer: &str) -> Option<Which> {
        if issuer == self.old.issuer {
            Some(Which::Old)
        } else if issuer == self.new.issuer {
            Some(Which::New)
        } else {
            None
        }
    }

    /// The side a store that publishes `issuer` does not publish.
    pub fn other(&self, issuer: &str) -> Option<&Side> {
        if issuer == self.old.issuer {
            Some(&self.new)
        } else if issuer == self.new.issuer {
            Some(&self.old)
        } else {
            None
        }
    }

    /// Whether the API server may sign with `api_issuer` while this migration runs.
    pub fn accepts_api_issuer(&self, api_issuer: &str) -> bool {
        api_issuer == self.old.issuer || api_issuer == self.new.issuer
    }
}

/// What a command asks of the recorded migration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MigrationRequest {
    /// Keep what is recorded (every `sync`).
    #[default]
    Keep,
    /// Record this migration (`issuer prepare`); an earlier record of the same two sides
    /// keeps its `prepared_at` and `switched_at`, and its roles are added to.
    Record(Migration),
    /// Forget the migration (`issuer finish`).
    Clear,
}

/// The record to write next: `recorded` as the request changes it, with `switched_at` set the
/// first time the API server signs with the new issuer.
pub fn next_record(
    recorded: Option<&Migration>,
    request: &MigrationRequest,
    api_issuer: Option<&str>,
    now: OffsetDateTime,
) -> Option<Migration> {
    let mut next = match request {
        MigrationRequest::Keep => recorded.cloned(),
        MigrationRequest::Clear => None,
        MigrationRequest::Record(asked) => Some(match recorded {
            Some(r) if r.old == asked.old && r.new == asked.new => {
                let mut merged = r.clone();
                for role in &asked.roles {
                    if !merged.roles.contains(role) {
                        merged.roles.push(role.clone());
                    }
                }
                merged
            }
            _ => asked.clone(),
        }),
    }?;
    if next.switched_at.is_none() && api_issuer == Some(next.new.issuer.as_str()) {
        next.switched_at = Some(now);
    }
    Some(next)
}

/// Where a migration stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Nothing is recorded: run `issuer prepare`.
    NotPrepared,
    /// Prepared; the API server still signs with the old issuer: change its flags.
    Prepared,
    /// The API server signs with the new issuer; tokens of the old one may still be alive.
    Switched {
        #[serde(with = "time::serde::rfc3339")]
        finish_at: OffsetDateTime,
    },
    /// Every old token has expired: `issuer finish` may run.
    ReadyToFinish {
        #[serde(with = "time::serde::rfc3339")]
        finish_at: OffsetDateTime,
    },
}

/// When the old issuer may go: the switch plus the longest token lifetime plus IAM's skew.
pub fn finish_at(switched_at: OffsetDateTime, token_lifetime: Duration) -> OffsetDateTime {
    switched_at + token_lifetime + CLOCK_SKEW
}

/// The step a migration is at, from what is recorded and the time.
pub fn step(recorded: Option<&Migration>, now: OffsetDateTime, token_lifetime: Duration) -> Step {
    match recorded {
        None => Step::NotPrepared,
        Some(Migration {
            switched_at: None, ..
        }) => Step::Prepared,
        Some(Migration {
            switched_at: Some(at),
            ..
        }) => {
            let finish_at = finish_at(*at, token_lifetime);
            if now >= finish_at {
                Step::ReadyToFinish { finish_at }
            } else {
                Step::Switched { finish_at }
            }
        }
    }
}

/// Why a trust policy cannot be edited.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustEditError {
    #[error("its trust policy is not a JSON object with a Statement list ({0}); fix it by hand, or leave the role out (--role names only the roles to extend)")]
    Shape(String),
}

/// The two providers of a migration, as trust policies name them: each provider's
/// `<host>/<path>` (the issuer without `https://`, the prefix of the condition keys).
#[derive(Clone, Copy, Debug)]
pub struct Providers<'a> {
    pub old_host_path: &'a str,
    pub new_host_path: &'a str,
}

fn federated(statement: &Value) -> Vec<&str> {
    match statement.get("Principal").and_then(|p| p.get("Federated")) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn names_provider(statement: &Value, host_path: &str) -> bool {
    let suffix = format!(":oidc-provider/{host_path}");
    federated(statement)
        .iter()
        .any(|arn| arn.ends_with(&suffix))
}

/// Whether any statement of a policy trusts the provider of `host_path`.
pub fn trusts(policy: &str, host_path: &str) -> Result<bool, TrustEditError> {
    let parsed = Statements::parse(policy)?;
    Ok(parsed
        .values
        .iter()
        .any(|statement| names_provider(statement, host_path)))
}

/// The statement for the new provider that mirrors one trusting the old provider: the
/// principal's ARN and every condition key re-keyed from the old `<host/path>:` to the new one,
/// the Sid (if any) suffixed so the policy's Sids stay distinct. `None` if the statement names
/// the old provider only among several principals (rewriting those is left to the owner).
fn mirror(statement: &Value, p: Providers) -> Option<Value> {
    let old_suffix = format!(":oidc-provider/{}", p.old_host_path);
    let arn = match statement.get("Principal")?.get("Federated")? {
        Value::String(s) => s,
        _ => return None,
    };
    let base = arn.strip_suffix(&old_suffix)?;
    let mut new = statement.clone();
    new["Principal"]["Federated"] =
        Value::String(format!("{base}:oidc-provider/{}", p.new_host_path));
    if let Some(sid) = statement.get("Sid").and_then(Value::as_str) {
        new["Sid"] = Value::String(format!("{sid}NewIssuer"));
    }
    let old_prefix = format!("{}:", p.old_host_path);
    if let Some(Value::Object(operators)) = new.get_mut("Condition") {
        for (_, keys) in operators.iter_mut() {
            if let Value::Object(keys) = keys {
                let renamed: serde_json::Map<String, Value> = std::mem::take(keys)
                    .into_iter()
                    .map(|(key, value)| match key.strip_prefix(&old_prefix) {
                        Some(rest) => (format!("{}:{rest}", p.new_host_path), value),
                        None => (key, value),
                    })
                    .collect();
                *keys = renamed;
            }
        }
    }
    Some(new)
}

/// Equal ignoring the Sid (a statement someone added by hand counts, whatever its Sid).
fn same_but_sid(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Value::Object(map) = &mut v {
            map.remove("Sid");
        }
        v
    };
    strip(a) == strip(b)
}

/// `prepare`'s edit: for each statement that trusts the old provider, a statement for the new
/// one with the same conditions, appended unless an equal one is there already. `Ok(None)`:
/// nothing to add (already extended, or the policy does not trust the old provider). Every
/// byte of the policy outside the appended statements is kept.
pub fn extend(policy: &str, p: Providers) -> Result<Option<String>, TrustEditError> {
    let parsed = Statements::parse(policy)?;
    let mut added: Vec<Value> = Vec::new();
    for statement in &parsed.values {
        if !names_provider(statement, p.old_host_path) {
            continue;
        }
        let Some(new) = mirror(statement, p) else {
            continue;
        };
        let present = parsed
            .values
            .iter()
            .chain(added.iter())
            .any(|s| same_but_sid(s, &new));
        if !present {
            added.push(new);
        }
    }
    if added.is_empty() {
        return Ok(None);
    }
    let texts: Vec<String> = added.iter().map(Value::to_string).collect();
    Ok(Some(parsed.append(policy, &texts)))
}

/// `finish`'s edit: every statement that trusts the old provider is removed, but only where a
/// statement trusting the new provider remains (a role `prepare` did not extend is never left
/// trusting nobody). `Ok(None)`: nothing to remove.
pub fn remove_old(policy: &str, p: Providers) -> Result<Option<String>, TrustEditError> {
    let parsed = Statements::parse(policy)?;
    let keeps_new = parsed
        .values
        .iter()
        .any(|s| names_provider(s, p.new_host_path) && !names_provider(s, p.old_host_path));
    if !keeps_new {
        return Ok(None);
    }
    let drop: Vec<usize> = (0..parsed.values.len())
        .filter(|&i| names_provider(&parsed.values[i], p.old_host_path))
        .collect();
    if drop.is_empty() {
        return Ok(None);
    }
    Ok(Some(parsed.remove(policy, &drop)))
}

/// A line-per-line diff of two policies, `-`/`+` for the lines that differ (enough for the
/// small edits above: appended or removed statements), for `--dry-run`.
pub fn diff(before: &str, after: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = String::new();
    for line in &a[..prefix] {
        out.push_str(&format!("  {line}\n"));
    }
    for line in &a[prefix..a.len() - suffix] {
        out.push_str(&format!("- {line}\n"));
    }
    for line in &b[prefix..b.len() - suffix] {
        out.push_str(&format!("+ {line}\n"));
    }
    for line in &a[a.len() - suffix..] {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// Where the statements of a policy are in its text.
struct Statements {
    values: Vec<Value>,
    /// Byte ranges of each statement's text.
    spans: Vec<(usize, usize)>,
    /// The span of the `Statement` member's value (an array, or a lone object).
    container: (usize, usize),
    is_array: bool,
}

impl Statements {
    fn parse(policy: &str) -> Result<Statements, TrustEditError> {
        let shape = |why: &str| TrustEditError::Shape(why.to_owned());
        let document: Value =
            serde_json::from_str(policy).map_err(|e| TrustEditError::Shape(e.to_string()))?;
        let members = top_level_members(policy).ok_or_else(|| shape("not an object"))?;
        let (_, start, end) = members
            .into_iter()
            .find(|(name, _, _)| name == "Statement")
            .ok_or_else(|| shape("no Statement"))?;
        let (values, spans, is_array) = match &document["Statement"] {
            Value::Array(items) => {
                let spans = element_spans(policy, start).ok_or_else(|| shape("bad array"))?;
                (items.clone(), spans, true)
            }
            object @ Value::Object(_) => (vec![object.clone()], vec![(start, end)], false),
            _ => return Err(shape("Statement is neither a list nor an object")),
        };
        if values.len() != spans.len() {
            return Err(shape("unexpected statement layout"));
        }
        Ok(Statements {
            values,
            spans,
            container: (start, end),
            is_array,
        })
    }

    fn append(&self, policy: &str, texts: &[String]) -> String {
        let (start, end) = self.container;
        let joined = texts.join(",");
        if !self.is_array {
            return format!(
                "{}[{},{joined}]{}",
                &policy[..start],
                &policy[start..end],
                &policy[end..]
            );
        }
        match self.spans.last() {
            // After the last statement, before whatever whitespace closes the array.
            Some(&(_, last_end)) => {
                format!("{},{joined}{}", &policy[..last_end], &policy[last_end..])
            }
            None => format!("{}{joined}{}", &policy[..start + 1], &policy[start + 1..]),
        }
    }

    fn remove(&self, policy: &str, drop: &[usize]) -> String {
        if !self.is_array {
            let (start, end) = self.container;
            return format!("{}[]{}", &policy[..start], &policy[end..]);
        }
        let keep: Vec<usize> = (0..self.spans.len())
            .filter(|i| !drop.contains(i))
            .collect();
        // Cut ranges: a statement before the first kept one goes with the separator after it,
        // any other with the separator before it.
        let first_kept = keep.first().copied().unwrap_or(self.spans.len());
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        for &i in drop {
            let (s, e) = self.spans[i];
            let cut = if i < first_kept {
                (s, self.spans.get(i + 1).map_or(e, |next| next.0))
            } else {
                (self.spans[i - 1].1, e)
            };
            cuts.push(cut);
        }
        if keep.is_empty() {
            let (start, end) = self.container;
            return format!("{}[]{}", &policy[..start], &policy[end..]);
        }
        // Merge overlapping cuts (consecutive dropped statements).
        cuts.sort();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in cuts {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut out = String::new();
        let mut at = 0;
        for (s, e) in merged {
            out.push_str(&policy[at..s]);
            at = e;
        }
        out.push_str(&policy[at..]);
        out
    }
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while i < text.len() && text[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The end (exclusive) of the JSON value starting at `i` (valid JSON assumed: parsed before).
fn value_end(text: &[u8], i: usize) -> Option<usize> {
    match *text.get(i)? {
        b'"' => {
            let mut j = i + 1;
            while j < text.len() {
                match text[j] {
                    b'\\' => j += 2,
                    b'"' => return Some(j + 1),
                    _ => j += 1,
                }
            }
            None
        }
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < text.len() {
                match text[j] {
                    b'"' => {
                        j = value_end(text, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < text.len() && !b",}] \t\r\n".contains(&text[j]) {
                j += 1;
            }
            Some(j)
        }
    }
}

/// The top-level object's members: (name, value start, value end).
fn top_level_members(policy: &str) -> Option<Vec<(String, usize, usize)>> {
    let text = policy.as_bytes();
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut members = Vec::new();
    loop {
        i = skip_ws(text, i);
        match text.get(i)? {
            b'}' => return Some(members),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let name_end = value_end(text, i)?;
        let name: String = serde_json::from_str(&policy[i..name_end]).ok()?;
        i = skip_ws(text, name_end);
        if text.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(text, i + 1);
        let end = value_end(text, start)?;
        members.push((name, start, end));
        i = end;
    }
}

/// The spans of the elements of the array starting at `start`.
fn element_spans(policy: &str, start: usize) -> Option<Vec<(usize, usize)>> {
    let text = policy.as_bytes();
    let mut i = start + 1;
    let mut spans = Vec::new();
    loop {
        i = skip_ws(text, i);
        match text.get(i)? {
            b']' => return Some(spans),
            b',' => i += 1,
            _ => {
                let end = value_end(text, i)?;
                spans.push((i, end));
                i = end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "old.example.com/c1";
    const NEW: &str = "new.example.com/c1";
    const P: Providers = Providers {
        old_host_path: OLD,
        new_host_path: NEW,
    };

    /// A hand-formatted policy with an owner's extra statement between ours.
    const HAND: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "KubernetesServiceAccount",
      "Effect": "Allow",
      "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/old.example.com/c1"},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {"StringEquals": {"old.example.com/c1:sub": "system:serviceaccount:shop:api", "old.example.com/c1:aud": "sts.amazonaws.com"}}
    },
    {   "Sid" : "OwnersOwn",   "Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"  }
  ]
}"#;

    #[test]
    fn extend_appends_a_rekeyed_statement_and_keeps_every_other_byte() {
        let extended = extend(HAND, P).unwrap().expect("one statement to add");
        // Everything before the end of the last statement is the same text.
        let last_end = HAND.rfind('}').unwrap();
        let cut = HAND[..last_end].rfind('}').unwrap() + 1;
        assert!(extended.starts_with(&HAND[..cut]), "{extended}");
        assert!(extended.ends_with(&HAND[cut..]), "{extended}");
        let parsed: Value = serde_json::from_str(&extended).unwrap();
        let added = &parsed["Statement"][2];
        assert_eq!(
            added["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/new.example.com/c1"
        );
        assert_eq!(added["Sid"], "KubernetesServiceAccountNewIssuer");
        let equals = &added["Condition"]["StringEquals"];
        assert_eq!(
            equals["new.example.com/c1:sub"],
            "system:serviceaccount:shop:api"
        );
        assert_eq!(equals["new.example.com/c1:aud"], "sts.amazonaws.com");
        assert!(equals.get("old.example.com/c1:sub").is_none());
        // Idempotent: a second extension adds nothing.
        assert_eq!(extend(&extended, P).unwrap(), None);
        assert!(trusts(&extended, NEW).unwrap() && trusts(&extended, OLD).unwrap());
    }

    #[test]
    fn extend_leaves_a_policy_that_does_not_trust_the_old_provider() {
        let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(extend(other, P).unwrap(), None);
        assert!(!trusts(other, OLD).unwrap());
    }

    #[test]
    fn a_lone_statement_object_becomes_a_list() {
        let lone = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/old.example.com/c1"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"old.example.com/c1:sub":"system:serviceaccount:shop:*"}}}}"#;
        let extended = extend(lone, P).unwrap().unwrap();
        let parsed: Value = serde_json::from_str(&extended).unwrap();
        assert_eq!(parsed["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(
            parsed["Statement"][1]["Condition"]["StringLike"]["new.example.com/c1:sub"],
            "system:serviceaccount:shop:*"
        );
    }

    #[test]
    fn finish_removes_only_the_old_statements_and_keeps_the_rest_byte_for_byte() {
        let extended = extend(HAND, P).unwrap().unwrap();
        let finished = remove_old(&extended, P)
            .unwrap()
            .expect("the old statement goes");
        assert!(!trusts(&finished, OLD).unwrap());
        assert!(trusts(&finished, NEW).unwrap());
        // The owner's statement is there, byte for byte.
        assert!(finished.contains(
            r#"{   "Sid" : "OwnersOwn",   "Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"  }"#
        ));
        let parsed: Value = serde_json::from_str(&finished).unwrap();
        assert_eq!(parsed["Statement"].as_array().unwrap().len(), 2);
        assert_eq!(remove_old(&finished, P).unwrap(), None);
        // A role that trusts only the old provider is never left trusting nobody.
        assert_eq!(remove_old(HAND, P).unwrap(), None);
    }

    #[test]
    fn removing_the_last_or_middle_statement_keeps_valid_json() {
        let three = r#"{"Statement":[{"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/new.example.com/c1"}},{"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/old.example.com/c1"}},{"x":1}],"Version":"2012-10-17"}"#;
        let out = remove_old(three, P).unwrap().unwrap();
        assert_eq!(
            out,
            r#"{"Statement":[{"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/new.example.com/c1"}},{"x":1}],"Version":"2012-10-17"}"#
        );
        let last = r#"{"Statement":[{"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/new.example.com/c1"}}, {"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/old.example.com/c1"}} ]}"#;
        let out = remove_old(last, P).unwrap().unwrap();
        assert_eq!(
            out,
            r#"{"Statement":[{"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/new.example.com/c1"}} ]}"#
        );
        let first = r#"{"Statement":[{"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/old.example.com/c1"}}, {"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/new.example.com/c1"}}]}"#;
        let out = remove_old(first, P).unwrap().unwrap();
        assert_eq!(
            out,
            r#"{"Statement":[{"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/new.example.com/c1"}}]}"#
        );
    }

    #[test]
    fn a_policy_that_is_not_json_is_refused() {
        assert!(extend("not json", P).is_err());
        assert!(extend(r#"{"Version":"2012-10-17"}"#, P).is_err());
    }

    fn t(hours: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_000_000 + hours * 3600).unwrap()
    }

    fn migration(switched_at: Option<OffsetDateTime>) -> Migration {
        Migration {
            old: Side {
                issuer: format!("https://{OLD}"),
                store: "s3://old/c1".into(),
            },
            new: Side {
                issuer: format!("https://{NEW}"),
                store: "s3://new/c1".into(),
            },
            prepared_at: t(0),
            switched_at,
            roles: vec!["app".into()],
        }
    }

    #[test]
    fn the_step_follows_the_record_and_the_clock() {
        let lifetime = DEFAULT_TOKEN_LIFETIME;
        assert_eq!(step(None, t(0), lifetime), Step::NotPrepared);
        assert_eq!(step(Some(&migration(None)), t(5), lifetime), Step::Prepared);
        let switched = migration(Some(t(1)));
        let at = t(25) + CLOCK_SKEW;
        assert_eq!(
            step(Some(&switched), t(25), lifetime),
            Step::Switched { finish_at: at }
        );
        assert_eq!(
            step(Some(&switched), at, lifetime),
            Step::ReadyToFinish { finish_at: at }
        );
    }

    #[test]
    fn each_side_is_needed_now_later_or_no_more_by_step_api_server_and_token() {
        let lifetime = DEFAULT_TOKEN_LIFETIME;
        let (old, new) = (format!("https://{OLD}"), format!("https://{NEW}"));
        let is_now = |n: &Need| matches!(n, Need::Now { .. });
        let prepared = migration(None);
        // Before the switch: the old side now, the new one from step 2.
        assert!(is_now(&need(
            &prepared,
            Which::Old,
            t(2),
            lifetime,
            None,
            None
        )));
        assert!(matches!(
            need(&prepared, Which::New, t(2), lifetime, Some(&old), None),
            Need::Later { .. }
        ));
        // A token of the new issuer in hand, or an API server already signing with it: now.
        assert!(is_now(&need(
            &prepared,
            Which::New,
            t(2),
            lifetime,
            None,
            Some(Which::New)
        )));
        let Need::Now { why } = need(&prepared, Which::Old, t(2), lifetime, Some(&new), None)
        else {
            panic!("the old side is needed until the switch is recorded")
        };
        assert!(why.contains("run sync"), "{why}");
        // Switched at t(1): the old side until t(25) + 5 min, then no more.
        let switched = migration(Some(t(1)));
        let Need::Now { why } = need(&switched, Which::Old, t(3), lifetime, Some(&new), None)
        else {
            panic!("old tokens are alive")
        };
        assert!(why.contains("may be alive until"), "{why}");
        let after = t(25) + CLOCK_SKEW;
        assert!(matches!(
            need(&switched, Which::Old, after, lifetime, Some(&new), None),
            Need::NoLonger { .. }
        ));
        assert!(is_now(&need(
            &switched,
            Which::New,
            after,
            lifetime,
            None,
            None
        )));
        // An API server signing with the old issuer again needs it, whatever the record says.
        assert!(is_now(&need(
            &switched,
            Which::Old,
            after,
            lifetime,
            Some(&old),
            None
        )));
    }

    #[test]
    fn the_switch_is_recorded_once_and_a_second_prepare_keeps_the_record() {
        let new = format!("https://{NEW}");
        let old = format!("https://{OLD}");
        let prepared = migration(None);
        // The API server still signs with the old issuer: nothing changes.
        let kept = next_record(Some(&prepared), &MigrationRequest::Keep, Some(&old), t(2));
        assert_eq!(kept.as_ref(), Some(&prepared));
        let switched = next_record(Some(&prepared), &MigrationRequest::Keep, Some(&new), t(3));
        assert_eq!(switched.as_ref().unwrap().switched_at, Some(t(3)));
        let later = next_record(switched.as_ref(), &MigrationRequest::Keep, Some(&new), t(9));
        assert_eq!(later, switched);
        // prepare again, later, with one more role: the times stay, the role is added.
        let mut again = migration(None);
        again.prepared_at = t(10);
        again.roles = vec!["other".into()];
        let merged = next_record(
            later.as_ref(),
            &MigrationRequest::Record(again),
            Some(&new),
            t(10),
        )
        .unwrap();
        assert_eq!(merged.prepared_at, t(0));
        assert_eq!(merged.switched_at, Some(t(3)));
        assert_eq!(merged.roles, ["app", "other"]);
        assert_eq!(
            next_record(Some(&merged), &MigrationRequest::Clear, Some(&new), t(11)),
            None
        );
    }

    #[test]
    fn diff_marks_the_changed_lines() {
        let d = diff("a\nb\nc", "a\nb2\nc");
        assert_eq!(d, "  a\n- b\n+ b2\n  c\n");
    }
}
