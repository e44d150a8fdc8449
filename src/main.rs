//! Parse → tracing → dispatch → exit code. Everything else lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use kube_oidc_publisher::cli::{Cli, Command};
use kube_oidc_publisher::exit::Exit;
use kube_oidc_publisher::{commands, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    // One thread is plenty for a handful of concurrent requests and keeps memory low.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Error.into();
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Sync(args) => commands::sync::run(args).await,
            Command::Run(args) => commands::run::run(args).await,
            Command::Thumbprint(args) => commands::thumbprint::run(args).await,
            Command::TrustPolicy(args) => commands::trust_policy::run(args).await,
            Command::Rotate(command) => commands::rotate::run(command).await,
            Command::Bootstrap(args) => commands::bootstrap::run(args).await,
            Command::Doctor(args) => commands::doctor::run(args).await,
            Command::Completions(args) => commands::completions::run(args),
            Command::Man(args) => commands::man::run(args),
        }
    });
    // Do not wait for a blocking task left behind (a DNS lookup of an abandoned pass): `run`
    // promises to exit within 10 s of SIGTERM.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Error.into()
        }
    }
}
