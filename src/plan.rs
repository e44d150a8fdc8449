//! The plan: a pure comparison of the documents that should be published with what the store
//! holds now. No I/O and no clock: `reconcile` observes, this decides, `reconcile` applies.
//! A second run with nothing changed must produce an empty plan, which is what makes a no-op
//! `sync` write nothing at all.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{Discovery, Issuer, KeySet, DISCOVERY_PATH, JWKS_PATH};

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

/// The documents for an issuer and its keys, in publishing order (JWKS first).
pub fn desired(issuer: &Issuer, keys: &KeySet, meta: &ObjectMeta) -> Desired {
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
        ],
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
            .map(
                |Change::PutObject {
                     key,
                     reason,
                     precondition,
                     ..
                 }| (key.as_str(), *reason, precondition),
            )
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
        let Change::PutObject { sha256, bytes, .. } = &p.changes[0];
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
