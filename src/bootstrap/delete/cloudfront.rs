//! The CloudFront side of `bootstrap --delete --hosting cloudfront`, pure: which distribution
//! is the bucket's (found by our tag and the bucket's regional origin, as bootstrap finds it),
//! which issuer it serves this cluster under ([`issuer_host`]), and what to remove
//! ([`plan_cloudfront`]), appended to the bucket's and IAM's [`DeletePlan`]:
//!
//! - when this run takes anything of the cluster out of the bucket (its grant, its documents):
//!   one invalidation of its two paths on our distribution, so the edge stops serving them;
//! - when no other cluster is left in our statement (the same count the bucket's plan makes:
//!   [`DeletePlan::clusters_left`]): the custom domain's alias records that still point at the
//!   distribution (with `--hosted-zone-id`), the distribution (disabled first; deleted once
//!   deployed, which the apply waits for) and the origin access control named for the bucket;
//!   while another cluster is left they are kept, and the plan says why.
//!
//! A distribution without our tag is never touched (no invalidation, no disable), and an OAC
//! another distribution uses is kept. No I/O, no clock: the invalidation's caller reference
//! comes in with the [`CloudFrontTarget`].

use crate::bootstrap::Error;
use crate::model::cloudfront::{
    AliasRecord, Distribution, HostedZone, OriginAccessControl, RecordType,
    CLOUDFRONT_HOSTED_ZONE_ID,
};
use crate::model::policy::CLOUDFRONT_STATEMENT_SID;
use crate::plan::{MANAGED_BY_TAG, MANAGED_BY_VALUE};

use super::{DeleteChange, DeletePlan, Gone, Kept};

/// What of the CloudFront side belongs to the cluster being removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudFrontTarget {
    pub bucket: String,
    /// The bucket's regional endpoint, the origin bootstrap gives the distribution.
    pub origin_domain: String,
    /// The name bootstrap gives the bucket's origin access control.
    pub oac_name: String,
    /// This cluster's two documents as the edge serves them (`/PREFIX/openid/v1/jwks`, ...).
    pub paths: Vec<String>,
    /// `--domain`.
    pub domain: Option<String>,
    /// `--hosted-zone-id`.
    pub hosted_zone_id: Option<String>,
    /// Unique per run (the command puts the time in): CloudFront answers a reused one with the
    /// earlier invalidation instead of making a new one.
    pub caller_reference: String,
}

/// What is there on the CloudFront side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedCloudFront {
    /// Every distribution whose origin is the bucket's regional endpoint, with its tags.
    pub distributions: Vec<Distribution>,
    pub origin_access_controls: Vec<OriginAccessControl>,
    /// `--hosted-zone-id`'s zone (`None`: not given, or not found).
    pub zone: Option<HostedZone>,
    /// The alias records of `--domain` in that zone.
    pub records: Vec<AliasRecord>,
}

fn ours(d: &Distribution) -> bool {
    d.tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE)
}

/// The bucket's distribution that kube-oidc-publisher created (tagged), if any; more than one
/// is refused as bootstrap refuses it (which one served this cluster cannot be told).
pub fn our_distribution<'a>(
    bucket: &str,
    observed: &'a ObservedCloudFront,
) -> Result<Option<&'a Distribution>, Error> {
    let tagged: Vec<&Distribution> = observed.distributions.iter().filter(|d| ours(d)).collect();
    match tagged.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(
            crate::bootstrap::cloudfront::CloudFrontError::SeveralDistributions {
                bucket: bucket.to_owned(),
                ids: many.iter().map(|d| d.id.clone()).collect(),
            }
            .into(),
        ),
    }
}

/// The host of the issuer being removed: `--issuer`'s (`explicit`), `--domain`, or our
/// distribution's own domain; `None` when none is known (no distribution of ours is left and
/// neither flag was given). Refuses, changing nothing, a host the distribution does not serve,
/// and a distribution with aliases when neither flag says which name the issuer uses: the
/// wrong issuer would leave the real one's provider behind and remove documents it serves.
pub fn issuer_host(
    distribution: Option<&Distribution>,
    domain: Option<&str>,
    explicit: Option<&str>,
) -> Result<Option<String>, Error> {
    let named = explicit.or(domain);
    match (distribution, named) {
        (Some(d), Some(host)) if !d.serves_host(host) => Err(Error::IssuerNotServed {
            host: host.to_owned(),
            distribution: d.id.clone(),
            names: std::iter::once(d.domain_name.clone())
                .chain(d.config.aliases.iter().cloned())
                .collect(),
        }),
        (_, Some(host)) => Ok(Some(host.to_ascii_lowercase())),
        (Some(d), None) if !d.config.aliases.is_empty() => Err(Error::IssuerNeedsDomain {
            distribution: d.id.clone(),
            domain_name: d.domain_name.clone(),
            aliases: d.config.aliases.clone(),
        }),
        (Some(d), None) => Ok(Some(d.domain_name.clone())),
        (None, None) => Ok(None),
    }
}

/// Adds the CloudFront and Route 53 calls to `plan` (made after the bucket's and IAM's, in
/// this order: invalidation, alias records, disable, delete, origin access control), and what
/// is kept or already gone.
pub fn plan_cloudfront(
    target: &CloudFrontTarget,
    observed: &ObservedCloudFront,
    plan: &mut DeletePlan,
) -> Result<(), Error> {
    let bucket = &target.bucket;
    let found = our_distribution(bucket, observed)?;
    let last = plan.clusters_left == 0;
    let removes_documents = plan.changes.iter().any(|c| {
        matches!(
            c,
            DeleteChange::PutBucketPolicy { .. }
                | DeleteChange::DeleteBucketPolicy { .. }
                | DeleteChange::DeleteObject { .. }
        )
    });
    for other in observed.distributions.iter().filter(|d| !ours(d)) {
        plan.kept.push(Kept {
            item: format!("CloudFront distribution {} (origin {})", other.id, target.origin_domain),
            reason: format!(
                "not tagged {MANAGED_BY_TAG}: kube-oidc-publisher did not create it, so --delete never touches it (no invalidation, not disabled); its copies of this cluster's documents expire after their Cache-Control max-age"
            ),
        });
    }

    let Some(d) = found else {
        plan.gone.push(Gone {
            item: format!(
                "CloudFront distribution of bucket {bucket} (origin {}, tagged {MANAGED_BY_TAG})",
                target.origin_domain
            ),
        });
        if last {
            plan_oac(target, observed, None, plan);
        }
        plan_records(target, observed, None, last, plan);
        return Ok(());
    };

    if removes_documents {
        plan.changes.push(DeleteChange::CreateInvalidation {
            distribution_id: d.id.clone(),
            caller_reference: target.caller_reference.clone(),
            paths: target.paths.clone(),
        });
    }
    if !last {
        let others = if plan.clusters_left == 1 {
            "1 other cluster".to_owned()
        } else {
            format!("{} other clusters", plan.clusters_left)
        };
        let why = format!(
            "{others} of bucket {bucket} still served through it (statement {CLOUDFRONT_STATEMENT_SID})"
        );
        plan.kept.push(Kept {
            item: format!("CloudFront distribution {} ({})", d.id, d.domain_name),
            reason: why.clone(),
        });
        if let Some(oac) = attached_oac(target, observed, d) {
            plan.kept.push(Kept {
                item: format!("origin access control {} ({})", oac.id, oac.config.name),
                reason: format!("distribution {} uses it: {why}", d.id),
            });
        }
        plan_records(target, observed, Some(d), false, plan);
        return Ok(());
    }

    plan_records(target, observed, Some(d), true, plan);
    if d.config.enabled {
        plan.changes.push(DeleteChange::DisableDistribution {
            id: d.id.clone(),
            etag: d.etag.clone(),
            bucket: bucket.clone(),
        });
    }
    plan.changes
        .push(DeleteChange::DeleteDistribution { id: d.id.clone() });
    plan_oac(target, observed, Some(d), plan);
    Ok(())
}

/// The OAC on the distribution's origin for the bucket, if CloudFront lists it.
fn attached_oac<'a>(
    target: &CloudFrontTarget,
    observed: &'a ObservedCloudFront,
    d: &Distribution,
) -> Option<&'a OriginAccessControl> {
    let id = d
        .config
        .origins
        .iter()
        .find(|o| o.domain_name.eq_ignore_ascii_case(&target.origin_domain))
        .and_then(|o| o.origin_access_control_id.as_deref())?;
    observed.origin_access_controls.iter().find(|o| o.id == id)
}

/// The last cluster: the OAC named for the bucket goes once `deleted` (our distribution, being
/// deleted in this run, or none) no longer uses it; one another distribution uses, or one not
/// named as bootstrap names its own, is kept.
fn plan_oac(
    target: &CloudFrontTarget,
    observed: &ObservedCloudFront,
    deleted: Option<&Distribution>,
    plan: &mut DeletePlan,
) {
    let uses = |d: &Distribution, id: &str| {
        d.config
            .origins
            .iter()
            .any(|o| o.origin_access_control_id.as_deref() == Some(id))
    };
    if let Some(attached) = deleted.and_then(|d| attached_oac(target, observed, d)) {
        if attached.config.name != target.oac_name {
            plan.kept.push(Kept {
                item: format!(
                    "origin access control {} ({})",
                    attached.id, attached.config.name
                ),
                reason: format!(
                    "not named {} as kube-oidc-publisher names its own: another tool or person made it; delete it yourself if nothing uses it (aws cloudfront delete-origin-access-control --id {} --if-match ETAG)",
                    target.oac_name, attached.id
                ),
            });
        }
    }
    let Some(oac) = observed
        .origin_access_controls
        .iter()
        .find(|o| o.config.name == target.oac_name)
    else {
        plan.gone.push(Gone {
            item: format!("origin access control {}", target.oac_name),
        });
        return;
    };
    let item = format!("origin access control {} ({})", oac.id, oac.config.name);
    let users: Vec<&str> = observed
        .distributions
        .iter()
        .filter(|d| deleted.is_none_or(|gone| gone.id != d.id) && uses(d, &oac.id))
        .map(|d| d.id.as_str())
        .collect();
    if users.is_empty() {
        plan.changes.push(DeleteChange::DeleteOriginAccessControl {
            id: oac.id.clone(),
            name: oac.config.name.clone(),
        });
    } else {
        plan.kept.push(Kept {
            item,
            reason: format!("distribution {} still uses it", users.join(", ")),
        });
    }
}

/// The custom domain's alias records: deleted with the distribution they point at (last
/// cluster, `--hosted-zone-id`); otherwise kept, saying why.
fn plan_records(
    target: &CloudFrontTarget,
    observed: &ObservedCloudFront,
    distribution: Option<&Distribution>,
    last: bool,
    plan: &mut DeletePlan,
) {
    let Some(name) = &target.domain else {
        return;
    };
    let Some(zone_id) = &target.hosted_zone_id else {
        if last && distribution.is_some() {
            plan.kept.push(Kept {
                item: format!("DNS record of {name}"),
                reason: format!(
                    "not in Route 53 here (no --hosted-zone-id): delete the record you created for it (an alias or CNAME to {}) once the distribution is gone",
                    distribution.map_or("", |d| d.domain_name.as_str())
                ),
            });
        }
        return;
    };
    let item = format!("alias records of {name} in hosted zone {zone_id}");
    if observed.zone.is_none() {
        plan.gone.push(Gone {
            item: format!("hosted zone {zone_id} (so no alias record of {name})"),
        });
        return;
    }
    let points_at = |r: &AliasRecord, d: &Distribution| {
        r.target
            .trim_end_matches('.')
            .eq_ignore_ascii_case(&d.domain_name)
            && r.target_zone == CLOUDFRONT_HOSTED_ZONE_ID
    };
    let wanted = |r: &AliasRecord| matches!(r.record_type, RecordType::A | RecordType::AAAA);
    let records: Vec<&AliasRecord> = observed.records.iter().filter(|r| wanted(r)).collect();
    if records.is_empty() {
        plan.gone.push(Gone { item });
        return;
    }
    match distribution {
        Some(d) if last => {
            let (ours, others): (Vec<&AliasRecord>, Vec<&AliasRecord>) =
                records.into_iter().partition(|r| points_at(r, d));
            if !ours.is_empty() {
                plan.changes.push(DeleteChange::DeleteAliasRecords {
                    zone_id: zone_id.clone(),
                    records: ours.into_iter().cloned().collect(),
                });
            }
            for r in others {
                plan.kept.push(Kept {
                    item: format!("{} alias record of {name}", r.record_type.as_str()),
                    reason: format!(
                        "it points at {}, not at distribution {} ({}): someone changed it; it is theirs",
                        r.target, d.id, d.domain_name
                    ),
                });
            }
        }
        Some(d) => plan.kept.push(Kept {
            item,
            reason: format!("distribution {} stays, and so does its name", d.id),
        }),
        None => plan.kept.push(Kept {
            item,
            reason: format!(
                "no distribution of bucket {} tagged {MANAGED_BY_TAG} is left, so --delete cannot tell that they are kube-oidc-publisher's; delete them yourself if they point at nothing",
                target.bucket
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::bootstrap::delete::{apply_with_hosting, HostingEffects};
    use crate::bootstrap::memory::MemoryEffects;
    use crate::hosting::memory::{MemoryDistributions, MemoryDnsRecords};
    use crate::hosting::{Distributions as _, DnsRecords as _};
    use crate::model::cloudfront::{
        DistributionConfig, Origin, OriginAccessControlConfig, ViewerCertificate,
    };

    const BUCKET: &str = "acme-oidc";
    const ORIGIN: &str = "acme-oidc.s3.eu-west-1.amazonaws.com";
    const OAC_NAME: &str = "kube-oidc-publisher-acme-oidc";

    fn target(domain: Option<&str>, zone: Option<&str>) -> CloudFrontTarget {
        CloudFrontTarget {
            bucket: BUCKET.into(),
            origin_domain: ORIGIN.into(),
            oac_name: OAC_NAME.into(),
            paths: vec![
                "/c1/.well-known/openid-configuration".into(),
                "/c1/openid/v1/jwks".into(),
            ],
            domain: domain.map(str::to_owned),
            hosted_zone_id: zone.map(str::to_owned),
            caller_reference: "kube-oidc-publisher/delete/c1/1".into(),
        }
    }

    fn config(oac: &str, aliases: &[&str]) -> DistributionConfig {
        DistributionConfig {
            caller_reference: "ref".into(),
            comment: "kube-oidc-publisher".into(),
            enabled: true,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            origins: vec![Origin {
                id: "s3".into(),
                domain_name: ORIGIN.into(),
                origin_path: String::new(),
                origin_access_control_id: Some(oac.into()),
                s3_origin: true,
            }],
            target_origin_id: "s3".into(),
            viewer_protocol_policy: "https-only".into(),
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            cache_policy_id: None,
            viewer_certificate: ViewerCertificate::CloudFrontDefault,
        }
    }

    fn tagged() -> BTreeMap<String, String> {
        BTreeMap::from([(MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned())])
    }

    fn distribution(id: &str, tags: BTreeMap<String, String>, aliases: &[&str]) -> Distribution {
        Distribution {
            id: id.into(),
            arn: format!("arn:aws:cloudfront::123456789012:distribution/{id}"),
            domain_name: format!("d{}.cloudfront.net", id.to_ascii_lowercase()),
            status: "Deployed".into(),
            etag: "ETAG1".into(),
            config: config("O1", aliases),
            tags,
        }
    }

    fn oac(id: &str, name: &str) -> OriginAccessControl {
        OriginAccessControl {
            id: id.into(),
            config: OriginAccessControlConfig {
                name: name.into(),
                description: String::new(),
                origin_type: "s3".into(),
                signing_behavior: "always".into(),
                signing_protocol: "sigv4".into(),
            },
        }
    }

    fn record(record_type: RecordType, target: &str) -> AliasRecord {
        AliasRecord {
            name: "oidc.acme.com".into(),
            record_type,
            target: target.into(),
            target_zone: CLOUDFRONT_HOSTED_ZONE_ID.into(),
        }
    }

    /// The bucket's plan for c1: its objects go, and `clusters_left` others stay granted.
    fn bucket_plan(clusters_left: usize) -> DeletePlan {
        DeletePlan {
            changes: vec![DeleteChange::DeleteObject {
                bucket: BUCKET.into(),
                key: "c1/openid/v1/jwks".into(),
            }],
            clusters_left,
            ..DeletePlan::default()
        }
    }

    fn actions(plan: &DeletePlan) -> Vec<&'static str> {
        plan.changes.iter().map(DeleteChange::action).collect()
    }

    #[test]
    fn another_cluster_left_keeps_the_distribution_and_oac_and_only_invalidates() {
        let observed = ObservedCloudFront {
            distributions: vec![distribution("E1", tagged(), &[])],
            origin_access_controls: vec![oac("O1", OAC_NAME)],
            ..Default::default()
        };
        let mut plan = bucket_plan(2);
        plan_cloudfront(&target(None, None), &observed, &mut plan).unwrap();
        assert_eq!(
            actions(&plan),
            ["s3:DeleteObject", "cloudfront:CreateInvalidation"]
        );
        assert_eq!(
            plan.changes[1],
            DeleteChange::CreateInvalidation {
                distribution_id: "E1".into(),
                caller_reference: "kube-oidc-publisher/delete/c1/1".into(),
                paths: target(None, None).paths,
            }
        );
        assert_eq!(plan.kept.len(), 2, "{plan:?}");
        assert!(plan.kept[0].item.contains("E1"));
        assert!(plan.kept[0].reason.contains("2 other clusters"), "{plan:?}");
        assert!(plan.kept[1].item.contains("O1"));
    }

    #[test]
    fn the_last_cluster_takes_the_alias_records_distribution_and_oac_in_order() {
        let d = distribution("E1", tagged(), &["oidc.acme.com"]);
        let observed = ObservedCloudFront {
            distributions: vec![d.clone()],
            origin_access_controls: vec![oac("O1", OAC_NAME), oac("O2", "someone-elses")],
            zone: Some(HostedZone {
                id: "Z1".into(),
                name: "acme.com".into(),
                private: false,
            }),
            records: vec![
                record(RecordType::A, &d.domain_name),
                record(RecordType::AAAA, "dother.cloudfront.net"),
            ],
        };
        let mut plan = bucket_plan(0);
        plan_cloudfront(
            &target(Some("oidc.acme.com"), Some("Z1")),
            &observed,
            &mut plan,
        )
        .unwrap();
        assert_eq!(
            actions(&plan),
            [
                "s3:DeleteObject",
                "cloudfront:CreateInvalidation",
                "route53:ChangeResourceRecordSets",
                "cloudfront:UpdateDistribution",
                "cloudfront:DeleteDistribution",
                "cloudfront:DeleteOriginAccessControl"
            ]
        );
        // Only the record that still points at the distribution goes.
        assert_eq!(
            plan.changes[2],
            DeleteChange::DeleteAliasRecords {
                zone_id: "Z1".into(),
                records: vec![record(RecordType::A, &d.domain_name)],
            }
        );
        assert!(plan
            .kept
            .iter()
            .any(|k| k.item.starts_with("AAAA alias record")
                && k.reason.contains("dother.cloudfront.net")));
        assert_eq!(
            plan.changes[3],
            DeleteChange::DisableDistribution {
                id: "E1".into(),
                etag: "ETAG1".into(),
                bucket: BUCKET.into()
            }
        );
        assert_eq!(
            plan.changes[5],
            DeleteChange::DeleteOriginAccessControl {
                id: "O1".into(),
                name: OAC_NAME.into()
            }
        );
        // Every call is allowed by the operator policy bootstrap's errors point at.
        let template = crate::model::policy::OPERATOR_POLICY.text;
        for change in &plan.changes {
            assert!(change.describe().starts_with(change.action()));
            assert!(
                template.contains(&format!("\"{}\"", change.action())),
                "{}",
                change.action()
            );
        }
    }

    #[test]
    fn a_disabled_distribution_is_not_disabled_again_and_a_rerun_after_it_plans_nothing() {
        let mut d = distribution("E1", tagged(), &[]);
        d.config.enabled = false;
        let observed = ObservedCloudFront {
            distributions: vec![d],
            origin_access_controls: vec![oac("O1", OAC_NAME)],
            ..Default::default()
        };
        // The bucket's side is done already (a --no-wait run): nothing to invalidate either.
        let mut plan = DeletePlan::default();
        plan_cloudfront(&target(None, None), &observed, &mut plan).unwrap();
        assert_eq!(
            actions(&plan),
            [
                "cloudfront:DeleteDistribution",
                "cloudfront:DeleteOriginAccessControl"
            ]
        );
        // Everything gone: nothing to do, and it says so.
        let mut plan = DeletePlan::default();
        plan_cloudfront(
            &target(None, None),
            &ObservedCloudFront::default(),
            &mut plan,
        )
        .unwrap();
        assert!(plan.changes.is_empty(), "{plan:?}");
        assert_eq!(plan.gone.len(), 2, "{plan:?}");
        assert!(plan.kept.is_empty());
    }

    #[test]
    fn a_distribution_not_ours_is_never_touched_nor_its_oac() {
        let observed = ObservedCloudFront {
            distributions: vec![distribution("E9", BTreeMap::new(), &[])],
            origin_access_controls: vec![oac("O1", OAC_NAME)],
            ..Default::default()
        };
        for left in [0, 1] {
            let mut plan = bucket_plan(left);
            plan_cloudfront(&target(None, None), &observed, &mut plan).unwrap();
            assert_eq!(actions(&plan), ["s3:DeleteObject"], "{left}: {plan:?}");
            assert!(plan.kept[0].item.contains("E9"));
            assert!(plan.kept[0].reason.contains("never touches it"));
            if left == 0 {
                assert!(
                    plan.kept
                        .iter()
                        .any(|k| k.item.contains("O1") && k.reason.contains("E9")),
                    "{plan:?}"
                );
            }
        }
        // Two of ours: which one served the cluster cannot be told.
        let observed = ObservedCloudFront {
            distributions: vec![
                distribution("E1", tagged(), &[]),
                distribution("E2", tagged(), &[]),
            ],
            ..Default::default()
        };
        let error = plan_cloudfront(&target(None, None), &observed, &mut bucket_plan(0))
            .unwrap_err()
            .to_string();
        assert!(error.contains("E1, E2"), "{error}");
    }

    #[test]
    fn the_issuer_host_comes_from_the_flags_or_the_distribution_never_a_guess() {
        let plain = distribution("E1", tagged(), &[]);
        let aliased = distribution("E1", tagged(), &["oidc.acme.com"]);
        assert_eq!(
            issuer_host(Some(&plain), None, None).unwrap().as_deref(),
            Some("de1.cloudfront.net")
        );
        assert_eq!(
            issuer_host(Some(&aliased), Some("OIDC.acme.com"), None)
                .unwrap()
                .as_deref(),
            Some("oidc.acme.com")
        );
        assert_eq!(
            issuer_host(Some(&aliased), None, Some("de1.cloudfront.net"))
                .unwrap()
                .as_deref(),
            Some("de1.cloudfront.net")
        );
        assert_eq!(issuer_host(None, None, None).unwrap(), None);
        assert_eq!(
            issuer_host(None, Some("oidc.acme.com"), None)
                .unwrap()
                .as_deref(),
            Some("oidc.acme.com")
        );
        let error = issuer_host(Some(&aliased), None, None).unwrap_err();
        assert!(matches!(error, Error::IssuerNeedsDomain { .. }), "{error}");
        assert!(error.to_string().contains("--domain"), "{error}");
        let error = issuer_host(Some(&plain), Some("oidc.other.com"), None).unwrap_err();
        assert!(matches!(error, Error::IssuerNotServed { .. }), "{error}");
    }

    /// The apply: disable, wait until deployed, delete with the ETag read then, then the OAC;
    /// with --no-wait it stops before the delete and a second run finishes.
    #[tokio::test]
    async fn the_last_cluster_is_disabled_waited_for_and_deleted_and_no_wait_stops_before() {
        for no_wait in [false, true] {
            let cf = MemoryDistributions::new();
            cf.set_polls(2);
            let oac = cf.insert_origin_access_control(oac("", OAC_NAME).config);
            let mut config = config(&oac.id, &["oidc.acme.com"]);
            config.origins[0].origin_access_control_id = Some(oac.id.clone());
            let d = cf.insert(config);
            let dns = MemoryDnsRecords::new();
            dns.insert_zone(HostedZone {
                id: "Z1".into(),
                name: "acme.com".into(),
                private: false,
            });
            let records = vec![
                record(RecordType::A, &d.domain_name),
                record(RecordType::AAAA, &d.domain_name),
            ];
            dns.upsert_aliases("Z1", &records).await.unwrap();
            let observed = ObservedCloudFront {
                distributions: vec![Distribution {
                    tags: tagged(),
                    ..cf.get(&d.id).await.unwrap().unwrap()
                }],
                origin_access_controls: cf.origin_access_controls().await.unwrap(),
                zone: dns.zone("Z1").await.unwrap(),
                records: dns.aliases("Z1", "oidc.acme.com").await.unwrap(),
            };
            let mut plan = bucket_plan(0);
            plan.changes.clear();
            plan_cloudfront(
                &target(Some("oidc.acme.com"), Some("Z1")),
                &observed,
                &mut plan,
            )
            .unwrap();
            let hosting = HostingEffects {
                distributions: &cf,
                dns: &dns,
                wait: (!no_wait).then_some(Duration::from_secs(60)),
                poll_cap: Duration::from_millis(1),
            };
            let effects = MemoryEffects::new("eu-west-1");
            let applied = apply_with_hosting(&plan.changes, &effects, Some(&hosting))
                .await
                .unwrap();
            assert!(dns.aliases("Z1", "oidc.acme.com").await.unwrap().is_empty());
            if no_wait {
                let waiting = applied.waiting.expect("stopped before the delete");
                assert_eq!(waiting.status, "InProgress");
                assert!(!waiting.config.enabled);
                assert_eq!(applied.writes, 2, "alias records and disable");
                assert_eq!(applied.done, 2);
                assert!(cf.distribution(&d.id).is_some());
                // The same command again: the rest, waited for.
                let again = apply_with_hosting(
                    &plan.changes[applied.done..],
                    &effects,
                    Some(&HostingEffects {
                        wait: Some(Duration::from_secs(60)),
                        ..hosting
                    }),
                )
                .await
                .unwrap();
                assert_eq!(again.writes, 2, "delete distribution and OAC");
            } else {
                assert!(applied.waiting.is_none());
                assert_eq!(applied.writes, 4, "{:?}", plan.changes);
            }
            assert_eq!(cf.distribution(&d.id), None);
            assert!(cf.origin_access_control_ids().is_empty());
            assert_eq!(cf.count("delete"), 1);
        }
    }
}
