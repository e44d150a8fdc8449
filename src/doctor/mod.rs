//! `doctor`: tell users why STS rejects their pods, before STS does. It walks the chain the
//! way STS will, in STS's order: the issuer string, the discovery document and the JWKS
//! fetched anonymously as STS fetches them, the keys and a real token verified against the
//! **public** JWKS, the IAM OIDC provider, the S3 bucket's public access (or, for an issuer
//! served by CloudFront, the distribution, its origin access control, the bucket policy, the
//! certificate, DNS and the edge's copy), and a role's trust policy; during a move to another
//! issuer (recorded by `issuer prepare` in `--store`'s state), the other issuer's documents,
//! provider and trust too, judged by which pods need that side now or from a later step. Each
//! problem becomes a
//! [`Finding`] naming the exact STS error it leads to (PROTOCOL.md §6) and a one-line fix.
//!
//! The same observe → decide shape as `sync`, without apply: [`observe`] (effects, read-only)
//! gathers [`Facts`], [`checks::check`] (pure, given `now`) turns them into findings, and
//! [`findings`] renders the report and the exit code: 0 nothing would fail, 1 something would,
//! 2 doctor itself could not run (bad flags, or checks it was asked for could not read what
//! they need). Doctor never writes anything anywhere.

pub mod bucket;
pub mod checks;
pub mod cloudfront;
pub mod config;
pub mod facts;
pub mod findings;
pub mod http;
pub mod migration;
pub mod observe;
pub mod token;
pub mod trust;

pub use config::DoctorConfig;
pub use facts::Facts;
pub use findings::{Finding, Report, Severity, Verdict};

#[cfg(test)]
mod tests;
