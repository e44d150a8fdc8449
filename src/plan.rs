//! The plan: a pure comparison of the documents that should be published with what the store
//! holds now. No I/O and no clock: `reconcile` observes, this decides, `reconcile` applies.
//! A second run with nothing changed must produce an empty plan, which is what makes a no-op
//! `sync` write nothing at all.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::state::{EdgeRecord, State, STATE_PATH};
use crate::model::{Discovery, Issuer, KeySet, DISCOVERY_PATH, JWKS_PATH};

/// What a run does with its plan; decided once, never inside a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Apply,
    DryRun,
    Check,
}

/// The HTTP metadata a published object carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectMeta {
    pub content_type: String,
    pub cache_control: String,
}

/// One document as it should be published, under a key relative to the issuer root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredObject {
    pub key: &'static str,
    pub body: Vec<u8>,
    pub meta: ObjectMeta,
}

/// Everything that should be published, in publishing order: the JWKS before the discovery
/// document, so that a discovery document never points at keys that are not there yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub objects: Vec<DesiredObject>,
}

/// One object as the store holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedObject {
    pub body: Vec<u8>,
    /// The version token that conditional writes compare against (S3 ETag, or a content hash).
    pub etag: Option<String>,
    /// `None` for stores that keep no HTTP metadata (a directory: the web server decides).
    pub meta: Option<ObjectMeta>,
}

/// What the store holds for each desired key (`None`: the object does not exist).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub objects: BTreeMap<String, Option<ObservedObject>>,
}

/// The condition a write depends on, so that two publishers never lose each other's update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "etag", rename_all = "snake_case")]
pub enum Precondition {
    /// The object must still not exist (`If-None-Match: *`).
    IfNoneMatch,
    /// The object must still be the version observed (`If-Match: <etag>`).
    IfMatch(String),
    /// The store could not say which version it holds; write unconditionally.
    None,
}

/// Why an object is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Create,
    ContentChanged,
    MetadataChanged,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Create => "create: not published yet",
            Reason::ContentChanged => "update: content changed",
            Reason::MetadataChanged => "update: Content-Type or Cache-Control changed",
        })
    }
}

/// The tag key that marks an IAM OIDC provider as ours; the tool changes only providers that
/// carry it (others may be Terraform's or eksctl's).
pub const MANAGED_BY_TAG: &str = "kube-oidc-publisher/managed-by";
/// The value of [`MANAGED_BY_TAG`].
pub const MANAGED_BY_VALUE: &str = "kube-oidc-publisher";
/// The tag key naming the cluster a provider serves (`--cluster-name`).
pub const CLUSTER_TAG: &str = "kube-oidc-publisher/cluster";

/// The IAM OIDC provider as it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredProvider {
    /// The issuer without `https://`.
    pub url: String,
    pub client_ids: Vec<String>,
    /// `None`: leave the thumbprints to IAM (`--thumbprint none`).
    pub thumbprints: Option<Vec<String>>,
    /// `--cluster-name`. `None` keeps the cluster tag the provider has (a later `sync` without
    /// the flag must not undo what `bootstrap --cluster-name` set); a provider without one is
    /// tagged with its URL (host/path).
    pub cluster_name: Option<String>,
    /// `--adopt`: take over a provider that lacks our tags.
    pub adopt: bool,
}

impl DesiredProvider {
    /// The tags the provider should carry, given the ones it has (`None`: it does not exist).
    pub fn tags(&self, have: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
        let cluster = self
            .cluster_name
            .clone()
            .or_else(|| have.and_then(|tags| tags.get(CLUSTER_TAG)).cloned())
            .unwrap_or_else(|| self.url.clone());
        BTreeMap::from([
            (MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned()),
            (CLUSTER_TAG.to_owned(), cluster),
        ])
    }
}

/// The provider as IAM holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ObservedProvider {
    pub arn: String,
    /// As IAM returns it: without `https://`.
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl ObservedProvider {
    /// Ours: created by this tool or adopted with `--adopt`.
    pub fn is_managed(&self) -> bool {
        self.tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE)
    }
}

/// What planning the provider found: the changes, and for a provider we do not own, the
/// differences we saw and left alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProviderPlan {
    pub arn: String,
    pub exists: bool,
    pub managed: bool,
    pub changes: Vec<Change>,
    pub unmanaged_drift: Vec<String>,
}

fn sorted_set(values: &[String]) -> BTreeSet<&str> {
    values.iter().map(String::as_str).collect()
}

/// Compares the desired provider with the one IAM holds (`None`: it does not exist).
pub fn plan_provider(
    desired: &DesiredProvider,
    arn: &str,
    observed: Option<&ObservedProvider>,
) -> ProviderPlan {
    let Some(have) = observed else {
        return ProviderPlan {
            arn: arn.into(),
            exists: false,
            managed: false,
            changes: vec![Change::CreateProvider {
                url: desired.url.clone(),
                client_ids: desired.client_ids.clone(),
                thumbprints: desired.thumbprints.clone().unwrap_or_default(),
                tags: desired.tags(None),
            }],
            unmanaged_drift: vec![],
        };
    };
    let managed = have.is_managed();
    let mut changes = Vec::new();
    if let Some(want) = &desired.thumbprints {
        if sorted_set(want) != sorted_set(&have.thumbprints) {
            changes.push(Change::SetThumbprints {
                arn: arn.into(),
                from: have.thumbprints.clone(),
                to: want.clone(),
            });
        }
    }
    let have_ids = sorted_set(&have.client_ids);
    let want_ids = sorted_set(&desired.client_ids);
    for id in want_ids.difference(&have_ids) {
        changes.push(Change::AddClientId {
            arn: arn.into(),
            client_id: (*id).into(),
        });
    }
    for id in have_ids.difference(&want_ids) {
        changes.push(Change::RemoveClientId {
            arn: arn.into(),
            client_id: (*id).into(),
        });
    }
    let tags = desired.tags(Some(&have.tags));
    let tags_differ = tags.iter().any(|(k, v)| have.tags.get(k) != Some(v));
    if !managed && !desired.adopt {
        let unmanaged_drift = changes.iter().map(Change::describe).collect();
        return ProviderPlan {
            arn: arn.into(),
            exists: true,
            managed,
            changes: vec![],
            unmanaged_drift,
        };
    }
    if tags_differ {
        // Adopting records ownership first, so a later failure still leaves it ours to repair.
        changes.insert(
            0,
            Change::TagProvider {
                arn: arn.into(),
                tags,
            },
        );
    }
    ProviderPlan {
        arn: arn.into(),
        exists: true,
        managed,
        changes,
        unmanaged_drift: vec![],
    }
}

/// One change the apply step carries out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    PutObject {
        key: String,
        sha256: String,
        bytes: usize,
        reason: Reason,
        precondition: Precondition,
        #[serde(skip)]
        body: Vec<u8>,
        #[serde(skip)]
        meta: ObjectMeta,
    },
    CreateProvider {
        url: String,
        client_ids: Vec<String>,
        /// Empty: IAM fetches the thumbprint itself.
        thumbprints: Vec<String>,
        tags: BTreeMap<String, String>,
    },
    SetThumbprints {
        arn: String,
        from: Vec<String>,
        to: Vec<String>,
    },
    AddClientId {
        arn: String,
        client_id: String,
    },
    RemoveClientId {
        arn: String,
        client_id: String,
    },
    TagProvider {
        arn: String,
        tags: BTreeMap<String, String>,
    },
    /// Drop the edge's copies of documents just written (`--cloudfront-distribution`), between
    /// the documents and the state that records it ([`plan_behind_edge`]).
    Invalidate {
        distribution: String,
        /// The same for a retried run with the same content, so CloudFront invalidates once.
        caller_reference: String,
        /// Viewer paths: the issuer's path, then the document's key.
        paths: Vec<String>,
    },
}

impl Change {
    /// One line for humans, as `--dry-run` prints it.
    pub fn describe(&self) -> String {
        match self {
            Change::PutObject {
                key,
                sha256,
                bytes,
                reason,
                precondition,
                ..
            } => {
                let condition = match precondition {
                    Precondition::IfNoneMatch => "if absent".to_owned(),
                    Precondition::IfMatch(etag) => format!("if still {etag}"),
                    Precondition::None => "unconditionally".to_owned(),
                };
                format!(
                    "put {key} ({reason}; {bytes} bytes, sha256 {}…, {condition})",
                    &sha256[..12]
                )
            }
            Change::CreateProvider {
                url,
                client_ids,
                thumbprints,
                ..
            } => {
                let thumbprints = if thumbprints.is_empty() {
                    "thumbprint fetched by IAM".to_owned()
                } else {
                    format!("thumbprints {}", thumbprints.join(", "))
                };
                format!(
                    "create IAM OIDC provider https://{url} (client IDs {}; {thumbprints}; tagged)",
                    client_ids.join(", ")
                )
            }
            Change::SetThumbprints { from, to, .. } => {
                format!(
                    "set thumbprints [{}] (were [{}])",
                    to.join(", "),
                    from.join(", ")
                )
            }
            Change::AddClientId { client_id, .. } => format!("add client ID {client_id}"),
            Change::RemoveClientId { client_id, .. } => format!("remove client ID {client_id}"),
            Change::TagProvider { tags, .. } => {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("tag the provider {}", tags.join(", "))
            }
            Change::Invalidate {
                distribution,
                paths,
                ..
            } => format!(
                "invalidate {} on CloudFront distribution {distribution}",
                paths.join(", ")
            ),
        }
    }
}

/// The ordered list of changes; empty when everything is in sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The documents for an issuer and its keys, in publishing order (JWKS first), then the
/// retention state.
pub fn desired(issuer: &Issuer, keys: &KeySet, meta: &ObjectMeta, state: &State) -> Desired {
    Desired {
        objects: vec![
            DesiredObject {
                key: JWKS_PATH,
                body: keys.render(),
                meta: meta.clone(),
            },
            DesiredObject {
                key: DISCOVERY_PATH,
                body: Discovery::new(issuer, keys).render(),
                meta: meta.clone(),
            },
            // Last: it records what the documents above already publish.
            DesiredObject {
                key: STATE_PATH,
                body: state.render(),
                meta: ObjectMeta {
                    content_type: "application/json".into(),
                    cache_control: "no-store".into(),
                },
            },
        ],
    }
}

/// The issuer the store's discovery document names, if it holds a readable one. A missing or
/// unreadable document names none: there is nothing published to move, only to repair.
pub fn published_issuer(observed: &Observed) -> Option<String> {
    let body = &observed.objects.get(DISCOVERY_PATH)?.as_ref()?.body;
    let document: serde_json::Value = serde_json::from_slice(body).ok()?;
    document.get("issuer")?.as_str().map(str::to_owned)
}

/// The published issuer and the one a run asks for, when they differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuerChange {
    pub published: String,
    pub requested: String,
}

/// Whether a run may publish `requested` over what the store holds. Moving a published issuer
/// breaks every token whose `iss` is the old one (STS fetches that issuer's discovery document
/// and finds another issuer in it), so it happens only when `allow` (`--allow-issuer-change`)
/// says so: `Ok(Some(change))` then, `Err(change)` otherwise, `Ok(None)` when nothing moves.
pub fn check_issuer_change(
    requested: &Issuer,
    observed: &Observed,
    allow: bool,
) -> Result<Option<IssuerChange>, IssuerChange> {
    match published_issuer(observed) {
        Some(published) if published != requested.as_str() => {
            let change = IssuerChange {
                published,
                requested: requested.to_string(),
            };
            if allow {
                Ok(Some(change))
            } else {
                Err(change)
            }
        }
        _ => Ok(None),
    }
}

/// A bucket in another Region than the one the issuer derived from it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionMismatch {
    pub expected: String,
    pub actual: String,
}

/// Whether the store is in the Region an issuer derived from the bucket names
/// (`https://BUCKET.s3.REGION…`): in any other, STS could not fetch what is published. A store
/// that does not say (`None`) cannot be checked.
pub fn check_region(expected: &str, reported: Option<&str>) -> Result<(), RegionMismatch> {
    match reported {
        Some(actual) if actual != expected => Err(RegionMismatch {
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Hex SHA-256 of a body, as plans show it.
pub fn sha256_hex(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares desired with observed. Objects are written in `desired` order.
pub fn plan(desired: &Desired, observed: &Observed) -> Plan {
    let changes = desired
        .objects
        .iter()
        .filter_map(|want| {
            let have = observed.objects.get(want.key).and_then(Option::as_ref);
            let (reason, precondition) = match have {
                None => (Reason::Create, Precondition::IfNoneMatch),
                Some(have) => {
                    let reason = if have.body != want.body {
                        Reason::ContentChanged
                    } else if have.meta.as_ref().is_some_and(|meta| *meta != want.meta) {
                        Reason::MetadataChanged
                    } else {
                        return None;
                    };
                    let precondition = have
                        .etag
                        .clone()
                        .map_or(Precondition::None, Precondition::IfMatch);
                    (reason, precondition)
                }
            };
            Some(Change::PutObject {
                key: want.key.to_owned(),
                sha256: sha256_hex(&want.body),
                bytes: want.body.len(),
                reason,
                precondition,
                body: want.body.clone(),
                meta: want.meta.clone(),
            })
        })
        .collect();
    Plan { changes }
}

/// What identifies one version of a document at the edge: its body and the HTTP metadata the
/// edge serves with it (a new `Cache-Control` is stale there too).
pub fn edge_digest(object: &DesiredObject) -> String {
    let mut bytes = object.body.clone();
    for part in [&object.meta.content_type, &object.meta.cache_control] {
        bytes.push(b'\n');
        bytes.extend_from_slice(part.as_bytes());
    }
    sha256_hex(&bytes)
}

/// [`plan`] for a store served through the CloudFront distribution `distribution`
/// (`sync --cloudfront-distribution`). The state's [`EdgeRecord`] says which version of each
/// document the edge was last told to drop; every document whose desired version differs (all
/// of them without a record for this distribution) gets one [`Change::Invalidate`], placed
/// after the documents and before the state, which is written with the new record. So:
/// - a no-op run (documents and record current) plans nothing;
/// - a run that wrote the documents but failed before the state write (the invalidation or the
///   state failed) finds the old record next time and invalidates the same paths again, with
///   the same caller reference (the distribution, the documents' digests and the state it
///   started from), which CloudFront answers with the invalidation it already made;
/// - content that comes back to an earlier version (A → B → A) starts from another state
///   object, so it gets a new caller reference and is invalidated again.
pub fn plan_behind_edge(
    issuer: &Issuer,
    desired: &Desired,
    state: &State,
    observed: &Observed,
    distribution: &str,
) -> Plan {
    let documents: BTreeMap<String, String> = desired
        .objects
        .iter()
        .filter(|o| o.key == JWKS_PATH || o.key == DISCOVERY_PATH)
        .map(|o| (o.key.to_owned(), edge_digest(o)))
        .collect();
    let recorded = state
        .edge
        .as_ref()
        .filter(|edge| edge.distribution == distribution);
    let stale: Vec<&str> = desired
        .objects
        .iter()
        .map(|o| o.key)
        .filter(|key| documents.contains_key(*key))
        .filter(|key| recorded.and_then(|r| r.documents.get(*key)) != documents.get(*key))
        .collect();
    let mut next = state.clone();
    next.edge = Some(EdgeRecord {
        distribution: distribution.to_owned(),
        documents: documents.clone(),
    });
    let mut desired = desired.clone();
    for object in &mut desired.objects {
        if object.key == STATE_PATH {
            object.body = next.render();
        }
    }
    let mut plan = plan(&desired, observed);
    if stale.is_empty() {
        return plan;
    }
    let issuer_path = &issuer.provider_url()[issuer.host().len()..];
    let paths = stale
        .iter()
        .map(|key| format!("{issuer_path}/{key}"))
        .collect();
    let from_state = observed
        .objects
        .get(STATE_PATH)
        .and_then(Option::as_ref)
        .map(|o| sha256_hex(&o.body))
        .unwrap_or_default();
    let mut reference = format!("{distribution}\n{from_state}");
    for (key, digest) in &documents {
        reference.push_str(&format!("\n{key} {digest}"));
    }
    let change = Change::Invalidate {
        distribution: distribution.to_owned(),
        caller_reference: format!(
            "kube-oidc-publisher-{}",
            &sha256_hex(reference.as_bytes())[..32]
        ),
        paths,
    };
    let at = plan
        .changes
        .iter()
        .position(|c| matches!(c, Change::PutObject { key, .. } if key == STATE_PATH))
        .unwrap_or(plan.changes.len());
    plan.changes.insert(at, change);
    plan
}

/// Why a CloudFront distribution does not serve an issuer's documents from a store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DistributionMismatch {
    /// The issuer's host is neither the distribution's domain nor one of its aliases.
    pub host: Option<String>,
    /// No origin reads the store's bucket and prefix for the issuer's path.
    pub origin: Option<String>,
}

impl fmt::Display for DistributionMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = [&self.host, &self.origin]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// Whether `distribution` serves `issuer`'s documents from the S3 store `bucket`/`prefix` in
/// `region`: the issuer's host is the distribution's domain or one of its aliases, and one of
/// its origins is the bucket's regional endpoint (PROTOCOL.md §8) whose origin path followed by
/// the issuer's path is the store's prefix (a viewer's `/PATH/openid/v1/jwks` is read from
/// `ORIGIN_PATH/PATH/openid/v1/jwks` in the bucket).
pub fn check_distribution(
    distribution: &crate::model::cloudfront::Distribution,
    issuer: &Issuer,
    bucket: &str,
    region: &str,
    prefix: &str,
) -> Result<(), DistributionMismatch> {
    let mut mismatch = DistributionMismatch {
        host: None,
        origin: None,
    };
    if !distribution.serves_host(issuer.host()) {
        let mut names = vec![distribution.domain_name.clone()];
        names.extend(distribution.config.aliases.iter().cloned());
        mismatch.host = Some(format!(
            "the issuer's host {} is not among its names ({})",
            issuer.host(),
            names.join(", ")
        ));
    }
    let endpoint = crate::model::cloudfront::regional_origin(bucket, region);
    let issuer_path = &issuer.provider_url()[issuer.host().len()..];
    let want = prefix.trim_matches('/');
    let serves = |o: &crate::model::cloudfront::Origin| {
        let read = format!("{}{issuer_path}", o.origin_path);
        o.domain_name.eq_ignore_ascii_case(&endpoint) && read.trim_matches('/') == want
    };
    if !distribution.config.origins.iter().any(serves) {
        let origins: Vec<String> = distribution
            .config
            .origins
            .iter()
            .map(|o| format!("{}{}", o.domain_name, o.origin_path))
            .collect();
        mismatch.origin = Some(format!(
            "none of its origins ({}) reads s3://{bucket}/{want} for the issuer's path {issuer_path:?} (wanted origin {endpoint}, origin path + issuer path = /{want})",
            origins.join(", ")
        ));
    }
    if mismatch.host.is_none() && mismatch.origin.is_none() {
        Ok(())
    } else {
        Err(mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(max_age: u32) -> ObjectMeta {
        ObjectMeta {
            content_type: "application/json".into(),
            cache_control: format!("public, max-age={max_age}"),
        }
    }

    fn desired(jwks: &[u8], discovery: &[u8]) -> Desired {
        Desired {
            objects: vec![
                DesiredObject {
                    key: "openid/v1/jwks",
                    body: jwks.to_vec(),
                    meta: meta(300),
                },
                DesiredObject {
                    key: ".well-known/openid-configuration",
                    body: discovery.to_vec(),
                    meta: meta(300),
                },
            ],
        }
    }

    fn observed(objects: &[(&str, &[u8], Option<ObjectMeta>)]) -> Observed {
        let mut o = Observed::default();
        o.objects.insert("openid/v1/jwks".into(), None);
        o.objects
            .insert(".well-known/openid-configuration".into(), None);
        for (key, body, meta) in objects {
            o.objects.insert(
                (*key).into(),
                Some(ObservedObject {
                    body: body.to_vec(),
                    etag: Some(format!("etag-{key}")),
                    meta: meta.clone(),
                }),
            );
        }
        o
    }

    fn keys_and_reasons(plan: &Plan) -> Vec<(&str, Reason, &Precondition)> {
        plan.changes
            .iter()
            .filter_map(|change| match change {
                Change::PutObject {
                    key,
                    reason,
                    precondition,
                    ..
                } => Some((key.as_str(), *reason, precondition)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn idempotency_nothing_changed_means_an_empty_plan() {
        let o = observed(&[
            ("openid/v1/jwks", b"J", Some(meta(300))),
            (".well-known/openid-configuration", b"D", Some(meta(300))),
        ]);
        assert!(plan(&desired(b"J", b"D"), &o).is_empty());
        // A store without metadata (a directory) is in sync on content alone.
        let o = observed(&[
            ("openid/v1/jwks", b"J", None),
            (".well-known/openid-configuration", b"D", None),
        ]);
        assert!(plan(&desired(b"J", b"D"), &o).is_empty());
    }

    #[test]
    fn first_publish_creates_jwks_before_discovery_and_only_if_still_absent() {
        let p = plan(&desired(b"J", b"D"), &observed(&[]));
        assert_eq!(
            keys_and_reasons(&p),
            [
                ("openid/v1/jwks", Reason::Create, &Precondition::IfNoneMatch),
                (
                    ".well-known/openid-configuration",
                    Reason::Create,
                    &Precondition::IfNoneMatch
                )
            ]
        );
        let Change::PutObject { sha256, bytes, .. } = &p.changes[0] else {
            panic!()
        };
        assert_eq!(sha256, &sha256_hex(b"J"));
        assert_eq!(*bytes, 1);
    }

    #[test]
    fn a_changed_key_set_rewrites_only_the_jwks_conditionally() {
        let o = observed(&[
            ("openid/v1/jwks", b"old", Some(meta(300))),
            (".well-known/openid-configuration", b"D", Some(meta(300))),
        ]);
        let p = plan(&desired(b"new", b"D"), &o);
        assert_eq!(
            keys_and_reasons(&p),
            [(
                "openid/v1/jwks",
                Reason::ContentChanged,
                &Precondition::IfMatch("etag-openid/v1/jwks".into())
            )]
        );
    }

    fn desired_provider() -> DesiredProvider {
        DesiredProvider {
            url: "oidc.example.test/c1".into(),
            client_ids: vec!["sts.amazonaws.com".into()],
            thumbprints: Some(vec!["a".repeat(40)]),
            cluster_name: Some("c1".into()),
            adopt: false,
        }
    }

    const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/c1";

    fn observed_provider(desired: &DesiredProvider) -> ObservedProvider {
        ObservedProvider {
            arn: ARN.into(),
            url: desired.url.clone(),
            client_ids: desired.client_ids.clone(),
            thumbprints: desired.thumbprints.clone().unwrap(),
            tags: desired.tags(None),
        }
    }

    #[test]
    fn idempotency_a_provider_in_sync_needs_nothing() {
        let want = desired_provider();
        let plan = plan_provider(&want, ARN, Some(&observed_provider(&want)));
        assert!(
            plan.changes.is_empty() && plan.unmanaged_drift.is_empty(),
            "{plan:?}"
        );
        assert!(plan.managed);
    }

    #[test]
    fn a_missing_provider_is_created_with_tags() {
        let want = desired_provider();
        let plan = plan_provider(&want, ARN, None);
        assert!(
            matches!(&plan.changes[..], [Change::CreateProvider { tags, .. }] if tags.contains_key(MANAGED_BY_TAG))
        );
        let none = DesiredProvider {
            thumbprints: None,
            ..want
        };
        let plan = plan_provider(&none, ARN, None);
        assert!(
            matches!(&plan.changes[..], [Change::CreateProvider { thumbprints, .. }] if thumbprints.is_empty())
        );
    }

    #[test]
    fn thumbprints_are_replaced_whole_and_client_ids_added_and_removed() {
        let want = desired_provider();
        let mut have = observed_provider(&want);
        have.thumbprints = vec!["b".repeat(40), "c".repeat(40)];
        have.client_ids = vec!["old-audience".into()];
        let plan = plan_provider(&want, ARN, Some(&have));
        assert_eq!(
            plan.changes,
            [
                Change::SetThumbprints {
                    arn: ARN.into(),
                    from: have.thumbprints.clone(),
                    to: vec!["a".repeat(40)]
                },
                Change::AddClientId {
                    arn: ARN.into(),
                    client_id: "sts.amazonaws.com".into()
                },
                Change::RemoveClientId {
                    arn: ARN.into(),
                    client_id: "old-audience".into()
                },
            ]
        );
    }

    #[test]
    fn thumbprint_none_leaves_what_iam_fetched_alone() {
        let want = DesiredProvider {
            thumbprints: None,
            ..desired_provider()
        };
        let mut have = observed_provider(&desired_provider());
        have.thumbprints = vec!["9".repeat(40)];
        assert!(plan_provider(&want, ARN, Some(&have)).changes.is_empty());
    }

    #[test]
    fn a_provider_without_our_tags_is_never_changed_but_its_drift_is_reported() {
        let want = desired_provider();
        let mut terraform = observed_provider(&want);
        terraform.tags = BTreeMap::from([("owner".to_owned(), "terraform".to_owned())]);
        let plan = plan_provider(&want, ARN, Some(&terraform));
        assert!(
            plan.changes.is_empty() && plan.unmanaged_drift.is_empty() && !plan.managed,
            "matching: no drift"
        );
        terraform.client_ids = vec!["other".into()];
        let plan = plan_provider(&want, ARN, Some(&terraform));
        assert!(plan.changes.is_empty());
        assert_eq!(
            plan.unmanaged_drift,
            ["add client ID sts.amazonaws.com", "remove client ID other"]
        );
        let adopt = DesiredProvider {
            adopt: true,
            ..want
        };
        let plan = plan_provider(&adopt, ARN, Some(&terraform));
        assert!(
            matches!(plan.changes[0], Change::TagProvider { .. }),
            "adopting tags first: {plan:?}"
        );
        assert_eq!(plan.changes.len(), 3);
    }

    // Regression (issue #14): `bootstrap --cluster-name prod-1`, then `sync` without the flag,
    // re-tagged the provider to its host/path, and the next bootstrap tagged it back.
    #[test]
    fn without_cluster_name_the_providers_cluster_tag_is_kept() {
        let named = desired_provider();
        let mut have = observed_provider(&named);
        have.tags.insert(CLUSTER_TAG.into(), "prod-1".into());
        let unnamed = DesiredProvider {
            cluster_name: None,
            ..named
        };
        let plan = plan_provider(&unnamed, ARN, Some(&have));
        assert!(plan.changes.is_empty(), "{plan:?}");
        // A new provider, and one we manage that has no cluster tag, get the host/path.
        let created = plan_provider(&unnamed, ARN, None);
        assert!(
            matches!(&created.changes[..], [Change::CreateProvider { tags, .. }]
            if tags[CLUSTER_TAG] == "oidc.example.test/c1")
        );
        have.tags.remove(CLUSTER_TAG);
        let plan = plan_provider(&unnamed, ARN, Some(&have));
        assert!(
            matches!(&plan.changes[..], [Change::TagProvider { tags, .. }]
            if tags[CLUSTER_TAG] == "oidc.example.test/c1")
        );
    }

    #[test]
    fn a_changed_cluster_name_is_retagged() {
        let want = desired_provider();
        let mut have = observed_provider(&want);
        have.tags.insert(CLUSTER_TAG.into(), "old-name".into());
        let plan = plan_provider(&want, ARN, Some(&have));
        assert!(matches!(&plan.changes[..], [Change::TagProvider { .. }]));
    }

    #[test]
    fn the_bucket_must_be_in_the_region_the_issuer_names() {
        assert_eq!(check_region("eu-west-1", Some("eu-west-1")), Ok(()));
        assert_eq!(check_region("eu-west-1", None), Ok(()));
        assert_eq!(
            check_region("eu-west-2", Some("eu-west-1")),
            Err(RegionMismatch {
                expected: "eu-west-2".into(),
                actual: "eu-west-1".into()
            })
        );
    }

    fn with_discovery(body: &[u8]) -> Observed {
        observed(&[(".well-known/openid-configuration", body, None)])
    }

    #[test]
    fn a_published_issuer_moves_only_when_allowed() {
        let c1 = Issuer::parse("https://oidc.example.test/c1").unwrap();
        let c2 = Issuer::parse("https://oidc.example.test/c2").unwrap();
        let published = with_discovery(&Discovery::new(&c1, &keyset()).render());
        assert_eq!(check_issuer_change(&c1, &published, false), Ok(None));
        let change = IssuerChange {
            published: c1.to_string(),
            requested: c2.to_string(),
        };
        assert_eq!(
            check_issuer_change(&c2, &published, false),
            Err(change.clone())
        );
        assert_eq!(check_issuer_change(&c2, &published, true), Ok(Some(change)));
        // Nothing published, or a document that names no issuer: nothing to move.
        for observed in [
            observed(&[]),
            with_discovery(b"not json"),
            with_discovery(br#"{"jwks_uri":"x"}"#),
        ] {
            assert_eq!(check_issuer_change(&c2, &observed, false), Ok(None));
        }
    }

    fn keyset() -> KeySet {
        let jwks = include_bytes!("../tests/fixtures/kube-apiserver/jwks-rsa.json");
        KeySet::new(crate::model::jwk::parse_jwks(jwks).unwrap().keys).unwrap()
    }

    #[test]
    fn changed_cache_control_is_rewritten() {
        let o = observed(&[
            ("openid/v1/jwks", b"J", Some(meta(3600))),
            (".well-known/openid-configuration", b"D", Some(meta(300))),
        ]);
        let p = plan(&desired(b"J", b"D"), &o);
        assert_eq!(keys_and_reasons(&p)[0].1, Reason::MetadataChanged);
        assert_eq!(p.changes.len(), 1);
    }
}

#[cfg(test)]
mod edge_tests {
    use super::*;
    use crate::model::cloudfront::{Distribution, DistributionConfig, Origin, ViewerCertificate};

    fn distribution(aliases: &[&str], origin: &str, origin_path: &str) -> Distribution {
        Distribution {
            id: "E1".into(),
            arn: "arn:aws:cloudfront::123456789012:distribution/E1".into(),
            domain_name: "d111.cloudfront.net".into(),
            status: "Deployed".into(),
            etag: "E".into(),
            config: DistributionConfig {
                caller_reference: "r".into(),
                comment: String::new(),
                enabled: true,
                aliases: aliases.iter().map(|a| a.to_string()).collect(),
                origins: vec![Origin {
                    id: "s3".into(),
                    domain_name: origin.into(),
                    origin_path: origin_path.into(),
                    origin_access_control_id: Some("O1".into()),
                    s3_origin: true,
                }],
                target_origin_id: "s3".into(),
                viewer_protocol_policy: "https-only".into(),
                allowed_methods: vec![],
                cache_policy_id: None,
                viewer_certificate: ViewerCertificate::CloudFrontDefault,
            },
            tags: BTreeMap::new(),
        }
    }

    const ORIGIN: &str = "acme-oidc.s3.eu-west-1.amazonaws.com";

    #[test]
    fn the_issuer_host_and_the_origin_must_match() {
        let issuer = Issuer::parse("https://oidc.acme.com/prod-1").unwrap();
        let ok = distribution(&["oidc.acme.com"], ORIGIN, "");
        assert_eq!(
            check_distribution(&ok, &issuer, "acme-oidc", "eu-west-1", "prod-1"),
            Ok(())
        );
        // The origin path is prepended to the viewer's path.
        let nested = distribution(&["oidc.acme.com"], ORIGIN, "/clusters");
        assert_eq!(
            check_distribution(
                &nested,
                &issuer,
                "acme-oidc",
                "eu-west-1",
                "clusters/prod-1"
            ),
            Ok(())
        );
        let e = check_distribution(&ok, &issuer, "acme-oidc", "eu-west-1", "prod-2").unwrap_err();
        assert!(e.host.is_none() && e.origin.is_some(), "{e}");
        let other = Issuer::parse("https://d999.cloudfront.net/prod-1").unwrap();
        let e = check_distribution(&ok, &other, "acme-oidc", "eu-west-1", "prod-1").unwrap_err();
        assert!(e.to_string().contains("d999.cloudfront.net"), "{e}");
        assert!(
            e.to_string().contains("d111.cloudfront.net, oidc.acme.com"),
            "{e}"
        );
        // The global endpoint is not the regional one.
        let global = distribution(&["oidc.acme.com"], "acme-oidc.s3.amazonaws.com", "");
        assert!(check_distribution(&global, &issuer, "acme-oidc", "eu-west-1", "prod-1").is_err());
    }

    #[test]
    fn invalidation_paths_take_the_issuer_path() {
        let issuer = Issuer::parse("https://d111.cloudfront.net").unwrap();
        let keys = KeySet::new(
            crate::model::jwk::parse_jwks(include_bytes!(
                "../tests/fixtures/kube-apiserver/jwks-rsa.json"
            ))
            .unwrap()
            .keys,
        )
        .unwrap();
        let meta = ObjectMeta {
            content_type: "application/json".into(),
            cache_control: "public, max-age=300".into(),
        };
        let desired = desired(&issuer, &keys, &meta, &State::default());
        let plan = plan_behind_edge(
            &issuer,
            &desired,
            &State::default(),
            &Observed::default(),
            "E1",
        );
        let Some(Change::Invalidate { paths, .. }) = plan.changes.get(2) else {
            panic!("{plan:?}")
        };
        assert_eq!(
            paths,
            &["/openid/v1/jwks", "/.well-known/openid-configuration"]
        );
    }
}
