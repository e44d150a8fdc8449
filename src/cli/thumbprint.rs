//! `thumbprint URL`: the options of the command that prints a host's IAM thumbprint.

use std::path::PathBuf;

use clap::Args;

use crate::output::OutputFormat;

pub(super) const THUMBPRINT_LONG_ABOUT: &str = "\
Print the thumbprint IAM needs for an OIDC identity provider: the SHA-1 of the last certificate
the host serves (what `openssl s_client -showcerts` shows last), as 40 lowercase hex digits on
the first line, followed by a summary of the served chain.

The chain is verified first, against the system roots plus any --ca-file, for the host name in
the URL: a chain that does not verify is an error, never a thumbprint (a TLS-intercepting proxy
would otherwise hand you the proxy's thumbprint). Since 2023 IAM trusts public CAs by itself and
uses the thumbprint only for hosts whose certificate is not from a trusted CA; see
docs/thumbprint.md.

Examples:
  kube-oidc-publisher thumbprint https://oidc.example.com
  kube-oidc-publisher thumbprint https://oidc.internal:8443 --ca-file private-ca.pem --output json
  # a new host before DNS points at it; the certificate is still verified for oidc.example.com
  kube-oidc-publisher thumbprint https://oidc.example.com --connect-to oidc.example.com:443:10.0.0.7:443";

#[derive(Clone, Debug, Args)]
pub struct ThumbprintArgs {
    /// The https:// URL of the host that serves the JWKS (its path is ignored).
    ///
    /// The port is 443 unless the URL names another one. The thumbprint belongs to the host:
    /// if the discovery document and the JWKS are served by different hosts, IAM needs both.
    #[arg(value_name = "URL")]
    pub url: String,

    /// A PEM file of CA certificates to trust besides the system roots; repeatable.
    ///
    /// For hosts whose certificate comes from a private CA. A file may hold several
    /// certificates. In the environment variable, separate several paths with commas.
    #[arg(
        long = "ca-file",
        value_name = "PATH",
        env = "KUBE_OIDC_PUBLISHER_CA_FILE",
        value_delimiter = ','
    )]
    pub ca_files: Vec<PathBuf>,

    /// Connect to TO_HOST:TO_PORT when opening TLS to HOST:PORT (like curl's --connect-to).
    ///
    /// The certificate is still verified for HOST. For checking an endpoint before DNS points
    /// at it.
    #[arg(
        long = "connect-to",
        value_name = "HOST:PORT:TO_HOST:TO_PORT",
        env = "KUBE_OIDC_PUBLISHER_CONNECT_TO",
        value_delimiter = ','
    )]
    pub connect_to: Vec<String>,

    /// Result format on stdout.
    ///
    /// text: the thumbprint alone on the first line, then a summary of the chain. json: one
    /// object with thumbprint, host, port and, for every served certificate, subject, issuer,
    /// not_after (RFC 3339), self_signed and sha1.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "KUBE_OIDC_PUBLISHER_OUTPUT"
    )]
    pub output: OutputFormat,

    /// Seconds allowed to resolve, connect and complete the TLS handshake.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        env = "KUBE_OIDC_PUBLISHER_TIMEOUT"
    )]
    pub timeout: u64,
}
