//! Cluster API discovery, pure: which of the labelled Secrets a metadata-only list returned
//! are workload clusters' kubeconfigs, and each cluster's store and issuer from the
//! `--store-template` and `--issuer-template` flags. No I/O: the list comes from
//! `fleet::secrets::Secrets::list_labelled`.
//!
//! What Cluster API does (kubernetes-sigs/cluster-api): each workload cluster's admin
//! kubeconfig is Secret `<cluster>-kubeconfig` under key `value` (util/secret/consts.go,
//! `KubeconfigDataName = "value"`, purpose `Kubeconfig = "kubeconfig"`; util/secret/secret.go,
//! `Name(cluster, purpose)` is `cluster + "-" + purpose`), labelled
//! `cluster.x-k8s.io/cluster-name: <cluster>` (util/kubeconfig/kubeconfig.go,
//! `GenerateSecretWithOwner`). The cluster's certificate Secrets (`-ca`, `-etcd`, `-sa`,
//! `-proxy`, util/secret/certificates.go `AsSecret`) and `-user-kubeconfig` carry the same
//! label: only the Secret named `<label value>-kubeconfig` counts.

use super::fleet::{SecretMeta, SecretRef};

/// The label Cluster API puts on every Secret of a workload cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// The key of the kubeconfig in Cluster API's `<cluster>-kubeconfig` Secret.
pub const KUBECONFIG_KEY: &str = "value";

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Namespace,
    Cluster,
}

/// `--store-template` / `--issuer-template`: text with `{namespace}` and `{cluster}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

/// Why a template flag's value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("{flag} {raw:?}: unknown placeholder {{{placeholder}}}; the placeholders are {{namespace}} and {{cluster}}")]
    UnknownPlaceholder {
        flag: &'static str,
        raw: String,
        placeholder: String,
    },
    #[error("{flag} {raw:?}: a `{{` is not closed; write the placeholders as {{namespace}} and {{cluster}}")]
    Unclosed { flag: &'static str, raw: String },
    #[error("{flag} {raw:?}: a `}}` closes nothing; write the placeholders as {{namespace}} and {{cluster}}")]
    Unopened { flag: &'static str, raw: String },
    #[error("{flag} {raw:?} has no {{cluster}}: every cluster would get the same one and overwrite the others' documents. Add {{cluster}}, for example s3://acme-oidc/{{namespace}}/{{cluster}}")]
    NoCluster { flag: &'static str, raw: String },
}

impl Template {
    /// The template of flag `flag` (named in errors). It must contain `{cluster}`: one store or
    /// issuer shared by several clusters would publish each one's keys over the others'.
    pub fn parse(flag: &'static str, raw: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = raw;
        while let Some(at) = rest.find(['{', '}']) {
            text.push_str(&rest[..at]);
            if rest[at..].starts_with('}') {
                return Err(TemplateError::Unopened {
                    flag,
                    raw: raw.into(),
                });
            }
            let after = &rest[at + 1..];
            let Some(end) = after.find('}').filter(|end| !after[..*end].contains('{')) else {
                return Err(TemplateError::Unclosed {
                    flag,
                    raw: raw.into(),
                });
            };
            let piece = match &after[..end] {
                "namespace" => Piece::Namespace,
                "cluster" => Piece::Cluster,
                other => {
                    return Err(TemplateError::UnknownPlaceholder {
                        flag,
                        raw: raw.into(),
                        placeholder: other.into(),
                    })
                }
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(piece);
            rest = &after[end + 1..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        if !pieces.contains(&Piece::Cluster) {
            return Err(TemplateError::NoCluster {
                flag,
                raw: raw.into(),
            });
        }
        Ok(Template(pieces))
    }

    pub fn render(&self, namespace: &str, cluster: &str) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.as_str(),
                Piece::Namespace => namespace,
                Piece::Cluster => cluster,
            })
            .collect()
    }
}

/// One cluster found: its name in the fleet is "NAMESPACE/CLUSTER".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovered {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    /// Its kubeconfig: `<cluster>-kubeconfig`, key `value`.
    pub secret: SecretRef,
    /// Of the kubeconfig Secret: when it changes, the kubeconfig may have.
    pub resource_version: String,
    pub store: String,
    pub issuer: Option<String>,
}

/// The Cluster API clusters among `secrets` (a list of Secrets labelled
/// [`CLUSTER_NAME_LABEL`]), sorted by name. A Secret counts only when its name is its label's
/// value followed by `-kubeconfig`; every other Secret of a cluster (`-ca`, `-sa`, …) and a
/// Secret without the label or with an empty one is ignored.
pub fn discover(
    secrets: &[SecretMeta],
    store: &Template,
    issuer: Option<&Template>,
) -> Vec<Discovered> {
    let mut found: Vec<Discovered> = secrets
        .iter()
        .filter_map(|meta| {
            let cluster = meta.labels.get(CLUSTER_NAME_LABEL)?;
            let is_kubeconfig = meta.name.strip_suffix("-kubeconfig") == Some(cluster.as_str());
            if cluster.is_empty() || !is_kubeconfig {
                return None;
            }
            let namespace = &meta.namespace;
            Some(Discovered {
                name: format!("{namespace}/{cluster}"),
                namespace: namespace.clone(),
                cluster: cluster.clone(),
                secret: SecretRef {
                    namespace: namespace.clone(),
                    name: meta.name.clone(),
                    key: KUBECONFIG_KEY.into(),
                },
                resource_version: meta.resource_version.clone(),
                store: store.render(namespace, cluster),
                issuer: issuer.map(|t| t.render(namespace, cluster)),
            })
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &str = "--store-template";

    fn meta(namespace: &str, name: &str, label: Option<&str>) -> SecretMeta {
        SecretMeta {
            namespace: namespace.into(),
            name: name.into(),
            resource_version: format!("rv-{name}"),
            labels: label
                .map(|cluster| (CLUSTER_NAME_LABEL.to_string(), cluster.to_string()))
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn templates_render_both_placeholders_anywhere() {
        let store = Template::parse(STORE, "s3://acme-oidc/{namespace}/{cluster}").unwrap();
        assert_eq!(
            store.render("fleet", "prod-1"),
            "s3://acme-oidc/fleet/prod-1"
        );
        let issuer = Template::parse(
            "--issuer-template",
            "https://{cluster}.oidc.acme.com/{namespace}{cluster}",
        )
        .unwrap();
        assert_eq!(issuer.render("ns", "c"), "https://c.oidc.acme.com/nsc");
        assert_eq!(
            Template::parse(STORE, "{cluster}")
                .unwrap()
                .render("n", "c"),
            "c"
        );
    }

    #[test]
    fn template_errors_name_the_flag_and_what_to_write() {
        let err = |raw: &str| Template::parse(STORE, raw).unwrap_err();
        assert_eq!(
            err("s3://b/{clsuter}").to_string(),
            "--store-template \"s3://b/{clsuter}\": unknown placeholder {clsuter}; the placeholders are {namespace} and {cluster}"
        );
        assert!(matches!(
            err("s3://b/{cluster"),
            TemplateError::Unclosed { .. }
        ));
        assert!(matches!(
            err("s3://b/{name{cluster}"),
            TemplateError::Unclosed { .. }
        ));
        assert!(matches!(
            err("s3://b/cluster}"),
            TemplateError::Unopened { .. }
        ));
        assert!(matches!(
            err("s3://b/{}/{cluster}"),
            TemplateError::UnknownPlaceholder { .. }
        ));
        assert_eq!(
            err("s3://acme-oidc/{namespace}").to_string(),
            "--store-template \"s3://acme-oidc/{namespace}\" has no {cluster}: every cluster would get the same one and overwrite the others' documents. Add {cluster}, for example s3://acme-oidc/{namespace}/{cluster}"
        );
        assert!(err("s3://b/{cluster")
            .to_string()
            .starts_with("--store-template \"s3://b/{cluster\": a `{` is not closed"));
    }

    #[test]
    fn only_the_kubeconfig_secret_named_after_its_label_is_a_cluster() {
        let secrets = [
            meta("fleet", "prod-1-kubeconfig", Some("prod-1")),
            meta("fleet", "prod-1-ca", Some("prod-1")),
            meta("fleet", "prod-1-sa", Some("prod-1")),
            meta("fleet", "prod-1-etcd", Some("prod-1")),
            meta("fleet", "prod-1-proxy", Some("prod-1")),
            meta("fleet", "prod-1-user-kubeconfig", Some("prod-1")),
            // Named like a kubeconfig, but of another cluster by its label.
            meta("fleet", "other-kubeconfig", Some("prod-1")),
            meta("fleet", "nolabel-kubeconfig", None),
            meta("fleet", "-kubeconfig", Some("")),
            meta("a-team", "prod-1-kubeconfig", Some("prod-1")),
        ];
        let store = Template::parse(STORE, "s3://acme-oidc/{namespace}/{cluster}").unwrap();
        let issuer =
            Template::parse("--issuer-template", "https://oidc.acme.com/{cluster}").unwrap();
        let found = discover(&secrets, &store, Some(&issuer));
        let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a-team/prod-1", "fleet/prod-1"]);
        assert_eq!(
            found[1],
            Discovered {
                name: "fleet/prod-1".into(),
                namespace: "fleet".into(),
                cluster: "prod-1".into(),
                secret: SecretRef {
                    namespace: "fleet".into(),
                    name: "prod-1-kubeconfig".into(),
                    key: "value".into(),
                },
                resource_version: "rv-prod-1-kubeconfig".into(),
                store: "s3://acme-oidc/fleet/prod-1".into(),
                issuer: Some("https://oidc.acme.com/prod-1".into()),
            }
        );
        assert_eq!(found[0].store, "s3://acme-oidc/a-team/prod-1");
        assert_eq!(discover(&secrets, &store, None)[0].issuer, None);
        assert!(discover(&[], &store, None).is_empty());
    }
}
