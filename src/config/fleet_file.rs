//! The fleet file, read and checked for its shape (text in, entries out). Which keys are
//! options and what each value means is [`super::fleet`]'s business (it knows the command
//! line); here only YAML's structure, the fleet's own keys and the line every value came from.
//!
//! ```yaml
//! defaults:                 # any sync option by its long name
//!   region: eu-west-1
//! clusters:
//!   - name: prod-1          # required, unique
//!     kubeconfig: /etc/fleet/prod-1.yaml
//!     store: s3://acme-oidc/prod-1
//!   - name: prod-2
//!     kubeconfig-secret: {namespace: fleet, name: prod-2-kubeconfig}   # key: value
//!     store: s3://acme-oidc/prod-2
//!     no-iam: true
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::model::fleet::{usable_name, SecretRef};

/// The key of a Cluster API kubeconfig Secret, and the default of `kubeconfig-secret`'s `key`.
pub const DEFAULT_SECRET_KEY: &str = "value";

/// A fleet file, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetFile {
    /// `defaults`: options every cluster takes unless its entry says otherwise.
    pub defaults: Vec<Setting>,
    pub clusters: Vec<Entry>,
}

/// One cluster of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// The line of its `name`.
    pub line: u64,
    /// Its options (`kubeconfig` and `context` included), in the file's order.
    pub settings: Vec<Setting>,
    /// `kubeconfig-secret`: the kubeconfig is read from this Secret of the management cluster.
    pub kubeconfig_secret: Option<SecretRef>,
}

/// `key: value`, with the line it was written on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: Value,
    pub line: u64,
}

/// An option's value as YAML wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `true` or `false`.
    Switch(bool),
    /// A string or a number, as text.
    One(String),
    /// A list of strings or numbers.
    Many(Vec<String>),
    /// `~` or nothing: the option is unset here.
    Unset,
    /// A mapping (only `kubeconfig-secret` takes one).
    Map(BTreeMap<String, Value>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("{0}")]
    Yaml(String),
    #[error("`{key}` is not a key of a fleet file: the top level has `defaults` and `clusters`")]
    TopLevel { key: String },
    #[error("the file has no `clusters` list (and no `--fleet-from` adds any)")]
    NoClusters,
    #[error("line {line}: a cluster has no `name`; every cluster needs one, unique in the file (it is also the IAM provider's cluster tag)")]
    NoName { line: u64 },
    #[error("line {line}: cluster name {name:?} is not usable: use 1 to 128 letters, digits and - _ . : / = + @ (it becomes an IAM tag value and a metric label)")]
    BadName { name: String, line: u64 },
    #[error("line {line}: cluster {name:?} is listed twice (first at line {first}); names must be unique")]
    DuplicateName { name: String, line: u64, first: u64 },
    #[error("line {line}: `{key}` belongs to one cluster, not to `defaults`")]
    NotADefault { key: String, line: u64 },
    #[error(
        "line {line}: cluster {name:?} has both `kubeconfig` and `kubeconfig-secret`; keep one"
    )]
    TwoKubeconfigs { name: String, line: u64 },
    #[error("line {line}: `kubeconfig-secret` {problem}; write it as {{namespace: NS, name: NAME, key: value}} (key defaults to `value`, as Cluster API names it)")]
    BadSecret { problem: String, line: u64 },
    #[error("line {line}: `{key}` has a mapping as its value; options take a value, a list or true/false")]
    MapValue { key: String, line: u64 },
}

impl FleetFile {
    pub fn parse(text: &str) -> Result<FleetFile, FileError> {
        // YAML 1.2's booleans only: `n`, `no` or `on` (a namespace, a cluster) stay text.
        let options = serde_saphyr::options! { strict_booleans: true };
        let document: BTreeMap<String, Spanned<Raw>> =
            serde_saphyr::from_str_with_options(text, options)
                .map_err(|e| FileError::Yaml(e.to_string()))?;
        let mut defaults = Vec::new();
        let mut clusters = Vec::new();
        for (key, value) in document {
            let line = value.referenced.line();
            match (key.as_str(), value.value) {
                ("defaults", Raw::Map(map)) => defaults = settings(map)?,
                ("defaults", Raw::Unset) => {}
                ("clusters", Raw::List(list)) => clusters = list,
                ("clusters", Raw::Unset) => {}
                ("defaults", _) => {
                    return Err(FileError::Yaml(format!(
                        "line {line}: `defaults` must be a mapping of option: value"
                    )))
                }
                ("clusters", _) => {
                    return Err(FileError::Yaml(format!(
                        "line {line}: `clusters` must be a list of clusters (`- name: ...`)"
                    )))
                }
                _ => return Err(FileError::TopLevel { key }),
            }
        }
        for setting in &defaults {
            if ["name", "kubeconfig-secret"].contains(&setting.key.as_str()) {
                return Err(FileError::NotADefault {
                    key: setting.key.clone(),
                    line: setting.line,
                });
            }
        }
        let mut entries: Vec<Entry> = Vec::new();
        for cluster in clusters {
            let line = cluster.referenced.line();
            let Raw::Map(map) = cluster.value else {
                return Err(FileError::Yaml(format!(
                    "line {line}: each cluster must be a mapping (`- name: prod-1`, then its options)"
                )));
            };
            let entry = entry(map, line)?;
            if let Some(first) = entries.iter().find(|e| e.name == entry.name) {
                return Err(FileError::DuplicateName {
                    name: entry.name,
                    line: entry.line,
                    first: first.line,
                });
            }
            entries.push(entry);
        }
        Ok(FleetFile {
            defaults,
            clusters: entries,
        })
    }
}

/// A cluster's mapping: its name and Secret taken out, the rest kept as options.
fn entry(map: BTreeMap<String, Spanned<Raw>>, line: u64) -> Result<Entry, FileError> {
    let mut settings = settings_with_maps(map)?;
    let name = take(&mut settings, "name");
    let secret = take(&mut settings, "kubeconfig-secret");
    let (name, name_line) = match name {
        Some(Setting {
            value: Value::One(name),
            line,
            ..
        }) => (name, line),
        Some(setting) => {
            return Err(FileError::BadName {
                name: format!("{:?}", setting.value),
                line: setting.line,
            })
        }
        None => return Err(FileError::NoName { line }),
    };
    if !usable_name(&name) {
        return Err(FileError::BadName {
            name,
            line: name_line,
        });
    }
    for setting in &settings {
        if let Value::Map(_) = setting.value {
            return Err(FileError::MapValue {
                key: setting.key.clone(),
                line: setting.line,
            });
        }
    }
    let kubeconfig_secret = secret.map(secret_ref).transpose()?;
    if kubeconfig_secret.is_some() && settings.iter().any(|s| s.key == "kubeconfig") {
        return Err(FileError::TwoKubeconfigs {
            name,
            line: name_line,
        });
    }
    Ok(Entry {
        name,
        line: name_line,
        settings,
        kubeconfig_secret,
    })
}

fn take(settings: &mut Vec<Setting>, key: &str) -> Option<Setting> {
    let at = settings.iter().position(|s| s.key == key)?;
    Some(settings.remove(at))
}

fn secret_ref(setting: Setting) -> Result<SecretRef, FileError> {
    let bad = |problem: &str| FileError::BadSecret {
        problem: problem.into(),
        line: setting.line,
    };
    let Value::Map(mut map) = setting.value.clone() else {
        return Err(bad("is not a mapping"));
    };
    let mut text = |key: &str, default: Option<&str>| match (map.remove(key), default) {
        (Some(Value::One(v)), _) if !v.is_empty() => Ok(v),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(bad(&format!("has no `{key}`"))),
        (Some(_), _) => Err(bad(&format!("has a `{key}` that is not a name"))),
    };
    let secret = SecretRef {
        namespace: text("namespace", None)?,
        name: text("name", None)?,
        key: text("key", Some(DEFAULT_SECRET_KEY))?,
    };
    if let Some(other) = map.keys().next() {
        return Err(bad(&format!("has an unknown key `{other}`")));
    }
    Ok(secret)
}

/// `defaults`' options: no mapping values.
fn settings(map: BTreeMap<String, Spanned<Raw>>) -> Result<Vec<Setting>, FileError> {
    let settings = settings_with_maps(map)?;
    for setting in &settings {
        if let Value::Map(_) = setting.value {
            if setting.key != "kubeconfig-secret" {
                return Err(FileError::MapValue {
                    key: setting.key.clone(),
                    line: setting.line,
                });
            }
        }
    }
    Ok(settings)
}

fn settings_with_maps(map: BTreeMap<String, Spanned<Raw>>) -> Result<Vec<Setting>, FileError> {
    let mut settings: Vec<Setting> = map
        .into_iter()
        .map(|(key, raw)| {
            let line = raw.referenced.line();
            raw.value
                .into_value(&key, line)
                .map(|value| Setting { key, value, line })
        })
        .collect::<Result<_, _>>()?;
    settings.sort_by_key(|s| s.line);
    Ok(settings)
}

/// Any YAML node, read without losing where the mapping and list entries came from.
enum Raw {
    Switch(bool),
    Text(String),
    List(Vec<Spanned<Raw>>),
    Map(BTreeMap<String, Spanned<Raw>>),
    Unset,
}

impl Raw {
    fn into_value(self, key: &str, line: u64) -> Result<Value, FileError> {
        Ok(match self {
            Raw::Switch(on) => Value::Switch(on),
            Raw::Text(text) => Value::One(text),
            Raw::Unset => Value::Unset,
            Raw::List(items) => Value::Many(
                items
                    .into_iter()
                    .map(|item| match item.value {
                        Raw::Text(text) => Ok(text),
                        _ => Err(FileError::Yaml(format!(
                            "line {}: `{key}` lists something that is not a value",
                            item.referenced.line()
                        ))),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Raw::Map(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| {
                        let line = v.referenced.line();
                        v.value.into_value(&k, line).map(|v| (k, v))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        })
        .map_err(|e: FileError| match e {
            FileError::Yaml(_) => e,
            _ => FileError::MapValue {
                key: key.into(),
                line,
            },
        })
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value, a list or a mapping")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Switch(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Text(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Text(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Text(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Text(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Unset)
    }

    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Unset)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        Raw::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((key, value)) = map.next_entry::<String, Spanned<Raw>>()? {
            out.insert(key, value);
        }
        Ok(Raw::Map(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
defaults:
  region: eu-west-1
  cache-max-age: 300
clusters:
  - name: prod-1
    kubeconfig: /etc/fleet/prod-1.yaml
    context: admin@prod-1
    store: s3://acme-oidc/prod-1
    issuer: https://oidc.acme.com/prod-1
  - name: prod-2
    kubeconfig-secret: {namespace: fleet, name: prod-2-kubeconfig}
    store: s3://acme-oidc/prod-2
    no-iam: true
    audience:
      - sts.amazonaws.com
      - other
";

    fn setting(key: &str, value: Value, line: u64) -> Setting {
        Setting {
            key: key.into(),
            value,
            line,
        }
    }

    fn one(v: &str) -> Value {
        Value::One(v.into())
    }

    #[test]
    fn the_issue_example_reads_with_every_line() {
        let file = FleetFile::parse(EXAMPLE).unwrap();
        assert_eq!(
            file.defaults,
            vec![
                setting("region", one("eu-west-1"), 2),
                setting("cache-max-age", one("300"), 3),
            ]
        );
        assert_eq!(file.clusters.len(), 2);
        let first = &file.clusters[0];
        assert_eq!((first.name.as_str(), first.line), ("prod-1", 5));
        assert_eq!(first.kubeconfig_secret, None);
        assert_eq!(
            first.settings,
            vec![
                setting("kubeconfig", one("/etc/fleet/prod-1.yaml"), 6),
                setting("context", one("admin@prod-1"), 7),
                setting("store", one("s3://acme-oidc/prod-1"), 8),
                setting("issuer", one("https://oidc.acme.com/prod-1"), 9),
            ]
        );
        let second = &file.clusters[1];
        assert_eq!(
            second.kubeconfig_secret,
            Some(SecretRef {
                namespace: "fleet".into(),
                name: "prod-2-kubeconfig".into(),
                key: "value".into(),
            })
        );
        assert_eq!(
            second.settings[1],
            setting("no-iam", Value::Switch(true), 13)
        );
        assert_eq!(
            second.settings[2].value,
            Value::Many(vec!["sts.amazonaws.com".into(), "other".into()])
        );
    }

    #[test]
    fn a_duplicate_name_names_both_lines() {
        let text = "clusters:\n  - name: a\n    store: ./a\n  - name: a\n    store: ./b\n";
        assert_eq!(
            FleetFile::parse(text),
            Err(FileError::DuplicateName {
                name: "a".into(),
                line: 4,
                first: 2
            })
        );
    }

    #[test]
    fn a_duplicate_key_is_yaml_s_error_with_its_line() {
        let text = "clusters:\n  - name: a\n    store: ./a\n    store: ./b\n";
        let Err(FileError::Yaml(message)) = FleetFile::parse(text) else {
            panic!("a repeated key must be refused")
        };
        assert!(
            message.contains("line 4") || message.contains("4:"),
            "{message}"
        );
    }

    #[test]
    fn shape_errors_name_their_line() {
        let cases = [
            ("cluster:\n  - name: a\n", "`cluster` is not a key"),
            ("clusters:\n  - store: ./a\n", "line 2: a cluster has no `name`"),
            ("clusters:\n  - name: 'a b'\n", "line 2: cluster name \"a b\" is not usable"),
            (
                "defaults:\n  name: x\nclusters: []\n",
                "line 2: `name` belongs to one cluster",
            ),
            (
                "clusters:\n  - name: a\n    kubeconfig: k\n    kubeconfig-secret: {namespace: n, name: s}\n",
                "line 2: cluster \"a\" has both",
            ),
            (
                "clusters:\n  - name: a\n    kubeconfig-secret: {name: s}\n",
                "line 3: `kubeconfig-secret` has no `namespace`",
            ),
            (
                "clusters:\n  - name: a\n    kubeconfig-secret: {namespace: n, name: s, keys: v}\n",
                "line 3: `kubeconfig-secret` has an unknown key `keys`",
            ),
            (
                "clusters:\n  - name: a\n    store: {bucket: b}\n",
                "line 3: `store` has a mapping",
            ),
        ];
        for (text, expected) in cases {
            let message = FleetFile::parse(text).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{text}\n→ {message}");
        }
    }

    #[test]
    fn an_explicit_key_overrides_the_secret_s_default_key() {
        let text = "clusters:\n  - name: a\n    kubeconfig-secret: {namespace: n, name: s, key: kubeconfig}\n";
        let file = FleetFile::parse(text).unwrap();
        assert_eq!(
            file.clusters[0].kubeconfig_secret.as_ref().unwrap().key,
            "kubeconfig"
        );
    }
}
