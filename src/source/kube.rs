//! Keys from the API server: `GET /openid/v1/jwks` and `GET /.well-known/openid-configuration`
//! with the user's own credentials (kube's client and kubeconfig handling: exec plugins,
//! client certificates, in-cluster tokens), as raw requests so every status is ours to explain.
//! The two requests run concurrently. Nothing here logs a token or a response body.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{Dropped, Error, KeySource, SourceKeys};
use crate::model::jwk::{parse_jwks, JwksError};

pub const JWKS_PATH: &str = "/openid/v1/jwks";
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// How to find the cluster, as kubectl does.
#[derive(Clone, Debug, Default)]
pub struct KubeOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub timeout: Duration,
}

pub struct KubeSource {
    client: kube::Client,
    server: String,
    timeout: Duration,
}

impl KubeSource {
    /// Loads the kubeconfig (`--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`, else the
    /// in-cluster service account) and builds a client. No request is made yet.
    pub async fn connect(options: &KubeOptions) -> Result<KubeSource, Error> {
        let kube_options = KubeConfigOptions {
            context: options.context.clone(),
            ..Default::default()
        };
        let no_config = |detail: String| Error::NoKubeconfig { detail };
        let mut config = match (&options.kubeconfig, &options.context) {
            (Some(path), _) => {
                let file = Kubeconfig::read_from(path).map_err(|e| {
                    no_config(format!("cannot read kubeconfig {}: {e}", path.display()))
                })?;
                kube::Config::from_custom_kubeconfig(file, &kube_options)
                    .await
                    .map_err(|e| no_config(e.to_string()))?
            }
            (None, Some(_)) => kube::Config::from_kubeconfig(&kube_options)
                .await
                .map_err(|e| no_config(e.to_string()))?,
            (None, None) => kube::Config::infer()
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
        let client = kube::Client::try_from(config).map_err(|e| Error::Unreachable {
            server: server.clone(),
            detail: e.to_string(),
        })?;
        Ok(KubeSource {
            client,
            server,
            timeout: options.timeout,
        })
    }

    async fn get(&self, path: &'static str) -> Result<Vec<u8>, Error> {
        let request = http::Request::get(path)
            .body(kube::client::Body::empty())
            .expect("a static request is valid");
        let exchange = async {
            let response = self.client.send(request).await?;
            let status = response.status();
            let body = response.into_body().collect_bytes().await?;
            Ok::<_, kube::Error>((status, body))
        };
        let (status, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => return Err(self.timed_out(path)),
            Ok(Err(e)) => return Err(self.transport_error(path, e)),
            Ok(Ok(answer)) => answer,
        };
        let server = self.server.clone();
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

    fn timed_out(&self, path: &'static str) -> Error {
        Error::Timeout {
            server: self.server.clone(),
            path,
            seconds: self.timeout.as_secs().max(1),
        }
    }

    fn transport_error(&self, path: &'static str, error: kube::Error) -> Error {
        let detail = error_chain(&error);
        if detail.contains("timed out") || detail.contains("deadline has elapsed") {
            return self.timed_out(path);
        }
        Error::Unreachable {
            server: self.server.clone(),
            detail,
        }
    }
}

#[async_trait]
impl KeySource for KubeSource {
    fn describe(&self) -> String {
        format!("the API server at {}", self.server)
    }

    async fn fetch(&self) -> Result<SourceKeys, Error> {
        let (jwks, discovery) = tokio::join!(self.get(JWKS_PATH), self.get(DISCOVERY_PATH));
        let (jwks, discovery) = (jwks?, discovery?);
        let server = &self.server;
        let malformed = |path, detail: String| Error::Malformed {
            server: server.clone(),
            path,
            detail,
        };
        let parsed = parse_jwks(&jwks).map_err(|e| match e {
            JwksError::Json(detail) => malformed(JWKS_PATH, format!("not a valid JWKS ({detail})")),
            JwksError::Key(e) => Error::BadKey {
                server: server.clone(),
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
                source: self.describe(),
                reason,
            })
            .collect();
        Ok(SourceKeys {
            keys: parsed.keys,
            dropped,
            issuer: Some(issuer.to_owned()),
        })
    }
}

/// The `message` of a Kubernetes `Status` body, or the body itself (shortened) otherwise.
fn status_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(message) = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(|m| m.as_str())
    {
        return message.to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    text.chars().take(200).collect()
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

fn error_chain(error: &dyn std::error::Error) -> String {
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
}
