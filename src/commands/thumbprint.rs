//! `thumbprint`: fetch the verified chain the URL's host serves (`tls`; through the address of
//! a `--connect-to` naming the host), compute the IAM thumbprint of its last certificate
//! (`model::thumbprint`), print it. Errors go up as `anyhow` with their `tls::Error` meaning
//! intact; nothing is written anywhere.

use std::time::Duration;

use anyhow::Context as _;

use crate::cli::ThumbprintArgs;
use crate::exit::Exit;
use crate::model::thumbprint::{Endpoint, ThumbprintReport};
use crate::output::OutputFormat;
use crate::tls::ConnectTo;

pub async fn run(args: &ThumbprintArgs) -> anyhow::Result<Exit> {
    let result = thumbprint(args).await;
    if let (Err(error), OutputFormat::Json) = (&result, args.output.format) {
        // Scripts reading stdout get a result object on failure too; stderr has the same text.
        println!(
            "{}",
            serde_json::json!({ "status": "error", "error": format!("{error:#}") })
        );
    }
    result
}

async fn thumbprint(args: &ThumbprintArgs) -> anyhow::Result<Exit> {
    let endpoint = Endpoint::from_url(&args.url)?;
    let connect_to = args
        .tls
        .connect_to
        .iter()
        .map(|raw| raw.parse::<ConnectTo>().map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Like curl: the first --connect-to for this HOST:PORT, else the host itself.
    let via = connect_to
        .iter()
        .find(|c| c.applies_to(&endpoint.host, endpoint.port))
        .map_or((endpoint.host.as_str(), endpoint.port), |c| {
            (c.to_host.as_str(), c.to_port)
        });
    let chain = crate::tls::fetch_verified_chain_via(
        &endpoint.host,
        endpoint.port,
        via,
        &args.tls.ca_files,
        Duration::from_secs(args.timeout.seconds),
    )
    .await?;
    let report = ThumbprintReport::new(&endpoint, &chain)
        .with_context(|| format!("reading the certificates served by {endpoint}"))?;
    match args.output.format {
        OutputFormat::Text => print!("{}", report.text()),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&report).expect("a thumbprint report always serialises")
        ),
    }
    Ok(Exit::Ok)
}
