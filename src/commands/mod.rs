//! One thin file per subcommand: build the effects from the configuration, call the library,
//! print, and return the exit code.

pub mod bootstrap;
pub mod completions;
pub mod doctor;
pub mod issuer;
pub mod man;
pub mod rotate;
pub mod run;
pub mod sync;
pub mod thumbprint;
pub mod trust_policy;
