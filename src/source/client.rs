//! The kube client that talks to the API server: kube's own TLS configuration (the kubeconfig's
//! CA bundle and client certificate, exec plugins' certificates), authentication layer (tokens,
//! exec plugins, in-cluster token files), base URI and extra headers, retry policy and timeouts,
//! assembled as kube's `ClientBuilder` does, with two differences:
//!
//! - **TCP_NODELAY on every connection.** kube's builder uses a plain `HttpConnector`, so
//!   Nagle's algorithm holds the first request on a new connection (it follows the TLS
//!   `Finished` message, which kube-apiserver acknowledges only after its delayed-ACK timer):
//!   every API-server answer arrived 40 ms late. The AWS SDK sets it too.
//! - **The kubeconfig's own certificate as the server's identity.** A kubeconfig whose
//!   `certificate-authority(-data)` is the API server's self-signed certificate with `CA:TRUE`
//!   is accepted by kubectl (Go takes a certificate in the root pool as a complete chain),
//!   while webpki refuses a CA certificate as an end entity (`CaUsedAsEndEntity`). The
//!   [`kubeconfig_ca_verifier`] accepts exactly that case: the presented certificate is
//!   byte-identical to a certificate of the bundle, is valid now and names the server; the
//!   handshake signature is verified as always, and everything else is the webpki verifier's
//!   decision.
//!
//! TLS verification is never turned off: a kubeconfig with `insecure-skip-tls-verify: true` is
//! refused with a message saying what to put instead.

use std::sync::Arc;

use base64::Engine as _;
use http::HeaderValue;
use hyper::rt::{Read, Write};
use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ConfigExt as _};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tower::ServiceBuilder;

use crate::tls::Verifier;

/// Why no client could be built from the kubeconfig.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `insecure-skip-tls-verify: true`: refused, never honoured.
    #[error("the kubeconfig's cluster sets insecure-skip-tls-verify: true, and this tool never turns TLS verification off (the keys it publishes are the ones AWS trusts for your cluster, so an unverified server could make it publish an attacker's key). Put the API server's CA in the cluster's certificate-authority-data (on the control plane: /etc/kubernetes/pki/ca.crt, or the server's own certificate) and remove insecure-skip-tls-verify")]
    InsecureSkipTlsVerify,
    /// A proxy scheme this build cannot use.
    #[error("the kubeconfig's proxy-url {url} uses a scheme this tool does not support: use an http:// proxy (HTTP CONNECT), or unset proxy-url and reach the API server directly")]
    ProxyScheme { url: String },
    /// kube could not build its TLS configuration or layers (bad client certificate, CA, …).
    #[error("{0}")]
    Kube(#[from] kube::Error),
}

/// A client for `config.cluster_url`, as described in the module documentation.
pub fn build(config: &kube::Config) -> Result<kube::Client, BuildError> {
    if config.accept_invalid_certs {
        return Err(BuildError::InsecureSkipTlsVerify);
    }
    let tcp = tcp_connector();
    match &config.proxy_url {
        None => finish(config, tcp),
        Some(proxy) if proxy.scheme_str() == Some("http") => {
            let mut tunnel = Tunnel::new(proxy.clone(), tcp);
            if let Some(auth) = proxy_basic_auth(proxy) {
                tunnel = tunnel.with_auth(auth);
            }
            finish(config, tunnel)
        }
        Some(proxy) => Err(BuildError::ProxyScheme {
            url: proxy.to_string(),
        }),
    }
}

/// The TCP connector under TLS (and under the proxy tunnel): `TCP_NODELAY` on, any scheme
/// (TLS is layered above it).
pub(crate) fn tcp_connector() -> HttpConnector {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp
}

/// kube's `make_generic_builder`, over `connector`, with [`rustls_config`].
fn finish<C>(config: &kube::Config, connector: C) -> Result<kube::Client, BuildError>
where
    C: tower::Service<http::Uri> + Clone + Send + Sync + 'static,
    C::Response: Connection + Read + Write + Send + Unpin + 'static,
    C::Future: Send + 'static,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(rustls_config(config)?)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = ServerName::try_from(name.clone()).map_err(|e| {
            kube::Error::RustlsTls(kube::client::RustlsTlsError::InvalidServerName(e))
        })?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let mut connector = TimeoutConnector::new(https.enable_http1().wrap_connector(connector));
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    // The read timeout counts from the request written, not from the last byte read: a
    // pooled connection's reader is polled while it sits idle, so without the reset its timer
    // runs through the idle time, and a connection reused (by `run --fleet`'s next pass) just
    // as it fires fails the request at once with a "timeout" that never happened.
    connector.set_reset_reader_on_write(true);
    let http: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new()).build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.default_retry.then(|| {
            tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry())
        }))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}

/// kube's rustls configuration (its roots, client certificate, exec plugin certificate,
/// in-cluster CA reloading), with the [`kubeconfig_ca_verifier`] when the CA bundle comes from
/// the kubeconfig.
fn rustls_config(config: &kube::Config) -> Result<rustls::ClientConfig, BuildError> {
    let mut tls = config.rustls_client_config()?;
    if let (Some(bundle), None) = (&config.root_cert, &config.root_cert_file) {
        let verifier = kubeconfig_ca_verifier(bundle, tls.crypto_provider().clone())?;
        tls.dangerous().set_certificate_verifier(Arc::new(verifier));
    }
    Ok(tls)
}

/// `Proxy-Authorization: Basic …` from the proxy URL's user information, percent-decoded.
fn proxy_basic_auth(proxy: &http::Uri) -> Option<HeaderValue> {
    let (userinfo, _) = proxy.authority()?.as_str().split_once('@')?;
    let plain: Vec<u8> = percent_encoding::percent_decode_str(userinfo).collect();
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(plain)
    );
    let mut value = HeaderValue::from_str(&value).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The [`Verifier`] over the kubeconfig's CA bundle, plus what kubectl also accepts: a server
/// presenting one of the bundle's own certificates, byte for byte, even when it is a CA
/// certificate (`CaUsedAsEndEntity` for webpki), as long as it is within its validity period
/// and valid for the server name. Signatures are always checked by webpki.
pub(crate) fn kubeconfig_ca_verifier(
    bundle: &[Vec<u8>],
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Verifier, BuildError> {
    fn add_root(e: impl std::error::Error + Send + Sync + 'static) -> kube::Error {
        kube::Error::RustlsTls(kube::client::RustlsTlsError::AddRootCertificate(Box::new(
            e,
        )))
    }
    let bundle: Vec<CertificateDer<'static>> = bundle
        .iter()
        .map(|der| CertificateDer::from(der.clone()))
        .collect();
    let mut roots = rustls::RootCertStore::empty();
    for cert in &bundle {
        roots.add(cert.clone()).map_err(add_root)?;
    }
    Ok(Verifier::new(roots, provider)
        .map_err(add_root)?
        .accepting_own_certificates(bundle))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regression guard for the 40 ms idle wait: the connector kube's client is built on
    /// must set TCP_NODELAY on the sockets it opens. Not timed: the socket option is read back.
    #[tokio::test]
    async fn api_server_connections_set_tcp_nodelay() {
        use tower::ServiceExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: http::Uri = format!("https://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let (stream, accepted) = tokio::join!(tcp_connector().oneshot(uri), listener.accept());
        let stream = stream.expect("connects to the local listener");
        accepted.expect("accepted");
        assert!(
            stream.inner().nodelay().unwrap(),
            "the API server connector must set TCP_NODELAY (else each answer waits ~40 ms)"
        );
    }

    #[test]
    fn insecure_skip_tls_verify_is_refused() {
        let mut config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
        config.accept_invalid_certs = true;
        let refused = build(&config).err();
        assert!(
            matches!(refused, Some(BuildError::InsecureSkipTlsVerify)),
            "{refused:?}"
        );
    }

    #[test]
    fn proxy_user_information_becomes_basic_auth() {
        let proxy: http::Uri = "http://user%40corp:p%3Ass@127.0.0.1:3128".parse().unwrap();
        let value = proxy_basic_auth(&proxy).unwrap();
        assert_eq!(value.to_str().unwrap(), "Basic dXNlckBjb3JwOnA6c3M=");
        assert!(value.is_sensitive());
        assert!(proxy_basic_auth(&"http://127.0.0.1:3128".parse().unwrap()).is_none());
    }
}
