//! `thumbprint`: fetch the verified chain the URL's host serves (`tls`), compute the IAM
//! thumbprint of its last certificate (`model::thumbprint`), print it. Errors go up as `anyhow`
//! with their `tls::Error` meaning intact; nothing is written anywhere.

use std::time::Duration;

use anyhow::Context as _;

use crate::cli::{OutputFormat, ThumbprintArgs};
use crate::exit::Exit;
use crate::model::thumbprint::{Endpoint, ThumbprintReport};

pub async fn run(args: &ThumbprintArgs) -> anyhow::Result<Exit> {
    let endpoint = Endpoint::from_url(&args.url)?;
    let chain = crate::tls::fetch_verified_chain(
        &endpoint.host,
        endpoint.port,
        &args.ca_files,
        Duration::from_secs(args.timeout),
    )
    .await?;
    let report = ThumbprintReport::new(&endpoint, &chain)
        .with_context(|| format!("reading the certificates served by {endpoint}"))?;
    match args.output {
        OutputFormat::Text => print!("{}", report.text()),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&report).expect("a thumbprint report always serialises")
        ),
    }
    Ok(Exit::Ok)
}
