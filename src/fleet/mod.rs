//! Publishing for many clusters from one process (`sync --fleet`, `run --fleet`): [`pass`]
//! finds a fleet's members (the fleet file's, and the Cluster API clusters whose kubeconfig
//! Secrets [`secrets`] lists in the management cluster) and publishes each one exactly as
//! `sync` would, isolated from the others and at most `--concurrency` at a time; [`tally`]
//! sums a pass up (counts, the worst exit status, IAM's provider quota).

pub mod pass;
pub mod secrets;
pub mod tally;
