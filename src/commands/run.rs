//! `run`: validate the options, then hand over to the daemon in `crate::run` (one cluster, or
//! with `--fleet`/`--fleet-from` every cluster of a fleet).

use clap::ArgMatches;

use crate::cli::RunArgs;
use crate::config::RunConfig;
use crate::exit::Exit;

pub async fn run(args: &RunArgs, _matches: &ArgMatches) -> anyhow::Result<Exit> {
    let config = RunConfig::from_args(args)?;
    crate::run::run(config).await
}
