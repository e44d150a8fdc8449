//! Every branch of the CloudFront planning, without effects.

use super::*;

const ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abc";

fn desired(domain: Option<(&str, Option<&str>)>) -> DesiredCloudFront {
    DesiredCloudFront {
        bucket: "acme-oidc".into(),
        region: "eu-west-1".into(),
        domain: domain.map(|(name, zone)| CustomDomain {
            name: name.into(),
            certificate_arn: ARN.into(),
            hosted_zone_id: zone.map(str::to_owned),
        }),
        adopt: false,
    }
}

fn certificate(status: &str, names: &[&str]) -> Certificate {
    Certificate {
        arn: ARN.into(),
        status: status.into(),
        domain_name: names[0].into(),
        subject_alternative_names: names.iter().map(|n| (*n).to_owned()).collect(),
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

/// A distribution exactly as bootstrap leaves it, tagged ours (or not).
fn distribution(d: &DesiredCloudFront, ours: bool) -> Distribution {
    Distribution {
        id: "E2ABCDEF123456".into(),
        arn: "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456".into(),
        domain_name: "d111111abcdef8.cloudfront.net".into(),
        status: "Deployed".into(),
        etag: "E1".into(),
        config: d.new_distribution_config("OAC1"),
        tags: if ours { d.tags() } else { BTreeMap::new() },
    }
}

fn actions(changes: &[CloudFrontChange]) -> Vec<&'static str> {
    changes.iter().map(CloudFrontChange::action).collect()
}

#[test]
fn nothing_there_creates_one_oac_and_one_distribution_on_the_regional_origin() {
    let d = desired(None);
    let plan = plan_distribution(&d, &ObservedCloudFront::default()).unwrap();
    assert_eq!(
        actions(&plan.changes),
        [
            "cloudfront:CreateOriginAccessControl",
            "cloudfront:CreateDistribution"
        ]
    );
    assert_eq!(plan.distribution.domain_name, NEW_DISTRIBUTION_DOMAIN);
    assert_eq!(plan.distribution.id, None);
    let CloudFrontChange::CreateDistribution { config, tags } = &plan.changes[1] else {
        panic!("{:?}", plan.changes)
    };
    assert_eq!(tags.get(MANAGED_BY_TAG).unwrap(), MANAGED_BY_VALUE);
    assert_eq!(
        config.origins[0].domain_name,
        "acme-oidc.s3.eu-west-1.amazonaws.com"
    );
    assert_eq!(
        config.origins[0].origin_access_control_id.as_deref(),
        Some(NEW_ORIGIN_ACCESS_CONTROL)
    );
    assert!(config.origins[0].s3_origin);
    assert_eq!(config.viewer_protocol_policy, "https-only");
    assert_eq!(config.allowed_methods, ["GET", "HEAD"]);
    assert_eq!(config.cache_policy_id.as_deref(), Some(CACHING_OPTIMIZED));
    assert_eq!(
        config.viewer_certificate,
        ViewerCertificate::CloudFrontDefault
    );
    assert!(config.comment.contains("acme-oidc"));
    assert!(plan.changes[1]
        .describe()
        .contains("acme-oidc.s3.eu-west-1"));
}

#[test]
fn the_origin_follows_the_partition() {
    let mut d = desired(None);
    d.region = "cn-north-1".into();
    assert_eq!(
        d.origin_domain(),
        "acme-oidc.s3.cn-north-1.amazonaws.com.cn"
    );
}

#[test]
fn our_distribution_as_left_is_reused_with_no_call_and_an_existing_oac_is_reused() {
    let d = desired(None);
    let observed = ObservedCloudFront {
        distributions: vec![distribution(&d, true)],
        origin_access_controls: vec![oac("OAC1", &d.oac_name())],
        certificate: None,
    };
    let plan = plan_distribution(&d, &observed).unwrap();
    assert_eq!(plan.changes, []);
    assert_eq!(plan.distribution.id.as_deref(), Some("E2ABCDEF123456"));

    // No distribution yet, but the OAC of an earlier half-done run: reused, not created again.
    let observed = ObservedCloudFront {
        origin_access_controls: vec![oac("OAC1", &d.oac_name())],
        ..ObservedCloudFront::default()
    };
    let plan = plan_distribution(&d, &observed).unwrap();
    assert_eq!(actions(&plan.changes), ["cloudfront:CreateDistribution"]);
    let CloudFrontChange::CreateDistribution { config, .. } = &plan.changes[0] else {
        unreachable!()
    };
    assert_eq!(
        config.origins[0].origin_access_control_id.as_deref(),
        Some("OAC1")
    );
}

#[test]
fn an_oac_with_our_name_but_other_settings_is_refused() {
    let d = desired(None);
    let mut other = oac("OAC9", &d.oac_name());
    other.config.signing_behavior = "never".into();
    let observed = ObservedCloudFront {
        origin_access_controls: vec![other],
        ..ObservedCloudFront::default()
    };
    assert!(matches!(
        plan_distribution(&d, &observed),
        Err(CloudFrontError::OriginAccessControlNotUsable { id, .. }) if id == "OAC9"
    ));
}

#[test]
fn a_distribution_not_ours_is_refused_unless_adopted_and_then_set_up_keeping_the_rest() {
    let mut d = desired(None);
    let mut theirs = distribution(&d, false);
    theirs.config.origins[0].origin_access_control_id = None;
    theirs.config.viewer_protocol_policy = "allow-all".into();
    theirs.config.aliases = vec!["www.acme.com".into()];
    let observed = ObservedCloudFront {
        distributions: vec![theirs],
        origin_access_controls: vec![],
        certificate: None,
    };
    let error = plan_distribution(&d, &observed).unwrap_err();
    assert!(
        matches!(&error, CloudFrontError::UnmanagedDistribution { ids, adoptable: true, .. } if ids == &["E2ABCDEF123456"])
    );
    assert!(error.to_string().contains("--adopt"), "{error}");

    d.adopt = true;
    let plan = plan_distribution(&d, &observed).unwrap();
    assert_eq!(
        actions(&plan.changes),
        [
            "cloudfront:CreateOriginAccessControl",
            "cloudfront:TagResource",
            "cloudfront:UpdateDistribution"
        ]
    );
    // Tagged ours, so that later runs find it without --adopt.
    assert_eq!(
        plan.changes[1],
        CloudFrontChange::TagDistribution {
            id: "E2ABCDEF123456".into(),
            arn: "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456".into(),
            tags: d.tags(),
        }
    );
    assert!(
        plan.changes[1]
            .describe()
            .contains("later runs find it by tag, without --adopt"),
        "{}",
        plan.changes[1].describe()
    );
    let CloudFrontChange::UpdateDistribution {
        config, etag, why, ..
    } = &plan.changes[2]
    else {
        unreachable!()
    };
    assert_eq!(etag, "E1");
    assert_eq!(config.viewer_protocol_policy, "https-only");
    assert_eq!(config.aliases, ["www.acme.com"], "their alias is kept");
    assert_eq!(why.len(), 2, "{why:?}");
}

#[test]
fn an_adopted_and_tagged_distribution_is_found_without_adopt_and_only_a_missing_tag_is_set() {
    let d = desired(None);
    // As --adopt leaves it: tagged ours, set up. Nothing to do, --adopt or not.
    let observed = ObservedCloudFront {
        distributions: vec![distribution(&d, true)],
        origin_access_controls: vec![oac("OAC1", "theirs")],
        certificate: None,
    };
    assert_eq!(plan_distribution(&d, &observed).unwrap().changes, []);
    // Ours with only the managed-by tag (someone removed the other): that one is set back.
    let mut partly = distribution(&d, true);
    partly.tags.remove(BUCKET_TAG);
    let observed = ObservedCloudFront {
        distributions: vec![partly],
        ..observed
    };
    let plan = plan_distribution(&d, &observed).unwrap();
    assert_eq!(
        plan.changes,
        [CloudFrontChange::TagDistribution {
            id: "E2ABCDEF123456".into(),
            arn: "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456".into(),
            tags: BTreeMap::from([(BUCKET_TAG.to_owned(), "acme-oidc".to_owned())]),
        }]
    );
}

#[test]
fn two_distributions_of_the_bucket_are_never_guessed_between() {
    let d = desired(None);
    let mut second = distribution(&d, true);
    second.id = "E3".into();
    let observed = ObservedCloudFront {
        distributions: vec![distribution(&d, true), second.clone()],
        ..ObservedCloudFront::default()
    };
    assert!(matches!(
        plan_distribution(&d, &observed),
        Err(CloudFrontError::SeveralDistributions { .. })
    ));
    // Two not ours: not adoptable either.
    let mut first = distribution(&d, false);
    first.id = "E1".into();
    second.tags.clear();
    let observed = ObservedCloudFront {
        distributions: vec![first, second],
        ..ObservedCloudFront::default()
    };
    let mut adopting = d.clone();
    adopting.adopt = true;
    assert!(matches!(
        plan_distribution(&adopting, &observed),
        Err(CloudFrontError::UnmanagedDistribution {
            adoptable: false,
            ..
        })
    ));
}

#[test]
fn a_custom_domain_is_added_to_our_distribution_with_sni_and_tls_1_2() {
    let plain = desired(None);
    let d = desired(Some(("oidc.acme.com", None)));
    let observed = ObservedCloudFront {
        distributions: vec![distribution(&plain, true)],
        origin_access_controls: vec![oac("OAC1", &d.oac_name())],
        certificate: Some(certificate("ISSUED", &["oidc.acme.com"])),
    };
    let plan = plan_distribution(&d, &observed).unwrap();
    let [CloudFrontChange::UpdateDistribution { config, .. }] = plan.changes.as_slice() else {
        panic!("{:?}", plan.changes)
    };
    assert_eq!(config.aliases, ["oidc.acme.com"]);
    assert_eq!(
        config.viewer_certificate,
        ViewerCertificate::Acm {
            arn: ARN.into(),
            ssl_support_method: "sni-only".into(),
            minimum_protocol_version: "TLSv1.2_2021".into()
        }
    );
    assert!(plan.changes[0].describe().contains("sni-only"));
}

#[test]
fn the_certificate_is_refused_for_each_reason_before_anything_is_planned() {
    let d = desired(Some(("oidc.acme.com", None)));
    let with = |certificate: Option<Certificate>| ObservedCloudFront {
        certificate,
        ..ObservedCloudFront::default()
    };
    assert!(matches!(
        plan_distribution(&d, &with(None)),
        Err(CloudFrontError::CertificateNotFound { .. })
    ));
    assert!(matches!(
        plan_distribution(&d, &with(Some(certificate("PENDING_VALIDATION", &["oidc.acme.com"])))),
        Err(CloudFrontError::CertificateNotIssued { status, .. }) if status == "PENDING_VALIDATION"
    ));
    let error = plan_distribution(
        &d,
        &with(Some(certificate("ISSUED", &["acme.com", "*.other.com"]))),
    )
    .unwrap_err();
    assert!(matches!(
        error,
        CloudFrontError::CertificateDoesNotCover { .. }
    ));
    assert!(
        error.to_string().contains("acme.com, *.other.com"),
        "{error}"
    );
    let mut elsewhere = d.clone();
    elsewhere.domain.as_mut().unwrap().certificate_arn =
        "arn:aws:acm:eu-west-1:123456789012:certificate/abc".into();
    assert!(matches!(
        plan_distribution(&elsewhere, &with(Some(certificate("ISSUED", &["oidc.acme.com"])))),
        Err(CloudFrontError::CertificateRegion { region, .. }) if region == "eu-west-1"
    ));
    // A wildcard covers one label.
    assert!(plan_distribution(&d, &with(Some(certificate("ISSUED", &["*.acme.com"])))).is_ok());
}

#[test]
fn a_wildcard_covers_exactly_one_label() {
    assert!(covers("*.acme.com", "oidc.acme.com"));
    assert!(covers("*.ACME.com", "OIDC.acme.com."));
    assert!(!covers("*.acme.com", "acme.com"));
    assert!(!covers("*.acme.com", "a.oidc.acme.com"));
    assert!(!covers("*.acme.com", ".acme.com"));
    assert!(covers("oidc.acme.com", "oidc.acme.com"));
    assert!(!covers("oidc.acme.com", "oidc2.acme.com"));
}

#[test]
fn the_oac_name_fits_64_characters_and_stays_unique_per_bucket() {
    let d = desired(None);
    assert_eq!(d.oac_name(), "kube-oidc-publisher-acme-oidc");
    let long = |bucket: &str| DesiredCloudFront {
        bucket: bucket.into(),
        ..desired(None)
    };
    let a = long(&"a".repeat(63)).oac_name();
    let b = long(&format!("{}b", "a".repeat(62))).oac_name();
    assert_eq!(a.len(), 64);
    assert_eq!(b.len(), 64);
    assert_ne!(a, b);
}

fn zone(name: &str, private: bool) -> HostedZone {
    HostedZone {
        id: "Z0123".into(),
        name: name.into(),
        private,
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

#[test]
fn alias_records_are_upserted_only_when_they_do_not_point_there_already() {
    let d = desired(Some(("oidc.acme.com", Some("Z0123"))));
    let target = "d111111abcdef8.cloudfront.net";
    let plan = plan_records(&d, target, Some(&zone("acme.com", false)), &[]).unwrap();
    let RecordsPlan::Zone(changes) = &plan else {
        panic!("{plan:?}")
    };
    let [CloudFrontChange::UpsertAliasRecords { zone_id, records }] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    assert_eq!(zone_id, "Z0123");
    assert_eq!(
        records,
        &[
            record(RecordType::A, target),
            record(RecordType::AAAA, target)
        ]
    );
    assert!(changes[0].describe().contains("A and AAAA"));

    // Both there (Route 53 answers with trailing dots): nothing to do.
    let there = [
        record(RecordType::A, "d111111abcdef8.cloudfront.net."),
        record(RecordType::AAAA, target),
    ];
    assert_eq!(
        plan_records(&d, target, Some(&zone("acme.com.", false)), &there).unwrap(),
        RecordsPlan::Zone(vec![])
    );
    // Only A there, or A pointing elsewhere: only what differs.
    let plan = plan_records(
        &d,
        target,
        Some(&zone("acme.com", false)),
        &[
            record(RecordType::A, "old.cloudfront.net"),
            there[1].clone(),
        ],
    )
    .unwrap();
    let RecordsPlan::Zone(changes) = plan else {
        unreachable!()
    };
    let [CloudFrontChange::UpsertAliasRecords { records, .. }] = changes.as_slice() else {
        unreachable!()
    };
    assert_eq!(records, &[record(RecordType::A, target)]);
}

#[test]
fn the_zone_must_be_public_and_the_names_parent() {
    let d = desired(Some(("oidc.acme.com", Some("Z0123"))));
    let t = "d1.cloudfront.net";
    assert!(matches!(
        plan_records(&d, t, None, &[]),
        Err(CloudFrontError::ZoneNotFound { .. })
    ));
    for bad in [
        zone("other.com", false),
        zone("cme.com", false),
        zone("acme.com", true),
    ] {
        assert!(
            matches!(
                plan_records(&d, t, Some(&bad), &[]),
                Err(CloudFrontError::ZoneNotParent { .. })
            ),
            "{bad:?}"
        );
    }
    // The apex and a deeper parent are fine.
    assert!(plan_records(&d, t, Some(&zone("oidc.acme.com", false)), &[]).is_ok());
}

#[test]
fn without_a_zone_the_record_to_create_is_printed_and_without_a_domain_nothing() {
    let d = desired(Some(("oidc.acme.com", None)));
    let RecordsPlan::Manual(lines) = plan_records(&d, "d1.cloudfront.net", None, &[]).unwrap()
    else {
        panic!()
    };
    assert!(
        lines[0].contains("oidc.acme.com. A ALIAS d1.cloudfront.net."),
        "{lines:?}"
    );
    assert_eq!(
        plan_records(&desired(None), "d1.cloudfront.net", None, &[]).unwrap(),
        RecordsPlan::None
    );
}
