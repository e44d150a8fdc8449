//! kube-oidc-publisher: publish a self-managed Kubernetes cluster's OIDC discovery documents so
//! that AWS STS can verify its service-account tokens (IAM Roles for Service Accounts).
//!
//! The whole tool is one reconcile loop, in three steps:
//!
//! 1. **observe** what is true now: the signing keys (from the API server or key files, see
//!    [`source`]) and what is already published (see [`store`]);
//! 2. **plan** with a pure function ([`plan::plan`]) that compares the desired documents,
//!    rendered by [`model`], with the observed ones and returns plain data;
//! 3. **apply** the plan against the effect traits ([`reconcile`]: `mod.rs` the sequence,
//!    `documents` the store's side, `provider` the IAM side, `report` what a sync reports).
//!
//! [`publish`] builds the effects a validated [`config::SyncConfig`] names and runs that loop
//! once; every command that publishes (`sync`, `bootstrap`, `rotate`) goes through it, and
//! [`run`] repeats it as a daemon, with health and metrics endpoints. [`bootstrap`] is the
//! one-time AWS setup (bucket, publisher role) as its own observe → plan → apply, and its
//! inverse, removing one cluster from a shared bucket (`bootstrap::delete`); [`doctor`]
//! observes everything and explains what is wrong. [`commands`] holds one thin file per
//! subcommand (`bootstrap/` two: set up, and `--delete`); [`cli`] the flags.
//!
//! The arrows point one way: `commands` → `run` → `publish` → `reconcile` → the effects
//! (`source`, `store`, `iam`, `tls`, `aws`) → `model` and `plan`. `model` and `plan` never
//! import from `source`, `store` or the AWS/kube SDKs: they are the pure core, tested without a
//! network. Only `reconcile`, `publish` and `commands` see both sides.
//!
//! [`migration`] moves a cluster to a new issuer (`issuer prepare | status | finish`): both
//! stores' state objects record the move, so `publish` keeps both issuers' documents current,
//! and the trust policies of the roles change through the [`roles`] effect, edited as text by
//! `model::migration`.
//!
//! [`fleet`] publishes for many clusters from one process (`sync --fleet`, `run --fleet`):
//! each cluster exactly as `sync` would, isolated from the others; its `Secrets` effect reads
//! their kubeconfigs in the management cluster, and `model::cluster_api` finds Cluster API's.
//!
//! `calls` is what the in-memory effects (`iam::memory`, `bootstrap::memory`,
//! `fleet::secrets`' memory) share: calls
//! counted by name and a chosen call failing, for unit tests.
#![forbid(unsafe_code)]

pub mod aws;
pub mod bootstrap;
pub mod calls;
pub mod cli;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod exit;
pub mod fleet;
pub mod hosting;
pub mod iam;
pub mod migration;
pub mod model;
pub mod output;
pub mod plan;
pub mod publish;
pub mod reconcile;
pub mod roles;
pub mod run;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod tls;
