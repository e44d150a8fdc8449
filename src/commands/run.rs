//! `run`: validate the options, then hand over to the daemon in `crate::run`.

use crate::cli::RunArgs;
use crate::config::RunConfig;
use crate::exit::Exit;

pub async fn run(args: &RunArgs) -> anyhow::Result<Exit> {
    let config = RunConfig::from_args(args)?;
    crate::run::run(config).await
}
