//! Logging: human-readable or JSON lines on stderr (stdout carries the command's result).
//! The default filter keeps our own `info` and everyone else's warnings, except the kube
//! client's request tracing (`kube_client`, and `tower_http` under it): it logs every failed
//! request at ERROR (`failed with error client error (Connect)`), before and besides our own
//! message, which says what failed and what to do. Likewise the AWS SDK's credential chain and
//! web-identity provider (`aws_config::meta::credentials::chain`,
//! `aws_config::web_identity_token`): they log a provider's failure at WARN, and the same error
//! reaches our message through the failed request. `RUST_LOG` overrides the default
//! (`RUST_LOG=kube_client=debug` shows kube's lines again). Nothing logs tokens or
//! credentials: we never log request headers or bodies, and the dependencies' debug output
//! (which might) is off unless asked for.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Without `RUST_LOG`: our `info`, others' warnings, none of kube's request tracing, and no
/// warning from the AWS credential providers whose error our own message already carries.
pub const DEFAULT_FILTER: &str = "warn,kube_oidc_publisher=info,kube_client=off,tower_http=off,\
aws_config::meta::credentials::chain=error,aws_config::web_identity_token=error";

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.without_time().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
