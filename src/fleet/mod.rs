//! Publishing for many clusters from one process (`sync --fleet`, `run --fleet`): [`pass`]
//! finds a fleet's members and publishes each one exactly as `sync` would, isolated from the
//! others and at most `--concurrency` at a time.

pub mod pass;
pub mod tally;
