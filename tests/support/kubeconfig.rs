//! Kubeconfig writers for tests: a kubeconfig pointing at a [`FakeApiServer`] (CA as
//! `certificate-authority-data`, bearer token, one context `fake` that is current), variants
//! with another token or none, one pointing at a 127.0.0.1 port with nothing listening, and a
//! general [`KubeconfigSpec`] for anything else; and [`FakeApiServer::kubeconfig_yaml`], the
//! same text for a Secret.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use base64::Engine;

use super::apiserver::{FakeApiServer, TestPki};

/// Everything a single-cluster kubeconfig can say.
#[derive(Clone, Debug)]
pub struct KubeconfigSpec {
    pub server: String,
    /// PEM, written base64-encoded as `certificate-authority-data`.
    pub ca_pem: Option<String>,
    pub token: Option<String>,
    pub insecure_skip_tls_verify: bool,
    /// Name of the cluster, user and context, which is also the current context.
    pub context: String,
    pub namespace: Option<String>,
}

impl KubeconfigSpec {
    /// Admin access to `server` through context `fake`.
    pub fn for_server(server: &FakeApiServer) -> KubeconfigSpec {
        KubeconfigSpec {
            server: server.url(),
            ca_pem: Some(server.ca_pem().to_string()),
            token: Some(server.token().to_string()),
            insecure_skip_tls_verify: false,
            context: "fake".to_string(),
            namespace: None,
        }
    }

    pub fn to_yaml(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let mut cluster = format!("    server: {}\n", q(&self.server));
        if let Some(pem) = &self.ca_pem {
            let data = base64::engine::general_purpose::STANDARD.encode(pem);
            cluster.push_str(&format!("    certificate-authority-data: {data}\n"));
        }
        if self.insecure_skip_tls_verify {
            cluster.push_str("    insecure-skip-tls-verify: true\n");
        }
        let user = match &self.token {
            Some(token) => format!("  user:\n    token: {}\n", q(token)),
            None => "  user: {}\n".to_string(),
        };
        let namespace = match &self.namespace {
            Some(ns) => format!("    namespace: {}\n", q(ns)),
            None => String::new(),
        };
        let name = q(&self.context);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n{cluster}\
             users:\n- name: {name}\n{user}\
             contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n{namespace}\
             current-context: {name}\npreferences: {{}}\n"
        )
    }
}

impl FakeApiServer {
    /// The text of a kubeconfig with admin access to this server (context `fake`), as a
    /// Secret would hold it.
    pub fn kubeconfig_yaml(&self) -> String {
        KubeconfigSpec::for_server(self).to_yaml()
    }
}

/// Write `spec` to `path` and return `path`.
pub fn write_kubeconfig_spec(path: &Path, spec: &KubeconfigSpec) -> PathBuf {
    std::fs::write(path, spec.to_yaml())
        .unwrap_or_else(|e| panic!("writing kubeconfig {}: {e}", path.display()));
    path.to_path_buf()
}

/// `dir/kubeconfig` with admin access to `server`.
pub fn write_kubeconfig(dir: &Path, server: &FakeApiServer) -> PathBuf {
    write_kubeconfig_spec(&dir.join("kubeconfig"), &KubeconfigSpec::for_server(server))
}

/// `dir/kubeconfig` for `server` with another token (`None`: no credentials at all, which
/// the server answers with 403 as for `system:anonymous`).
pub fn write_kubeconfig_with_token(
    dir: &Path,
    server: &FakeApiServer,
    token: Option<&str>,
) -> PathBuf {
    let spec = KubeconfigSpec {
        token: token.map(str::to_string),
        ..KubeconfigSpec::for_server(server)
    };
    write_kubeconfig_spec(&dir.join("kubeconfig"), &spec)
}

/// `dir/kubeconfig` like [`write_kubeconfig`] but with a server URL nobody listens on.
pub fn write_kubeconfig_unreachable(dir: &Path, server: &FakeApiServer) -> PathBuf {
    let spec = KubeconfigSpec {
        server: unreachable_url(),
        ..KubeconfigSpec::for_server(server)
    };
    write_kubeconfig_spec(&dir.join("kubeconfig"), &spec)
}

/// `https://127.0.0.1:PORT` for a port that was free a moment ago (bound, then released).
pub fn unreachable_url() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("https://127.0.0.1:{port}")
}

/// PEM of a freshly generated CA that signed nothing any fake server uses, for
/// "untrusted certificate" tests.
pub fn untrusted_ca_pem() -> String {
    TestPki::generate().ca_pem
}
