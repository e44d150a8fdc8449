//! `thumbprint URL`: the options of the command that prints a host's IAM thumbprint.

use clap::Args;

use super::{Output, PublicTls, RequestTimeout};

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

    #[command(flatten)]
    pub tls: PublicTls,

    #[command(flatten)]
    pub output: Output,

    #[command(flatten)]
    pub timeout: RequestTimeout,
}
