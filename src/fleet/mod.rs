//! Many clusters from one publisher: where a fleet's clusters and their kubeconfigs come from.

pub mod cluster_api;
pub mod secrets;
