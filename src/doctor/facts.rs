//! What `doctor` observed, as plain data: the seam between the effects (`observe`, `http`) and
//! the pure checks (`checks`). Unit tests build these by hand. Nothing here holds a credential;
//! the one secret-ish value, a service-account token, is hidden from `Debug`.

use std::fmt;

use crate::model::cloudfront::{
    AliasRecord, Certificate, Distribution, HostedZone, OriginAccessControl,
};

/// Something doctor tried to read, or why it did not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gathered<T> {
    Got(T),
    /// Not read because an input is missing; `pass` says what to pass to read it.
    NotGiven {
        why: String,
        pass: String,
    },
    /// Doctor could not read it (credentials refused, endpoint unreachable, …): the error
    /// says what to do.
    Failed {
        error: String,
    },
}

impl<T> Gathered<T> {
    pub fn got(&self) -> Option<&T> {
        match self {
            Gathered::Got(value) => Some(value),
            _ => None,
        }
    }

    pub fn not_given(why: impl Into<String>, pass: impl Into<String>) -> Gathered<T> {
        Gathered::NotGiven {
            why: why.into(),
            pass: pass.into(),
        }
    }

    pub fn failed(error: impl Into<String>) -> Gathered<T> {
        Gathered::Failed {
            error: error.into(),
        }
    }

    /// The same absence for a value that depends on this one.
    pub fn absent<U>(&self) -> Gathered<U> {
        match self {
            Gathered::Got(_) => unreachable!("absent() of a value that was read"),
            Gathered::NotGiven { why, pass } => Gathered::NotGiven {
                why: why.clone(),
                pass: pass.clone(),
            },
            Gathered::Failed { error } => Gathered::Failed {
                error: error.clone(),
            },
        }
    }
}

/// Everything one run observed.
#[derive(Clone, Debug)]
pub struct Facts {
    /// The issuer as given (`--issuer`) or derived (`--store s3://…`), not normalised: the same
    /// bytes must appear in tokens and in IAM.
    pub issuer: String,
    /// The audience the token should carry and IAM should accept (`--audience`).
    pub audience: String,
    /// `--service-account NS/NAME`.
    pub service_account: Option<ServiceAccountRef>,
    /// `--role-arn`.
    pub role_arn: Option<String>,
    /// The anonymous GETs, as STS makes them.
    pub public: PublicFacts,
    /// The API server (`--kubeconfig`/`--context`, or the usual kubeconfig look-up).
    pub cluster: Gathered<ClusterFacts>,
    /// A token to verify (`--token FILE`, or TokenRequest for `--service-account`).
    pub token: Gathered<Token>,
    /// The ServiceAccount's `eks.amazonaws.com/role-arn` annotation (`None`: not annotated).
    pub annotation: Gathered<Option<String>>,
    /// AWS: the caller's account, the IAM provider.
    pub aws: Gathered<AwsFacts>,
    /// The S3 bucket of `--store s3://…`.
    pub s3: Gathered<S3Facts>,
    /// The role of `--role-arn`.
    pub role: Gathered<RoleFacts>,
    /// The CloudFront distribution serving the issuer; `None`: the issuer is not served by
    /// CloudFront, as far as doctor can tell (and no `cloudfront.*` check is reported).
    pub cloudfront: Option<CloudFrontFacts>,
    /// The move to another issuer `--store`'s state object records (`issuer prepare`);
    /// `Got(None)`: none is recorded, `NotGiven`: no `--store` to read it from. The
    /// `*.migration` checks are reported only when one is recorded (or could not be read).
    pub migration: Gathered<Option<MigrationFacts>>,
}

/// A migration recorded in the store's state object, and what doctor read of its other side
/// (the issuer that is not `--issuer`), to judge tokens and a role of either side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationFacts {
    /// Where the record was read (`--store`), for messages.
    pub store: String,
    pub record: crate::model::migration::Migration,
    /// The longest token lifetime (`--token-lifetime`): when the old issuer's tokens expire.
    pub token_lifetime: std::time::Duration,
    /// The side that is not `--issuer`; `None` when `--issuer` is neither side.
    pub other: Option<OtherSide>,
}

/// The other issuer of a migration, read the way STS reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherSide {
    /// Which side it is (`old` or `new`).
    pub which: crate::model::migration::Which,
    /// Its two anonymous GETs (discovery document, then its `jwks_uri`).
    pub public: PublicFacts,
    /// Its IAM provider (`None`: IAM answered NoSuchEntity), in the account the issuer's
    /// provider was looked up in.
    pub provider: Gathered<Option<ProviderFacts>>,
}

/// `NS/NAME` of a ServiceAccount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountRef {
    pub namespace: String,
    pub name: String,
}

impl ServiceAccountRef {
    /// The `sub` of its tokens.
    pub fn subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

impl fmt::Display for ServiceAccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The two anonymous GETs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicFacts {
    /// `GET <issuer>/.well-known/openid-configuration`; `None` when the issuer is not an
    /// https URL STS would fetch.
    pub discovery: Option<Fetched>,
    /// `GET <jwks_uri>`; `None` when the discovery document gave no https `jwks_uri`.
    pub jwks: Option<Fetched>,
}

/// One anonymous HTTPS GET and what came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub url: String,
    pub result: Result<Answer, FetchError>,
    /// The TLS chain seen, when the handshake got that far (also for a timed-out request).
    pub tls: Option<TlsFacts>,
}

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From opening the connection to the last byte of the body.
    pub elapsed_ms: u64,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a GET brought no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// No complete answer within the budget.
    Timeout { budget_ms: u64 },
    /// The TLS handshake failed (the message names the certificate at fault).
    Tls { detail: String },
    /// The chain does not lead to a root this machine (or `--ca-file`) trusts. STS still
    /// accepts such a host when the provider's thumbprint matches, so this is not a verdict:
    /// doctor cannot read the documents without the CA.
    UnknownIssuer { detail: String },
    /// DNS, connection refused, reset, an HTTP protocol error.
    Transport { detail: String },
    /// The body was larger than doctor reads.
    TooLarge { limit: usize },
}

/// One line saying why a fetch failed, for messages outside doctor's findings (`rotate`, the
/// lock-out check).
pub fn fetch_problem(error: &FetchError) -> String {
    match error {
        FetchError::Timeout { budget_ms } => {
            format!("no complete answer within STS's {} s", budget_ms / 1000)
        }
        FetchError::UnknownIssuer { detail } => {
            format!("{detail} (pass --ca-file with the CA of a privately signed host)")
        }
        FetchError::Tls { detail } | FetchError::Transport { detail } => detail.clone(),
        FetchError::TooLarge { limit } => format!("the body is larger than {limit} bytes"),
    }
}

/// What the handshake showed of the host's certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFacts {
    pub host: String,
    /// SHA-1 of the last certificate served, lowercase hex: what IAM's thumbprint covers.
    pub last_sha1: String,
    /// Subject of the last certificate served.
    pub last_subject: String,
    /// The chain verifies against the system's public roots alone (without `--ca-file`):
    /// IAM then verifies it with its own CA library and ignores the thumbprint.
    pub publicly_trusted: bool,
}

/// What the API server says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFacts {
    pub server: String,
    /// The `issuer` of its discovery document: its first `--service-account-issuer`.
    pub issuer: String,
    /// The kids of the keys it publishes that STS can use.
    pub kids: Vec<String>,
}

/// A service-account token. Its text never appears in `Debug` or in any output.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// Where it came from, for messages ("--token pod.jwt", "TokenRequest for shop/api").
    pub origin: String,
    pub jwt: String,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("origin", &self.origin)
            .field("jwt", &"<hidden>")
            .finish()
    }
}

/// The caller's account and the IAM provider for the issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsFacts {
    pub account: String,
    pub partition: String,
    /// The account the provider was looked up in: the role's with `--role-arn` (the role
    /// trusts a provider of its own account), else the caller's.
    pub provider_account: String,
    /// The provider for exactly this issuer (`None`: IAM answered NoSuchEntity).
    pub provider: Gathered<Option<ProviderFacts>>,
    /// Host/paths of the account's other providers (ListOpenIDConnectProviders; empty when
    /// it was not allowed), to name a near miss.
    pub other_providers: Vec<String>,
}

/// One IAM OIDC provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderFacts {
    pub arn: String,
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
}

/// The four Block Public Access flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// The S3 bucket behind `--store s3://BUCKET[/PREFIX]`, read with signed read-only calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Facts {
    pub bucket: String,
    pub prefix: String,
    pub partition: String,
    /// `None`: the bucket has no Public Access Block configuration.
    pub bucket_block: Gathered<Option<PublicAccessBlock>>,
    pub account_block: Gathered<Option<PublicAccessBlock>>,
    /// `None`: no ownership controls (ACLs enabled, the pre-2023 default).
    pub ownership: Gathered<Option<String>>,
    /// The bucket policy's JSON; `None`: the bucket has none.
    pub policy: Gathered<Option<String>>,
}

/// The role of `--role-arn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleFacts {
    pub arn: String,
    /// The trust policy's JSON (decoded); `None`: IAM answered NoSuchEntity.
    pub trust_policy: Option<String>,
}

/// The CloudFront distribution in front of the issuer (PROTOCOL.md §8) and what it relies on:
/// its origin access control, the origin bucket's policy and copy of the documents, the
/// custom domain's certificate, and DNS. Present only when the issuer is served by CloudFront:
/// its host is `*.cloudfront.net`, `--cloudfront-distribution` was given, or a distribution of
/// the account lists the host as an alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudFrontFacts {
    /// How the distribution was found, for messages ("--cloudfront-distribution E2AB…").
    pub found_by: String,
    /// `None`: no such distribution (the id given, or the `*.cloudfront.net` domain, names
    /// none in this account).
    pub distribution: Gathered<Option<Distribution>>,
    /// Every origin access control of the account (ListOriginAccessControls).
    pub origin_access_controls: Gathered<Vec<OriginAccessControl>>,
    /// The viewer certificate, for an issuer on a custom domain with an ACM certificate
    /// (`None`: no such certificate in us-east-1).
    pub certificate: Gathered<Option<Certificate>>,
    /// The bucket the default cache behaviour's origin names.
    pub bucket: Gathered<OriginBucket>,
    /// The issuer host's and the distribution domain's addresses, for a custom domain.
    pub dns: Gathered<DnsFacts>,
    /// The Route 53 zone of `--hosted-zone-id`, and its alias records of the issuer host.
    pub zone: Gathered<ZoneFacts>,
    /// `--store s3://BUCKET/…`, when given: the bucket sync publishes to.
    pub store_bucket: Option<String>,
}

/// The origin bucket, read with signed read-only calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginBucket {
    pub bucket: String,
    /// Where the bucket lives (GetBucketLocation), to judge the origin's region.
    pub region: Gathered<String>,
    /// The bucket policy's JSON; `None`: the bucket has none.
    pub policy: Gathered<Option<String>>,
    /// The bucket's copy of each document the issuer URL served, by the edge's URL.
    pub objects: Vec<ObjectFacts>,
}

/// One document as the bucket holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectFacts {
    /// The URL the edge served it at.
    pub url: String,
    /// The object key the origin maps that URL to (origin path + URL path).
    pub key: String,
    /// `None`: the bucket has no such object.
    pub copy: Gathered<Option<ObjectCopy>>,
}

/// An object's body and the metadata the edge's caching follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectCopy {
    pub body: Vec<u8>,
    /// Last-Modified, in seconds since the epoch.
    pub last_modified: i64,
    pub cache_control: Option<String>,
}

/// What the resolver answered (tokio's `lookup_host`, or `--connect-to` standing in for DNS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsFacts {
    pub host: String,
    pub host_addresses: Result<Vec<std::net::IpAddr>, String>,
    pub distribution_domain: String,
    pub distribution_addresses: Result<Vec<std::net::IpAddr>, String>,
}

/// A Route 53 hosted zone and its alias records of the issuer host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneFacts {
    pub zone_id: String,
    /// `None`: no such zone.
    pub zone: Option<HostedZone>,
    pub records: Vec<AliasRecord>,
}
