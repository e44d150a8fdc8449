//! Keys from the API server: `GET /openid/v1/jwks` and `GET /.well-known/openid-configuration`
//! with the user's own credentials (kube's client and kubeconfig handling: exec plugins,
//! client certificates, in-cluster tokens), as raw requests so every status is ours to explain.
//! The two requests run concurrently. Nothing here logs a token or a response body.
//!
//! HA control planes (`--api-server-endpoints all`): the API servers behind the `kubernetes`
//! Service can serve different key sets mid-rotation, and a request to the server address
//! reaches one of them. So the ready endpoints of that Service are listed from its
//! EndpointSlices, each is read with a client built from the same kube `Config` (same
//! credentials) whose address is the endpoint and whose `tls_server_name` is the host of the
//! configured server URL (every API server's certificate is valid for that name, not
//! necessarily for its own address), and the union of their keys is returned. They must agree
//! on the issuer and on every kid's key. With one endpoint, when listing fails, or when no
//! endpoint answers, the server address is read instead (an info line for the first, a
//! warning for the others); an endpoint that does not answer is skipped with a warning, and
//! a partial read is flagged so that no key is retired during that run (docs/rotation.md,
//! "HA control planes"; the hold is bounded in `model::state`). Only the EndpointSlice named
//! `kubernetes`, the one the API servers maintain, is read: another slice with the same label
//! is anyone's who may create EndpointSlices in `default`.
//!
//! A kubeconfig can also come from memory ([`InlineKubeconfig`]: a fleet cluster's kubeconfig
//! read from a Secret). Its text is never quoted in a message (it holds credentials), and it
//! may not name anything of the publisher's own machine: no exec or auth-provider plugin and no
//! file path (see [`refuse_local_references`]).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use super::{server_text, ApiServerEndpoints, Dropped, Error, KeySource, SourceKeys};
use crate::model::jwk::{parse_jwks, JwksError};
use crate::model::Jwk;

pub const JWKS_PATH: &str = "/openid/v1/jwks";
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The label every EndpointSlice of the `kubernetes` Service carries.
const KUBERNETES_SERVICE_SELECTOR: &str = "kubernetes.io/service-name=kubernetes";

/// The one EndpointSlice the API servers maintain for the `kubernetes` Service. Anyone allowed
/// to create EndpointSlices in `default` can add another with the same label; only this name is
/// trusted. kube-apiserver's endpoint reconciler (pkg/controlplane/reconcilers/
/// endpointsadapter.go) names its slice after the Service and sets exactly one label,
/// `kubernetes.io/service-name: kubernetes`: no `endpointslice.kubernetes.io/managed-by`
/// label, so there is no managed-by value to match. Its dual-stack secondary slice
/// (`kubernetes-v6`/`-v4`) lists the same API servers in the other family and is not needed.
const KUBERNETES_SLICE: &str = "kubernetes";

/// An endpoint that does not accept a connection this fast is treated as unreachable: from a
/// workstation, the API servers' own addresses are often not routable at all.
const ENDPOINT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How to find the cluster, as kubectl does.
#[derive(Clone, Debug, Default)]
pub struct KubeOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub timeout: Duration,
    /// Every API server, or the server address only.
    pub endpoints: ApiServerEndpoints,
    /// A kubeconfig held in memory: when set, it is used instead of `kubeconfig` and of
    /// everything kubectl would look at (`context` still selects the context in it).
    pub inline: Option<InlineKubeconfig>,
}

/// A kubeconfig read from somewhere other than a file (a Secret), and where it came from, for messages.
#[derive(Clone)]
pub struct InlineKubeconfig {
    pub yaml: Arc<str>,
    /// Where the text came from, as messages name it: "the kubeconfig in Secret
    /// fleet/prod-1-kubeconfig (key value)".
    pub origin: String,
}

/// The origin only: the text holds credentials.
impl std::fmt::Debug for InlineKubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineKubeconfig")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl InlineKubeconfig {
    /// kube's configuration from the text, or why not, naming [`InlineKubeconfig::origin`]
    /// and never quoting the text.
    async fn config(&self, options: &KubeConfigOptions) -> Result<kube::Config, Error> {
        let unusable = |detail: String| Error::UnusableKubeconfig {
            detail: format!("{}: {detail}", self.origin),
        };
        let parsed = Kubeconfig::from_yaml(&self.yaml).map_err(|e| unusable(parse_error(&e)))?;
        refuse_local_references(&parsed).map_err(unusable)?;
        kube::Config::from_custom_kubeconfig(parsed, options)
            .await
            .map_err(|e| unusable(e.to_string()))
    }
}

/// Why a kubeconfig's text does not parse, without any of the text: serde-saphyr's message
/// quotes the offending lines (a snippet) and serde's quotes an unexpected value (`invalid
/// type: string "…"`), either of which can be a token or a key. Only the position is kept.
pub(crate) fn parse_error(error: &KubeconfigError) -> String {
    const CHECK: &str = "(its text is not shown: it holds credentials). Decode it to a file and check it with `kubectl --kubeconfig FILE config view`";
    match error {
        KubeconfigError::Parse(yaml) => match yaml.location() {
            Some(at) => format!(
                "not a valid kubeconfig: a YAML error at line {}, column {} {CHECK}",
                at.line(),
                at.column()
            ),
            None => format!("not a valid kubeconfig: a YAML error {CHECK}"),
        },
        // The other errors (reading a file, merging documents) name no content.
        other => other.to_string(),
    }
}

/// A kubeconfig from a Secret may not reach into the publisher's own machine: an `exec` or
/// `auth-provider` plugin would run a command named by whoever can write the Secret (in the
/// pod that holds the publisher's AWS credentials), and a file path (`token-file`,
/// `client-certificate`, `client-key`, `certificate-authority`) would send the publisher's own
/// files, such as its service-account token, to the server the Secret names. Flux refuses
/// `exec` in kubeconfigs from Secrets for the same reason (kustomize-controller's
/// `--insecure-kubeconfig-exec`, off by default). Cluster API's kubeconfigs carry their
/// certificates inline (`*-data`), so they pass.
fn refuse_local_references(config: &Kubeconfig) -> Result<(), String> {
    let refuse = |what: &str, field: &str| {
        Err(format!(
            "{what} sets `{field}`, which a kubeconfig read from a Secret may not use (it would run a command or read a file of the publisher's own pod). Put the credentials in the kubeconfig itself (token, client-certificate-data and client-key-data, certificate-authority-data)"
        ))
    };
    for named in &config.auth_infos {
        let Some(user) = &named.auth_info else {
            continue;
        };
        let what = format!("user {:?}", named.name);
        let fields = [
            ("exec", user.exec.is_some()),
            ("auth-provider", user.auth_provider.is_some()),
            ("tokenFile", user.token_file.is_some()),
            ("client-certificate", user.client_certificate.is_some()),
            ("client-key", user.client_key.is_some()),
        ];
        if let Some((field, _)) = fields.iter().find(|(_, set)| *set) {
            return refuse(&what, field);
        }
    }
    for named in &config.clusters {
        let file = named
            .cluster
            .as_ref()
            .is_some_and(|c| c.certificate_authority.is_some());
        if file {
            return refuse(
                &format!("cluster {:?}", named.name),
                "certificate-authority",
            );
        }
    }
    Ok(())
}

/// One API server address and a client for it.
struct Server {
    client: kube::Client,
    url: String,
}

pub struct KubeSource {
    main: Server,
    /// What `main` was built from: endpoint clients are copies with another address.
    config: kube::Config,
    /// The host of the configured server URL: the TLS name every API server is verified for.
    tls_name: String,
    endpoints: ApiServerEndpoints,
    timeout: Duration,
}

impl KubeSource {
    /// Loads the kubeconfig (the inline one, else `--kubeconfig`, else `$KUBECONFIG`, else
    /// `~/.kube/config`, else the in-cluster service account) and builds a client. No request
    /// is made yet.
    pub async fn connect(options: &KubeOptions) -> Result<KubeSource, Error> {
        let kube_options = KubeConfigOptions {
            context: options.context.clone(),
            ..Default::default()
        };
        let no_config = |detail: String| Error::NoKubeconfig { detail };
        let mut config = match (&options.inline, &options.kubeconfig, &options.context) {
            (Some(inline), _, _) => inline.config(&kube_options).await?,
            (None, Some(path), _) => {
                let file = Kubeconfig::read_from(path).map_err(|e| {
                    no_config(format!("cannot read kubeconfig {}: {e}", path.display()))
                })?;
                kube::Config::from_custom_kubeconfig(file, &kube_options)
                    .await
                    .map_err(|e| no_config(e.to_string()))?
            }
            (None, None, Some(_)) => kube::Config::from_kubeconfig(&kube_options)
                .await
                .map_err(|e| no_config(e.to_string()))?,
            (None, None, None) => kube::Config::infer()
                .await
                .map_err(|e| no_config(e.to_string()))?,
        };
        config.connect_timeout = Some(options.timeout);
        config.read_timeout = Some(options.timeout);
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        // A kubeconfig's own tls-server-name wins; otherwise the host of the server URL.
        let tls_name = config.tls_server_name.clone().unwrap_or_else(|| {
            config
                .cluster_url
                .host()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_owned()
        });
        let client = build_client(&config, &server)?;
        Ok(KubeSource {
            main: Server {
                client,
                url: server,
            },
            config,
            tls_name,
            endpoints: options.endpoints,
            timeout: options.timeout,
        })
    }

    /// The client for the configured server address (for TokenRequest).
    pub fn client(&self) -> &kube::Client {
        &self.main.client
    }

    async fn get(&self, server: &Server, path: &'static str) -> Result<Vec<u8>, Error> {
        let request = http::Request::get(path)
            .body(kube::client::Body::empty())
            .expect("a static request is valid");
        let exchange = async {
            let response = server.client.send(request).await?;
            let status = response.status();
            let body = response.into_body().collect_bytes().await?;
            Ok::<_, kube::Error>((status, body))
        };
        let (status, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => return Err(self.timed_out(server, path)),
            Ok(Err(e)) => return Err(self.transport_error(server, path, e)),
            Ok(Ok(answer)) => answer,
        };
        let server = server.url.clone();
        match status.as_u16() {
            200 => Ok(body.to_vec()),
            401 => Err(Error::Unauthorized { server, path }),
            403 => {
                let message = status_message(&body);
                let subject = rbac_subject(&message);
                Err(Error::Forbidden {
                    server,
                    path,
                    message,
                    subject,
                })
            }
            404 => Err(Error::NotServed { server, path }),
            status => Err(Error::Status {
                server,
                path,
                status,
                body: status_message(&body),
            }),
        }
    }

    fn timed_out(&self, server: &Server, path: &'static str) -> Error {
        Error::Timeout {
            server: server.url.clone(),
            path,
            seconds: self.timeout.as_secs().max(1),
        }
    }

    fn transport_error(&self, server: &Server, path: &'static str, error: kube::Error) -> Error {
        let detail = error_chain(&error);
        if detail.contains("timed out") || detail.contains("deadline has elapsed") {
            return self.timed_out(server, path);
        }
        Error::Unreachable {
            server: server.url.clone(),
            detail,
        }
    }

    /// The issuer and keys one API server serves.
    async fn fetch_from(&self, server: &Server) -> Result<SourceKeys, Error> {
        let (jwks, discovery) = tokio::join!(
            self.get(server, JWKS_PATH),
            self.get(server, DISCOVERY_PATH)
        );
        let (jwks, discovery) = (jwks?, discovery?);
        let url = &server.url;
        let malformed = |path, detail: String| Error::Malformed {
            server: url.clone(),
            path,
            detail,
        };
        let parsed = parse_jwks(&jwks).map_err(|e| match e {
            JwksError::Json(detail) => malformed(JWKS_PATH, format!("not a valid JWKS ({detail})")),
            JwksError::Key(e) => Error::BadKey {
                server: url.clone(),
                detail: e.to_string(),
            },
        })?;
        let doc: serde_json::Value = serde_json::from_slice(&discovery)
            .map_err(|e| malformed(DISCOVERY_PATH, format!("not valid JSON ({e})")))?;
        let issuer = doc
            .get("issuer")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| malformed(DISCOVERY_PATH, "no \"issuer\" string".into()))?;
        let dropped = parsed
            .dropped
            .into_iter()
            .map(|(kid, reason)| Dropped {
                kid,
                source: format!("the API server at {url}"),
                reason,
            })
            .collect();
        Ok(SourceKeys {
            keys: parsed.keys,
            dropped,
            issuer: Some(issuer.to_owned()),
            ..SourceKeys::default()
        })
    }

    /// The ready API server addresses (`https://IP:PORT`) from the `kubernetes` Service's
    /// EndpointSlices, or why they cannot be listed.
    async fn list_endpoints(&self) -> Result<Vec<String>, String> {
        let api: Api<EndpointSlice> = Api::namespaced(self.main.client.clone(), "default");
        let params = ListParams::default()
            .labels(KUBERNETES_SERVICE_SELECTOR)
            .fields(&format!("metadata.name={KUBERNETES_SLICE}"));
        let list = match tokio::time::timeout(self.timeout, api.list(&params)).await {
            Err(_) => {
                return Err(format!(
                    "listing the kubernetes EndpointSlices took more than {} s",
                    self.timeout.as_secs().max(1)
                ))
            }
            Ok(Err(kube::Error::Api(status))) if status.code == 403 => {
                let message = server_text(&status.message);
                let subject = rbac_subject(&message);
                return Err(format!(
                    "the API server refused to list the kubernetes EndpointSlices ({}); allow it with `kubectl -n default create role kube-oidc-publisher-endpoints --verb=list --resource=endpointslices.discovery.k8s.io` and `kubectl -n default create rolebinding kube-oidc-publisher-endpoints --role=kube-oidc-publisher-endpoints {subject}`",
                    message
                ));
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "listing the kubernetes EndpointSlices failed: {}",
                    server_text(&error_chain(&e))
                ))
            }
            Ok(Ok(list)) => list,
        };
        // The field selector already asks for this name; an answer that holds more is not
        // trusted beyond it either.
        let ours: Vec<EndpointSlice> = list
            .items
            .into_iter()
            .filter(|slice| slice.metadata.name.as_deref() == Some(KUBERNETES_SLICE))
            .collect();
        Ok(endpoint_urls(&ours))
    }

    /// A client for one endpoint: the same credentials, verified for the same TLS name.
    fn endpoint(&self, url: &str) -> Result<Server, Error> {
        let unreachable = |detail: String| Error::Unreachable {
            server: url.to_owned(),
            detail,
        };
        let mut config = self.config.clone();
        config.cluster_url = url
            .parse()
            .map_err(|e| unreachable(format!("not a URL ({e})")))?;
        config.tls_server_name = Some(self.tls_name.clone());
        config.connect_timeout = Some(self.timeout.min(ENDPOINT_CONNECT_TIMEOUT));
        let client = build_client(&config, url)?;
        Ok(Server {
            client,
            url: url.to_owned(),
        })
    }

    /// Every API server's keys, or the server address's when they cannot be listed or read.
    /// The list and the read through the server address run concurrently, so a single API
    /// server costs one round trip more in requests but none in time.
    async fn fetch_all(&self) -> Result<SourceKeys, Error> {
        let via = &self.main.url;
        let (listed, main) = tokio::join!(self.list_endpoints(), self.fetch_from(&self.main));
        let with_warning = |main: Result<SourceKeys, Error>, warning: String| {
            let mut keys = main?;
            keys.warnings.push(warning);
            Ok::<_, Error>(keys)
        };
        let urls = match listed {
            Err(why) => {
                return with_warning(main, format!("{why}. Read the keys through {via} only, which reaches one API server per request: in an HA control plane mid-rotation a key only some API servers serve may be missed. Pass --api-server-endpoints service to read the server address on purpose"));
            }
            // One API server: the server address reaches it (and is routable from here).
            Ok(urls) if urls.len() <= 1 => {
                let listed = if urls.is_empty() {
                    "list no ready API server"
                } else {
                    "list 1 API server"
                };
                tracing::info!(
                    "the kubernetes EndpointSlices {listed}; read the keys through {via}"
                );
                return main;
            }
            Ok(urls) => urls,
        };
        let mut servers = Vec::new();
        let mut failed = Vec::new();
        for url in &urls {
            match self.endpoint(url) {
                Ok(server) => servers.push(server),
                Err(e) => failed.push((url.clone(), e)),
            }
        }
        let answers =
            futures::future::join_all(servers.iter().map(|server| self.fetch_from(server))).await;
        let mut read = Vec::new();
        for (server, answer) in servers.iter().zip(answers) {
            match answer {
                Ok(keys) => read.push((server.url.clone(), keys)),
                Err(e) => failed.push((server.url.clone(), e)),
            }
        }
        if read.is_empty() {
            let reasons: Vec<String> = failed.iter().map(|(_, e)| brief(e)).collect();
            return with_warning(main, format!(
                "none of the {} API server endpoints listed in the kubernetes EndpointSlices answered ({}); read the keys through {via} instead, which reaches one API server per request. From outside the cluster network their addresses may not be routable: pass --api-server-endpoints service to read the server address on purpose",
                urls.len(),
                reasons.join("; ")
            ));
        }
        // What the server address answered came from one of them: part of the union too.
        if let Ok(keys) = main {
            read.push((via.clone(), keys));
        }
        let mut keys = union(read)?;
        for (url, error) in &failed {
            keys.warnings.push(format!(
                "API server endpoint {url} was not read ({}); published the keys of the {} that answered. A key only it serves is not published if it is new; published keys stay: no key is retired while an API server cannot be read, for at most one more --retain-removed-keys period after its own retention ends (docs/rotation.md). If {url} is no longer an API server, check the kubernetes EndpointSlice (`kubectl -n default get endpointslice kubernetes -o yaml`)",
                brief(error),
                urls.len() - failed.len()
            ));
        }
        keys.partial = !failed.is_empty();
        Ok(keys)
    }
}

#[async_trait]
impl KeySource for KubeSource {
    fn describe(&self) -> String {
        match self.endpoints {
            ApiServerEndpoints::Service => format!("the API server at {}", self.main.url),
            ApiServerEndpoints::All => format!(
                "the API servers behind {} (every ready endpoint of the kubernetes Service)",
                self.main.url
            ),
        }
    }

    async fn fetch(&self) -> Result<SourceKeys, Error> {
        match self.endpoints {
            ApiServerEndpoints::Service => self.fetch_from(&self.main).await,
            ApiServerEndpoints::All => self.fetch_all().await,
        }
    }
}

/// The kube client for `config` (src/source/client.rs: TCP_NODELAY, the kubeconfig's own
/// certificate accepted as kubectl does, verification never off).
fn build_client(config: &kube::Config, server: &str) -> Result<kube::Client, Error> {
    super::client::build(config).map_err(|e| match e {
        super::client::BuildError::Kube(e) => Error::Unreachable {
            server: server.to_owned(),
            detail: e.to_string(),
        },
        refused => Error::UnusableKubeconfig {
            detail: refused.to_string(),
        },
    })
}

/// An endpoint's failure without the advice meant for the configured server address.
fn brief(error: &Error) -> String {
    match error {
        Error::Unreachable { server, detail } => format!("cannot reach {server}: {detail}"),
        other => other.to_string(),
    }
}

/// `https://ADDRESS:PORT` of every ready endpoint, sorted, without duplicates. The port is the
/// slice's `https` port (else its first); an endpoint's addresses are fungible, so the first is
/// used; `ready` unset counts as ready (the API's convention); FQDN slices are skipped.
fn endpoint_urls(slices: &[EndpointSlice]) -> Vec<String> {
    let mut urls = BTreeSet::new();
    for slice in slices {
        let ipv6 = match slice.address_type.as_str() {
            "IPv4" => false,
            "IPv6" => true,
            _ => continue,
        };
        let ports = slice.ports.as_deref().unwrap_or_default();
        let port = ports
            .iter()
            .find(|p| p.name.as_deref() == Some("https"))
            .or_else(|| ports.first())
            .and_then(|p| p.port);
        let Some(port) = port else { continue };
        for endpoint in &slice.endpoints {
            if endpoint.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            let Some(address) = endpoint.addresses.first() else {
                continue;
            };
            urls.insert(if ipv6 {
                format!("https://[{address}]:{port}")
            } else {
                format!("https://{address}:{port}")
            });
        }
    }
    urls.into_iter().collect()
}

/// The union of what several API servers serve: they must name one issuer, and a kid must
/// mean the same key everywhere (kube-apiserver derives the kid from the key, so a
/// disagreement is a misconfiguration that STS would trip over).
fn union(answers: Vec<(String, SourceKeys)>) -> Result<SourceKeys, Error> {
    let mut issuers: Vec<(String, String)> = Vec::new();
    let mut keys: Vec<(Jwk, String)> = Vec::new();
    let mut out = SourceKeys::default();
    for (url, answer) in answers {
        if let Some(issuer) = answer.issuer {
            issuers.push((url.clone(), issuer));
        }
        for key in answer.keys {
            match keys.iter().find(|(k, _)| k.kid == key.kid) {
                None => keys.push((key, url.clone())),
                Some((known, _)) if *known == key => {}
                Some((_, first)) => {
                    return Err(Error::KeyDisagreement {
                        kid: key.kid,
                        first: first.clone(),
                        second: url,
                    })
                }
            }
        }
        for dropped in answer.dropped {
            if !out.dropped.iter().any(|d| d.kid == dropped.kid) {
                out.dropped.push(dropped);
            }
        }
        out.warnings.extend(answer.warnings);
    }
    let distinct: BTreeSet<&str> = issuers.iter().map(|(_, i)| i.as_str()).collect();
    if distinct.len() > 1 {
        let each: Vec<String> = issuers
            .iter()
            .map(|(url, issuer)| format!("{url} signs with {issuer:?}"))
            .collect();
        return Err(Error::IssuerDisagreement {
            servers: each.join(", "),
        });
    }
    out.issuer = issuers.into_iter().next().map(|(_, issuer)| issuer);
    out.keys = keys.into_iter().map(|(key, _)| key).collect();
    Ok(out)
}

/// The `message` of a Kubernetes `Status` body, or the body itself otherwise, as
/// [`server_text`] makes it printable (one line, no control characters, shortened).
fn status_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(message) = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(|m| m.as_str())
    {
        return server_text(message);
    }
    let text = server_text(&String::from_utf8_lossy(body));
    if text.is_empty() {
        return "(empty body)".into();
    }
    text
}

/// The `kubectl create clusterrolebinding` subject for the user named in a 403 message
/// (`User "system:serviceaccount:ns:name" cannot get path …`).
fn rbac_subject(message: &str) -> String {
    let user = message
        .split("User \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    match user {
        Some(user) => match user.strip_prefix("system:serviceaccount:") {
            Some(sa) => format!("--serviceaccount={sa}"),
            None => format!("--user={user}"),
        },
        None => "--user=<the user of your kubeconfig>".into(),
    }
}

/// An error and its sources, one line, each cause once.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "kop-secret-token-0123456789";

    fn inline(yaml: &str) -> KubeOptions {
        KubeOptions {
            inline: Some(InlineKubeconfig {
                yaml: yaml.into(),
                origin: "the kubeconfig in Secret fleet/prod-1-kubeconfig (key value)".into(),
            }),
            timeout: Duration::from_secs(5),
            ..KubeOptions::default()
        }
    }

    /// Two clusters on addresses nothing listens on, one context each; `a` is current.
    fn two_contexts(user_b: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster:\n    server: https://127.0.0.1:1\n- name: b\n  cluster:\n    server: https://127.0.0.1:2/prefix\n    tls-server-name: api.b.example\nusers:\n- name: a\n  user:\n    token: {TOKEN}\n- name: b\n  user:\n{user_b}contexts:\n- name: a\n  context: {{cluster: a, user: a}}\n- name: b\n  context: {{cluster: b, user: b}}\ncurrent-context: a\n"
        )
    }

    async fn refusal(options: &KubeOptions) -> String {
        match KubeSource::connect(options).await {
            Ok(source) => panic!("connected to {}", source.main.url),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn an_inline_kubeconfig_is_used_with_the_chosen_context() {
        let mut options = inline(&two_contexts(&format!("    token: {TOKEN}\n")));
        let current = KubeSource::connect(&options).await.unwrap();
        assert_eq!(current.main.url, "https://127.0.0.1:1");
        assert_eq!(current.tls_name, "127.0.0.1");
        options.context = Some("b".into());
        // A kubeconfig path is ignored when the inline kubeconfig is set.
        options.kubeconfig = Some("/nonexistent/kubeconfig".into());
        let chosen = KubeSource::connect(&options).await.unwrap();
        assert_eq!(chosen.main.url, "https://127.0.0.1:2/prefix");
        assert_eq!(chosen.tls_name, "api.b.example");
        assert_eq!(
            chosen.describe(),
            "the API server at https://127.0.0.1:2/prefix"
        );
    }

    #[tokio::test]
    async fn a_broken_inline_kubeconfig_names_its_origin_and_never_its_text() {
        let unterminated = format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    token: \"{TOKEN}\n"
        );
        // serde's own message would quote the value: `invalid type: string "…"`.
        let wrong_type = format!("apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: {TOKEN}\n");
        for (yaml, line) in [(unterminated, "line 6"), (wrong_type, "line 7")] {
            let message = refusal(&inline(&yaml)).await;
            assert!(
                message.starts_with("cannot use the kubeconfig: the kubeconfig in Secret fleet/prod-1-kubeconfig (key value): not a valid kubeconfig: a YAML error at "),
                "{message}"
            );
            assert!(message.contains(line), "{message}");
            assert!(!message.contains("kop-secret"), "{message}");
        }
        let options = inline(&two_contexts(&format!("    token: {TOKEN}\n")));
        let debug = format!("{options:?}");
        assert!(debug.contains("fleet/prod-1-kubeconfig"), "{debug}");
        assert!(!debug.contains(TOKEN), "{debug}");
        let message = refusal(&KubeOptions {
            context: Some("c".into()),
            ..options
        })
        .await;
        assert!(
            message.contains("fleet/prod-1-kubeconfig") && message.contains("c"),
            "{message}"
        );
        assert!(!message.contains(TOKEN), "{message}");
    }

    #[tokio::test]
    async fn an_inline_kubeconfig_may_not_run_commands_or_read_local_files() {
        for (user, field) in [
            ("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n", "exec"),
            ("    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n", "tokenFile"),
            ("    client-certificate: /etc/tls.crt\n    client-key: /etc/tls.key\n", "client-certificate"),
        ] {
            let message = refusal(&inline(&two_contexts(user))).await;
            assert!(
                message.contains(&format!("user \"b\" sets `{field}`, which a kubeconfig read from a Secret may not use")),
                "{message}"
            );
            assert!(message.contains("fleet/prod-1-kubeconfig"), "{message}");
        }
        let ca_file = two_contexts(&format!("    token: {TOKEN}\n")).replace(
            "    tls-server-name: api.b.example\n",
            "    certificate-authority: /etc/ca.crt\n",
        );
        let message = refusal(&inline(&ca_file)).await;
        assert!(
            message.contains("cluster \"b\" sets `certificate-authority`"),
            "{message}"
        );
    }

    #[test]
    fn forbidden_messages_name_the_subject_to_bind() {
        let body =
            include_bytes!("../../tests/fixtures/kube-apiserver/forbidden-anonymous-jwks.json");
        let message = status_message(body);
        assert_eq!(
            message,
            "forbidden: User \"system:anonymous\" cannot get path \"/openid/v1/jwks\""
        );
        assert_eq!(rbac_subject(&message), "--user=system:anonymous");
        assert_eq!(
            rbac_subject("forbidden: User \"system:serviceaccount:oidc:publisher\" cannot get path \"/openid/v1/jwks\""),
            "--serviceaccount=oidc:publisher"
        );
        assert_eq!(status_message(b"Unauthorized"), "Unauthorized");
        assert_eq!(status_message(b""), "(empty body)");
    }

    fn slices(json: serde_json::Value) -> Vec<EndpointSlice> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn endpoints_are_the_ready_addresses_on_the_https_port() {
        let list = slices(serde_json::json!([
            {
                "metadata": {"name": "kubernetes"},
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": ["10.0.0.2", "10.9.9.9"], "conditions": {"ready": true}},
                    {"addresses": ["10.0.0.1"]},
                    {"addresses": ["10.0.0.3"], "conditions": {"ready": false}}
                ],
                "ports": [{"name": "metrics", "port": 9000}, {"name": "https", "port": 6443}]
            },
            {
                "metadata": {"name": "kubernetes-v6"},
                "addressType": "IPv6",
                "endpoints": [{"addresses": ["fd00::1"]}],
                "ports": [{"port": 443}]
            },
            {
                "metadata": {"name": "kubernetes-fqdn"},
                "addressType": "FQDN",
                "endpoints": [{"addresses": ["api.example"]}],
                "ports": [{"port": 443}]
            }
        ]));
        assert_eq!(
            endpoint_urls(&list),
            [
                "https://10.0.0.1:6443",
                "https://10.0.0.2:6443",
                "https://[fd00::1]:443"
            ]
        );
    }

    fn answer(jwks: &[u8], issuer: &str) -> SourceKeys {
        SourceKeys {
            keys: parse_jwks(jwks).unwrap().keys,
            issuer: Some(issuer.into()),
            ..SourceKeys::default()
        }
    }

    #[test]
    fn the_union_needs_one_issuer_and_one_key_per_kid() {
        let rsa = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
        let two = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
        let issuer = "https://oidc.example.test/cluster-a";
        let union_of = union(vec![
            ("https://a".into(), answer(rsa, issuer)),
            ("https://b".into(), answer(two, issuer)),
        ])
        .unwrap();
        assert_eq!(union_of.keys.len(), 2);
        assert_eq!(union_of.issuer.as_deref(), Some(issuer));
        let err = union(vec![
            ("https://a".into(), answer(rsa, issuer)),
            ("https://b".into(), answer(rsa, "https://other")),
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("https://b signs with \"https://other\""),
            "{err}"
        );
        let mut forged = answer(rsa, issuer);
        forged.keys[0].e = Some("AQAB-other".into());
        let err = union(vec![
            ("https://a".into(), answer(rsa, issuer)),
            ("https://b".into(), forged),
        ])
        .unwrap_err();
        assert!(matches!(err, Error::KeyDisagreement { .. }), "{err}");
    }
}
