//! CloudFront, ACM and Route 53 as a test's own account sees them in moto, for the CloudFront tests: import
//! a certificate for chosen names, create a public hosted zone, read a name's alias records
//! back. Every call signs with the test's access key (so it shows in that key's
//! `/_test/hosting-requests`, as the harness's own clients' calls do not), outside the code
//! under test. It only sets up and reads; it decides nothing.

use aws_sdk_acm::primitives::Blob;

use super::moto::moto;

/// rustls with ring, as every harness client.
macro_rules! http {
    () => {
        aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https()
    };
}

/// A self-signed certificate for `names` (the first is the CN, ACM's DomainName): PEM
/// certificate and key.
pub fn certificate_for(names: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

/// Imports a certificate for `names` into moto's ACM in us-east-1 (ISSUED at once); returns
/// its ARN.
pub fn import_certificate(access_key: &str, names: &[&str]) -> String {
    let (cert, key) = certificate_for(names);
    let config = aws_sdk_acm::Config::builder()
        .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
        .region(aws_sdk_acm::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_acm::config::Credentials::new(
            access_key, "secret", None, None, "test",
        ))
        .endpoint_url(moto().endpoint())
        .http_client(http!())
        .build();
    moto()
        .block_on(
            aws_sdk_acm::Client::from_conf(config)
                .import_certificate()
                .certificate(Blob::new(cert))
                .private_key(Blob::new(key))
                .send(),
        )
        .expect("ImportCertificate")
        .certificate_arn()
        .expect("an ARN")
        .to_owned()
}

/// A Route 53 client signing with `access_key`.
pub fn route53(access_key: &str) -> aws_sdk_route53::Client {
    let config = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_route53::config::Credentials::new(
            access_key, "secret", None, None, "test",
        ))
        .endpoint_url(moto().endpoint())
        .http_client(http!())
        .build();
    aws_sdk_route53::Client::from_conf(config)
}

/// Creates a public hosted zone `name`; returns its id without `/hostedzone/`.
pub fn create_zone(access_key: &str, name: &str) -> String {
    moto()
        .block_on(
            route53(access_key)
                .create_hosted_zone()
                .name(name)
                .caller_reference(format!("{access_key}/{name}"))
                .send(),
        )
        .expect("CreateHostedZone")
        .hosted_zone()
        .expect("a zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned()
}

/// A CloudFront client signing with `access_key` (its calls are logged and faulted as the
/// binary's are; distributions it creates get the names [`super::moto::cloudfront_domain`]
/// gives that key, so `Edge::connect_to_any` covers them).
pub fn cloudfront(access_key: &str) -> aws_sdk_cloudfront::Client {
    let config = aws_sdk_cloudfront::Config::builder()
        .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudfront::config::Credentials::new(
            access_key, "secret", None, None, "test",
        ))
        .endpoint_url(moto().endpoint())
        .http_client(http!())
        .build();
    aws_sdk_cloudfront::Client::from_conf(config)
}

/// One alias record as Route 53 returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    /// `A` or `AAAA`.
    pub record_type: String,
    /// The alias target's DNS name, without the trailing dot, lower-case.
    pub target: String,
    /// The alias target's hosted zone id.
    pub target_zone: String,
}

/// The alias records of exactly `name` in `zone_id`, sorted by type.
pub fn aliases(access_key: &str, zone_id: &str, name: &str) -> Vec<Alias> {
    let out = moto()
        .block_on(
            route53(access_key)
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .send(),
        )
        .expect("ListResourceRecordSets");
    let mut found: Vec<Alias> = out
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().trim_end_matches('.').eq_ignore_ascii_case(name))
        .filter_map(|r| {
            let alias = r.alias_target()?;
            Some(Alias {
                record_type: r.r#type().as_str().to_owned(),
                target: alias.dns_name().trim_end_matches('.').to_ascii_lowercase(),
                target_zone: alias.hosted_zone_id().to_owned(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.record_type.cmp(&b.record_type));
    found
}
