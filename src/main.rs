//! Parse → tracing → dispatch → exit code. Everything else lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use kube_oidc_publisher::cli::{Cli, Command};
use kube_oidc_publisher::exit::Exit;
use kube_oidc_publisher::{commands, output, telemetry};

fn main() -> ExitCode {
    // The matches as well as the parsed options: a fleet needs to know which options the
    // command line set (they apply to every cluster and override the fleet file).
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => return usage_error(error),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let subcommand = |name: &str| {
        matches
            .subcommand_matches(name)
            .expect("the parsed command is the matched one")
    };
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
            Command::Sync(args) => commands::sync::run(args, subcommand("sync")).await,
            Command::Run(args) => commands::run::run(args, subcommand("run")).await,
            Command::Thumbprint(args) => commands::thumbprint::run(args).await,
            Command::TrustPolicy(args) => commands::trust_policy::run(args).await,
            Command::Rotate(command) => commands::rotate::run(command).await,
            Command::Issuer(command) => commands::issuer::run(command).await,
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

/// A command line clap refuses: its message on stderr as always, exit 2, and with `--output
/// json` (read from the raw arguments and the environment, since parsing failed) the error
/// object on stdout that docs/cli.md promises. `--help` and `--version` are clap's as usual.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        error.exit();
    }
    let json = output::json_requested(
        std::env::args_os(),
        std::env::var_os("KUBE_OIDC_PUBLISHER_OUTPUT"),
    );
    if json {
        let message = output::usage_error_message(&error.render().to_string());
        println!("{}", output::error_object(&message));
    }
    let _ = error.print();
    Exit::Error.into()
}
