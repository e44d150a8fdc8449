//! `run`: validate the options, then hand over to the daemon in `crate::run` (one cluster, or
//! with `--fleet`/`--fleet-from` every cluster of a fleet).

use clap::ArgMatches;

use crate::cli::RunArgs;
use crate::config::{FleetRunConfig, RunConfig};
use crate::exit::Exit;

pub async fn run(args: &RunArgs, matches: &ArgMatches) -> anyhow::Result<Exit> {
    if args.sync.fleet.is_fleet() {
        let config = FleetRunConfig::from_args(args, matches)?;
        return crate::run::fleet::run(config).await;
    }
    let config = RunConfig::from_args(args)?;
    crate::run::run(config).await
}
