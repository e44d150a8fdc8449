//! `issuer.*`: the issuer string itself, and whether the API server signs tokens with it (or,
//! during a migration, with the migration's other issuer).

use super::gathered_skip;
use super::migration::View;
use crate::doctor::facts::Facts;
use crate::doctor::findings::{sts, Finding};
use crate::model::issuer::Issuer;

pub(super) fn issuer_format(facts: &Facts) -> Finding {
    const CHECK: &str = "issuer.format";
    match Issuer::parse(&facts.issuer) {
        Ok(_) => Finding::ok(
            CHECK,
            format!("{} is https, without port, query, fragment or trailing slash", facts.issuer),
        ),
        Err(e) => Finding::error(
            CHECK,
            Some(sts::no_provider(&facts.issuer)),
            e.to_string(),
            "use one canonical https URL, byte for byte the same, as the API server's first --service-account-issuer, in the published documents and as the IAM provider URL",
        ),
    }
}

pub(super) fn issuer_api_server(facts: &Facts, migration: Option<&View<'_>>) -> Finding {
    const CHECK: &str = "issuer.api_server";
    let Some(cluster) = facts.cluster.got() else {
        return gathered_skip(CHECK, &facts.cluster);
    };
    if cluster.issuer == facts.issuer {
        return Finding::ok(
            CHECK,
            format!(
                "the API server at {} signs tokens with this issuer",
                cluster.server
            ),
        );
    }
    // During a migration the API server may sign with either issuer, and accepts both.
    if let Some(view) = migration.filter(|v| v.issuer(v.other.which) == cluster.issuer) {
        return Finding::ok(
            CHECK,
            format!(
                "the API server at {} signs tokens with {}, the {} issuer of {}; it accepts tokens of both",
                cluster.server,
                cluster.issuer,
                view.other.which.as_str(),
                view.described()
            ),
        );
    }
    Finding::error(
        CHECK,
        Some(sts::no_provider(&cluster.issuer)),
        format!(
            "the API server at {} signs tokens with issuer {:?}, not {:?}: its tokens name an issuer this setup does not serve",
            cluster.server, cluster.issuer, facts.issuer
        ),
        format!(
            "on every kube-apiserver set --service-account-issuer={} first (keep --service-account-issuer={} second while old tokens live) and --service-account-jwks-uri={}/openid/v1/jwks",
            facts.issuer, cluster.issuer, facts.issuer
        ),
    )
}
