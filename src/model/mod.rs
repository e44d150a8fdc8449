//! The pure core's data: issuers, JWKs, key sets and the discovery document, with their
//! validation and canonical rendering. Nothing here does I/O or reads the clock.

pub mod apiserver_flags;
pub mod bucket_statement;
pub mod cloudfront;
pub mod cluster_api;
pub mod discovery;
pub mod fleet;
pub mod issuer;
pub mod jwk;
pub mod keyfile;
pub mod migration;
pub mod policy;
pub mod prefix;
pub mod rotation;
pub mod state;
pub mod thumbprint;

pub use discovery::Discovery;
pub use issuer::Issuer;
pub use jwk::{Jwk, KeySet};

/// Object key of the discovery document, relative to the issuer root.
pub const DISCOVERY_PATH: &str = ".well-known/openid-configuration";
/// Object key of the JWKS, relative to the issuer root (the path kube-apiserver uses).
pub const JWKS_PATH: &str = "openid/v1/jwks";
