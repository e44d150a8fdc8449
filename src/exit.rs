//! Exit codes, part of the interface (documented in docs/cli.md): 0 done or nothing to do,
//! 1 drift found by `--check`, 2 error.

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything is published as it should be (or was just made so), or a dry run.
    Ok = 0,
    /// `--check` found changes pending.
    Drift = 1,
    /// Something went wrong; nothing published was broken.
    Error = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}
