"""Test-only launcher for the moto S3/IAM/STS/CloudFront/ACM/Route 53 emulator (owned by the
integration-test harness).

Started by tests/support/moto.rs with the pinned venv's python. It binds 127.0.0.1 on a free
port, prints that port as the first line on stdout, and serves moto's usual WSGI app wrapped in
a small middleware that adds test-only endpoints:

  GET    /_test/requests?bucket=B   ordered log of the S3 requests made to bucket B (JSON)
  DELETE /_test/requests?bucket=B   forget bucket B's log
  POST   /_test/faults              add a fault (JSON body: an S3 `Fault`, or with a "service"
                                    field an `IamFault`, see below)
  GET    /_test/faults?bucket=B     list bucket B's faults (JSON)
  DELETE /_test/faults?bucket=B     remove bucket B's faults
  GET    /_test/iam-requests?provider=P&service=S&action=A&access_key=K
                                    ordered log of IAM and STS requests, each filter optional:
                                    provider = substring of the request's Url or provider ARN
  DELETE /_test/iam-requests?...    forget the matching IAM/STS log entries (same filters)
  GET    /_test/iam-faults?provider=P   list IAM/STS faults whose "provider" is exactly P
  DELETE /_test/iam-faults?provider=P   remove them (no provider: every IAM/STS fault;
                                        access_key=K instead selects faults by access key)

  GET    /_test/hosting-requests?service=S&action=A&access_key=K
                                    ordered log of CloudFront, ACM and Route 53 requests (the
                                    services of CloudFront hosting), each filter optional and
                                    exact; each entry: service, action, method, path,
                                    access_key, write, status, fault
  DELETE /_test/hosting-requests?...    forget the matching entries (same filters)
  GET    /_test/hosting-faults?access_key=K   list CloudFront/ACM/Route 53 faults (a POST to
                                              /_test/faults whose "service" is "cloudfront",
                                              "acm" or "route53" adds one)
  DELETE /_test/hosting-faults?access_key=K   remove them (no access_key: every one)
  POST   /_test/cloudfront-deploy   how long distributions created or updated with one access
                                    key stay InProgress (JSON body: {"access_key": K,
                                    "seconds": S}); others keep KOP_CLOUDFRONT_DEPLOY_SECONDS
  DELETE /_test/cloudfront-deploy?access_key=K   back to the default
  GET    /_test/cloudfront-deployed?id=ID   {"deployed_once": bool}: whether distribution ID
                                             has completed its first deploy (for the edge)
  POST   /_test/cloudfront-deployed?id=ID   finish distribution ID's deployment now (it reads
                                             Deployed from then on; {"finished": bool}), so a
                                             test can outlast a --no-wait run with a long
                                             deploy and then go on without sleeping

  POST   /_test/account-pab         set the account-level S3 Public Access Block that S3 Control
                                    requests signed with one access key see (JSON body:
                                    {"access_key": K, "config": {"BlockPublicAcls": true, ...}
                                    or null for "none configured"})
  GET    /_test/account-pab?access_key=K    that override ({"set": false} if none)
  DELETE /_test/account-pab?access_key=K    remove it (K sees moto's own state again)

S3 Control requests put the account id in front of the endpoint's host name, so tests point
AWS_ENDPOINT_URL_S3_CONTROL at http://s3-control.kop.test:PORT (resolved through /etc/hosts,
see tests/support/moto.rs). Requests whose Host ends in ".s3-control.kop.test" are handed to
moto's S3 Control backend under its AWS host name, logged and faulted under the pseudo-bucket
"s3control:<access key>" (key = the path after /v20180820/), and answered from the per-access-
key Public Access Block override when a test set one: moto keeps one configuration per account,
which parallel tests would otherwise share.

Requests whose User-Agent carries "kop-test-harness" (the harness's own clients, used for
seeding and for assertions) are neither logged nor faulted. S3 state is keyed by bucket and
IAM state by provider URL, so tests running in parallel against one server do not see each
other.

moto's IAM OpenID Connect provider support is also made to behave as the IAM API reference
documents it (see `patch_iam`): Add/RemoveClientID, input validation, the optional
ThumbprintList, and a duplicate URL answered with EntityAlreadyExists. STS's unsigned
AssumeRoleWithWebIdentity is logged (service "sts") and, for a token carrying the claim
"kop-test-sts": "InvalidIdentityToken", refused the way AWS refuses a token signed with a key
the public JWKS does not list (see `refuses_web_identity`).

moto's CloudFront is made to behave as the CloudFront API reference documents it (see
`patch_cloudfront`): a distribution is InProgress for KOP_CLOUDFRONT_DEPLOY_SECONDS (default 2)
after each create or update, then Deployed; origins keep S3OriginConfig and
OriginAccessControlId; IfMatch is checked and the ETag changes on every update; an enabled
distribution cannot be deleted and an alias belongs to one distribution (CNAMEAlreadyExists,
so tests sharing this server must use distinct aliases); invalidations
read Completed (after KOP_CLOUDFRONT_INVALIDATION_SECONDS, default 0) and a reused
CallerReference returns the first invalidation. A distribution's DomainName is derived from the
access key that created it (`cloudfront_domain`), so a test knows it before the binary runs.
CloudFront, ACM and Route 53 requests are logged and faulted by signing access key.

The process exits by itself once its parent (the test process) is gone.
"""

import base64
import hashlib
import io
import json
import os
import re
import sys
import threading
import time
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

HARNESS_MARKER = "kop-test-harness"

DEFAULT_MESSAGES = {
    "AccessDenied": "Access Denied",
    "InternalError": "We encountered an internal error. Please try again.",
    "SlowDown": "Please reduce your request rate.",
    "ServiceUnavailable": "Please reduce your request rate.",
    "PreconditionFailed": "At least one of the pre-conditions you specified did not hold",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchBucket": "The specified bucket does not exist",
}


# --- IAM OpenID Connect providers, as the IAM API reference documents them -------------------
#
# moto 5.2.5 leaves AddClientIDToOpenIDConnectProvider / RemoveClientIDFromOpenIDConnectProvider
# unimplemented (HTTP 500) and validates little on create. Each patch below names the part of
# the IAM API reference (docs.aws.amazon.com/IAM/latest/APIReference/API_<Action>.html) it
# follows. Error codes and statuses come from moto's serializer, which reads them from the
# botocore IAM model: InvalidInput 400, ValidationError 400, EntityAlreadyExists 409,
# LimitExceeded 409, NoSuchEntity 404.

HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
MAX_THUMBPRINTS = 5
MAX_CLIENT_IDS = 100


def validate_provider_url(url, InvalidInput):
    """API_CreateOpenIDConnectProvider, Url: "must begin with https://", "path components are
    allowed but query parameters are not", "should not contain a port number"."""
    url = url or ""
    if not url.startswith("https://"):
        raise InvalidInput(f"Invalid Open ID Connect Provider URL {url!r}: it must begin with https://")
    rest = url[len("https://"):]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not authority:
        raise InvalidInput(f"Invalid Open ID Connect Provider URL {url!r}: it has no host")
    if ":" in authority or "@" in authority:
        raise InvalidInput(f"Invalid Open ID Connect Provider URL {url!r}: it must not contain a port")
    if "?" in rest or "#" in rest:
        raise InvalidInput(
            f"Invalid Open ID Connect Provider URL {url!r}: it must not contain a query or fragment"
        )


def validate_thumbprints(thumbprints, ValidationError, InvalidInput):
    """thumbprintType is exactly 40 characters in the API model (ValidationError); the reference
    describes it as the hex-encoded SHA-1 of a certificate and allows up to five per provider
    (InvalidInput, moto's wording)."""
    if any(len(t) != 40 for t in thumbprints):
        raise ValidationError(
            f'1 validation error detected: Value "{thumbprints}" at "thumbprintList" failed to '
            "satisfy constraint: Member must satisfy constraint: [Member must have length less "
            "than or equal to 40, Member must have length greater than or equal to 40]"
        )
    bad = [t for t in thumbprints if not HEX40.match(t)]
    if bad:
        raise InvalidInput(f"Thumbprint {bad[0]!r} is not a hex-encoded SHA-1 hash (40 hex digits).")
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise InvalidInput("Thumbprint list must contain fewer than 5 entries.")


def validate_client_ids(client_ids, ValidationError, LimitExceeded):
    """clientIDType is 1-255 characters in the API model (ValidationError); "You cannot register
    more than 100 client IDs with a single IAM OIDC provider" (the ClientIdsPerOpenIdConnect-
    Provider quota: LimitExceeded, 409, as moto already answers)."""
    if any(not 1 <= len(c or "") <= 255 for c in client_ids):
        raise ValidationError(
            f'1 validation error detected: Value "{client_ids}" at "clientIDList" failed to '
            "satisfy constraint: Member must satisfy constraint: [Member must have length less "
            "than or equal to 255, Member must have length greater than or equal to 1]"
        )
    if len(client_ids) > MAX_CLIENT_IDS:
        raise LimitExceeded("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100")


def fetched_thumbprint(url):
    """What "IAM fetched itself" stands in for: a deterministic 40-hex value a caller never sent
    (SHA-1 of the URL), so tests can tell it from their own."""
    return hashlib.sha1(url.encode()).hexdigest()


def patch_iam():
    from moto.core.responses import EmptyResult
    from moto.iam.exceptions import (
        EntityAlreadyExists,
        InvalidInput,
        LimitExceededException,
        ValidationError,
    )
    from moto.iam.models import IAMBackend
    from moto.iam.responses import IamResponse

    moto_create = IAMBackend.create_open_id_connect_provider
    moto_update = IAMBackend.update_open_id_connect_provider_thumbprint

    def create_open_id_connect_provider(self, url, thumbprint_list, client_id_list, tags):
        validate_provider_url(url, InvalidInput)
        thumbprint_list = list(thumbprint_list or [])
        client_id_list = list(client_id_list or [])
        validate_thumbprints(thumbprint_list, ValidationError, InvalidInput)
        validate_client_ids(client_id_list, ValidationError, LimitExceededException)
        # "You cannot register the same provider multiple times in a single AWS account"
        # (EntityAlreadyExists, 409); moto checks this too, with the message "Unknown".
        stored = url[len("https://"):]
        if any(p.url == stored for p in self.open_id_providers.values()):
            raise EntityAlreadyExists(f"Provider with url {url} already exists.")
        # ThumbprintList is optional since July 2024: IAM then retrieves the top intermediate
        # CA thumbprint of the IdP's server certificate itself, so Get returns a thumbprint
        # the caller never sent.
        if not thumbprint_list:
            thumbprint_list = [fetched_thumbprint(url)]
        return moto_create(self, url, thumbprint_list, client_id_list, tags)

    def update_open_id_connect_provider_thumbprint(self, arn, thumbprint_list):
        # API_UpdateOpenIDConnectProviderThumbprint: the same thumbprint rules as create; the
        # list given replaces the existing list entirely.
        thumbprint_list = list(thumbprint_list or [])
        validate_thumbprints(thumbprint_list, ValidationError, InvalidInput)
        moto_update(self, arn, thumbprint_list)

    def add_client_id_to_open_id_connect_provider(self, arn, client_id):
        # API_AddClientIDToOpenIDConnectProvider: "This operation is idempotent; it does not
        # fail or return an error if you add an existing client ID to the provider."
        validate_client_ids([client_id], ValidationError, LimitExceededException)
        provider = self.get_open_id_connect_provider(arn)  # NoSuchEntity for an unknown ARN
        if client_id in provider.client_id_list:
            return
        validate_client_ids(
            provider.client_id_list + [client_id], ValidationError, LimitExceededException
        )
        provider.client_id_list = provider.client_id_list + [client_id]

    def remove_client_id_from_open_id_connect_provider(self, arn, client_id):
        # API_RemoveClientIDFromOpenIDConnectProvider: "This operation is idempotent; it does
        # not fail or return an error if you try to remove a client ID that does not exist."
        provider = self.get_open_id_connect_provider(arn)  # NoSuchEntity for an unknown ARN
        provider.client_id_list = [c for c in provider.client_id_list if c != client_id]

    IAMBackend.create_open_id_connect_provider = create_open_id_connect_provider
    IAMBackend.update_open_id_connect_provider_thumbprint = (
        update_open_id_connect_provider_thumbprint
    )
    IAMBackend.add_client_id_to_open_id_connect_provider = add_client_id_to_open_id_connect_provider
    IAMBackend.remove_client_id_from_open_id_connect_provider = (
        remove_client_id_from_open_id_connect_provider
    )

    def add_client_id_response(self):
        self.backend.add_client_id_to_open_id_connect_provider(
            self._get_param("OpenIDConnectProviderArn"), self._get_param("ClientID") or ""
        )
        return EmptyResult()

    def remove_client_id_response(self):
        self.backend.remove_client_id_from_open_id_connect_provider(
            self._get_param("OpenIDConnectProviderArn"), self._get_param("ClientID") or ""
        )
        return EmptyResult()

    # moto dispatches Action=AddClientIDToOpenIDConnectProvider to the response method of the
    # snake_case name.
    IamResponse.add_client_id_to_open_id_connect_provider = add_client_id_response
    IamResponse.remove_client_id_from_open_id_connect_provider = remove_client_id_response


# --- CloudFront, as the CloudFront API reference documents it ---------------------------------
#
# moto 5.2.5's CloudFront differs from AWS where the hosting code depends on it (PROTOCOL.md §8).
# Each patch names the page of the CloudFront API reference
# (docs.aws.amazon.com/cloudfront/latest/APIReference/API_<Action>.html, or API_<Type>.html for
# a data type) whose behaviour it matches. Error statuses come from moto's serializer, which
# reads them from the botocore CloudFront model: PreconditionFailed 412, InvalidIfMatchVersion
# 400, DistributionNotDisabled 409, OriginAccessControlInUse 409, NoSuchDistribution 404.

# How long a created or updated distribution stays InProgress before it reads Deployed.
DEPLOY_SECONDS = float(os.environ.get("KOP_CLOUDFRONT_DEPLOY_SECONDS", "2"))
# How long a new invalidation stays InProgress before it reads Completed (AWS: seconds to
# minutes; 0 = at once).
INVALIDATION_SECONDS = float(os.environ.get("KOP_CLOUDFRONT_INVALIDATION_SECONDS", "0"))

# The access key that signed the request being served (set by TestHooks per request thread),
# so the model patches can derive per-test names from it.
REQUEST = threading.local()
CLOUDFRONT_DOMAINS_CREATED = {}  # access key -> distributions created with it so far
# access key -> deploy seconds for the changes it signs (POST /_test/cloudfront-deploy), so one
# test can make deploys slow (a --wait-timeout test) without slowing the others.
DEPLOY_SECONDS_BY_KEY = {}
# distribution id -> when its first deploy completes (an update later makes it InProgress
# again, but CloudFront keeps serving it meanwhile; the test edge asks
# /_test/cloudfront-deployed to tell "never deployed" from "deploying a change").
FIRST_DEPLOYED_AT = {}
# distribution id -> the distribution, for POST /_test/cloudfront-deployed.
DISTRIBUTIONS_BY_ID = {}
CLOUDFRONT_LOCK = threading.Lock()


def cloudfront_domain(access_key, ordinal):
    """The DomainName of the `ordinal`-th (0-based) distribution created with `access_key`:
    `d` + 13 lowercase hex digits of SHA-256("<access key>#<ordinal>") + `.cloudfront.net`.
    AWS assigns a random `dXXXXXXXXXXXXX.cloudfront.net`; a name the test can compute before
    the binary creates the distribution lets it pass `--connect-to NAME:443:127.0.0.1:PORT`
    (tests/support/edge.rs, `cloudfront_domain`). Keep the two in step."""
    digest = hashlib.sha256(f"{access_key}#{ordinal}".encode()).hexdigest()
    return f"d{digest[:13]}.cloudfront.net"


def new_etag():
    """A fresh version identifier, as CloudFront returns in ETag (E + 13 characters)."""
    return "E" + hashlib.sha256(os.urandom(16)).hexdigest()[:13].upper()


def patch_cloudfront():
    from moto.cloudfront import models as cf
    from moto.cloudfront.exceptions import (
        CloudFrontException,
        InvalidIfMatchVersion,
        NoSuchDistribution,
    )
    from moto.core.utils import utcnow

    class PreconditionFailed(CloudFrontException):
        def __init__(self):
            super().__init__(
                "PreconditionFailed",
                "The precondition given in one or more of the request header fields evaluated "
                "to false.",
            )

    class DistributionNotDisabled(CloudFrontException):
        def __init__(self):
            super().__init__(
                "DistributionNotDisabled",
                "The distribution you are trying to delete has not been disabled.",
            )

    class OriginAccessControlInUse(CloudFrontException):
        def __init__(self):
            super().__init__(
                "OriginAccessControlInUse",
                "Cannot delete this origin access control because it's in use by one or more "
                "origins.",
            )

    class InvalidationBatchAlreadyExists(CloudFrontException):
        # Not in the botocore model, so moto's serializer answers 400.
        def __init__(self, invalidation_id):
            super().__init__(
                "InvalidationBatchAlreadyExists",
                "The CallerReference you are using to create an invalidation batch is "
                f"associated with another invalidation batch with different paths: "
                f"{invalidation_id}",
            )

    def check_if_match(if_match, etag):
        # API_UpdateDistribution / API_DeleteDistribution / API_UpdateOriginAccessControl /
        # API_DeleteOriginAccessControl, IfMatch: "The value of the ETag header that you
        # received when retrieving ..." Missing: InvalidIfMatchVersion (400); not the current
        # version: PreconditionFailed (412).
        if not if_match:
            raise InvalidIfMatchVersion
        if if_match != etag:
            raise PreconditionFailed()

    # API_Origin: S3OriginConfig (OriginAccessIdentity "" when OAC is used) and
    # OriginAccessControlId come back exactly as set; moto keeps neither.
    moto_origin_init = cf.Origin.__init__

    def origin_init(self, origin):
        moto_origin_init(self, origin)
        if "S3OriginConfig" in origin:
            identity = (origin.get("S3OriginConfig") or {}).get("OriginAccessIdentity")
            self.S3OriginConfig = {"OriginAccessIdentity": identity or ""}
        else:
            self.S3OriginConfig = None
        self.OriginAccessControlId = origin.get("OriginAccessControlId") or ""

    cf.Origin.__init__ = origin_init

    # API_ViewerCertificate: with ACMCertificateArn set, CloudFrontDefaultCertificate is false
    # and CertificateSource reads "acm"; moto always says the default certificate.
    moto_viewer_init = cf.ViewerCertificate.__init__

    def viewer_init(self, config):
        moto_viewer_init(self, config)
        if self.acm_certificate_arn:
            self.cloud_front_default_certificate = bool(
                config.get("CloudFrontDefaultCertificate", False)
            )
            self.certificate_source = "acm"
            self.certificate = self.acm_certificate_arn

    cf.ViewerCertificate.__init__ = viewer_init

    # API_DefaultCacheBehavior: a behaviour with a CachePolicyId has no ForwardedValues nor
    # legacy TTLs ("A cache behavior must include either a CachePolicyId or
    # ForwardedValues"); moto adds both.
    moto_behaviour_init = cf.DefaultCacheBehaviour.__init__

    def behaviour_init(self, config):
        moto_behaviour_init(self, config)
        if self.cache_policy_id:
            self.forwarded_values = None
            self.min_ttl = None
            self.default_ttl = None
            self.max_ttl = None

    cf.DefaultCacheBehaviour.__init__ = behaviour_init

    # API_Distribution, Status: "InProgress" after a create or update until the change has
    # reached every edge location, then "Deployed". moto advances on the number of Gets; here
    # the clock decides: InProgress for KOP_CLOUDFRONT_DEPLOY_SECONDS after the last change.
    def deploying(dist):
        access_key = getattr(REQUEST, "access_key", "")
        with CLOUDFRONT_LOCK:
            seconds = DEPLOY_SECONDS_BY_KEY.get(access_key, DEPLOY_SECONDS)
        dist.kop_deployed_at = time.time() + seconds
        dist.last_modified_time = utcnow()
        dist.etag = new_etag()
        with CLOUDFRONT_LOCK:
            DISTRIBUTIONS_BY_ID[dist.distribution_id] = dist

    def status(self):
        return "InProgress" if time.time() < getattr(self, "kop_deployed_at", 0) else "Deployed"

    cf.Distribution.status = property(status, lambda self, value: None)

    class CNAMEAlreadyExists(CloudFrontException):
        def __init__(self, name):
            super().__init__(
                "CNAMEAlreadyExists",
                f"One or more of the CNAMEs you provided are already associated with a "
                f"different resource: {name}",
            )

    def check_aliases(backend, config, own_id=None):
        # API_CreateDistribution / API_UpdateDistribution, CNAMEAlreadyExists (409): an alternate
        # domain name belongs to one distribution at a time. Tests sharing this server must use
        # distinct aliases; this makes a collision fail loudly instead of mixing their traffic.
        wanted = {
            a.lower() for a in ((config or {}).get("Aliases") or {}).get("Items") or []
        }
        for other in backend.distributions.values():
            if other.distribution_id == own_id:
                continue
            items = (other.distribution_config.Aliases or {}).get("Items") or []
            taken = wanted.intersection(a.lower() for a in items)
            if taken:
                raise CNAMEAlreadyExists(sorted(taken)[0])

    moto_create = cf.CloudFrontBackend.create_distribution_with_tags

    def create_distribution_with_tags(self, distribution_config, tags):
        check_aliases(self, distribution_config)
        dist, location, _ = moto_create(self, distribution_config, tags)
        access_key = getattr(REQUEST, "access_key", "") or "anonymous"
        with CLOUDFRONT_LOCK:
            ordinal = CLOUDFRONT_DOMAINS_CREATED.get(access_key, 0)
            CLOUDFRONT_DOMAINS_CREATED[access_key] = ordinal + 1
        dist.domain_name = cloudfront_domain(access_key, ordinal)
        deploying(dist)
        with CLOUDFRONT_LOCK:
            FIRST_DEPLOYED_AT[dist.distribution_id] = dist.kop_deployed_at
        return dist, location, dist.etag

    def create_distribution(self, distribution_config, tags):
        return self.create_distribution_with_tags(distribution_config, tags)

    cf.CloudFrontBackend.create_distribution_with_tags = create_distribution_with_tags
    cf.CloudFrontBackend.create_distribution = create_distribution

    def update_distribution(self, dist_config, _id, if_match):
        if _id is None or _id not in self.distributions:
            raise NoSuchDistribution
        dist = self.distributions[_id]
        check_if_match(if_match, dist.etag)
        check_aliases(self, dist_config, own_id=_id)
        # API_UpdateDistribution: the CallerReference cannot change (moto would take it).
        dist_config = dict(dist_config)
        dist_config["CallerReference"] = dist.distribution_config.caller_reference
        dist.distribution_config = cf.DistributionConfig(dist_config)
        deploying(dist)
        return dist, dist.location, dist.etag

    cf.CloudFrontBackend.update_distribution = update_distribution

    def delete_distribution(self, distribution_id, if_match):
        # API_DeleteDistribution: "you must first disable the distribution" and wait until it
        # is Deployed; then delete with the ETag of that last change.
        if distribution_id not in self.distributions:
            raise NoSuchDistribution
        dist = self.distributions[distribution_id]
        check_if_match(if_match, dist.etag)
        enabled = dist.distribution_config.Enabled
        if enabled in (True, "true", "True") or dist.status != "Deployed":
            raise DistributionNotDisabled()
        del self.distributions[distribution_id]
        self.invalidations.pop(distribution_id, None)

    cf.CloudFrontBackend.delete_distribution = delete_distribution

    # API_CreateOriginAccessControl/UpdateOriginAccessControl: a new ETag per version, and
    # IfMatch checked on update and delete; an OAC still attached to an origin cannot go.
    moto_oac_init = cf.OriginAccessControl.__init__

    def oac_init(self, config_dict):
        moto_oac_init(self, config_dict)
        self.etag = new_etag()

    cf.OriginAccessControl.__init__ = oac_init

    def update_origin_access_control(self, control_id, config, if_match=None):
        control = self.get_origin_access_control(control_id)
        check_if_match(if_match, control.etag)
        control.update(config)
        control.etag = new_etag()
        return control

    cf.CloudFrontBackend.update_origin_access_control = update_origin_access_control

    def delete_origin_access_control(self, control_id, if_match=None):
        control = self.get_origin_access_control(control_id)
        check_if_match(if_match, control.etag)
        for dist in self.distributions.values():
            if any(
                getattr(o, "OriginAccessControlId", "") == control_id
                for o in dist.distribution_config.Origins["Items"]
            ):
                raise OriginAccessControlInUse()
        self.origin_access_controls.pop(control.id)

    cf.CloudFrontBackend.delete_origin_access_control = delete_origin_access_control

    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult

    def update_oac_response(self):
        control = self.backend.update_origin_access_control(
            self._get_param("Id"),
            self._get_param("OriginAccessControlConfig", {}),
            self._get_param("IfMatch"),
        )
        return ActionResult(
            {
                "OriginAccessControl": {"Id": control.id, "OriginAccessControlConfig": control},
                "ETag": control.etag,
            }
        )

    def delete_oac_response(self):
        self.backend.delete_origin_access_control(
            self._get_param("Id"), self._get_param("IfMatch")
        )
        return EmptyResult()

    CloudFrontResponse.update_origin_access_control = update_oac_response
    CloudFrontResponse.delete_origin_access_control = delete_oac_response

    # API_GetInvalidation, Status: "Completed" once done (moto: "COMPLETED", which the SDK's
    # invalidation waiter never matches); "InProgress" for KOP_CLOUDFRONT_INVALIDATION_SECONDS.
    def invalidation_status(self):
        if time.time() < getattr(self, "kop_completed_at", 0):
            return "InProgress"
        return "Completed"

    cf.Invalidation.status = property(invalidation_status, lambda self, value: None)

    # API_InvalidationBatch, CallerReference: "If you make a second invalidation request with
    # the same value for CallerReference, and if the contents of the Paths object are the same,
    # CloudFront doesn't create a new invalidation batch but instead returns information about
    # the invalidation that was created the first time. If ... the contents of the Paths
    # object are different, CloudFront returns an InvalidationBatchAlreadyExists error."
    def create_invalidation(self, dist_id, paths, caller_ref):
        if dist_id not in self.distributions:
            raise NoSuchDistribution
        for earlier in self.invalidations.get(dist_id, []):
            if earlier.caller_ref == caller_ref:
                if sorted(earlier.paths) == sorted(paths):
                    return earlier
                raise InvalidationBatchAlreadyExists(earlier.id)
        invalidation = cf.Invalidation(self.distributions[dist_id], list(paths), caller_ref)
        invalidation.kop_completed_at = time.time() + INVALIDATION_SECONDS
        self.invalidations.setdefault(dist_id, []).append(invalidation)
        return invalidation

    cf.CloudFrontBackend.create_invalidation = create_invalidation


# --- IAM/STS request log and faults ----------------------------------------------------------

# Default status and message per IAM error code (IAM API reference, "Common Errors" and each
# action's "Errors" section).
IAM_ERRORS = {
    "Throttling": (400, "Rate exceeded"),
    "AccessDenied": (
        403,
        "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: "
        "{service}:{action} on resource: {resource} because no identity-based policy allows "
        "the {service}:{action} action",
    ),
    "LimitExceeded": (409, "Cannot exceed quota for OpenIdConnectProvidersPerAccount: 100"),
    "ConcurrentModification": (
        409,
        "The request was rejected because multiple requests to change this object were "
        "submitted simultaneously. Wait a few minutes and submit your request again.",
    ),
    "ServiceFailure": (
        500,
        "The request processing has failed because of an unknown error, exception or failure.",
    ),
    "NoSuchEntity": (404, "The requested entity does not exist."),
    "EntityAlreadyExists": (409, "The entity already exists."),
    "InvalidInput": (
        400,
        "The request was rejected because an invalid or out-of-range value was supplied for "
        "an input parameter.",
    ),
}
XML_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[0-9]{8}/[^/]+/([^/]+)/aws4_request")


# --- STS AssumeRoleWithWebIdentity with a token STS cannot verify ----------------------------
#
# moto exchanges any web identity token for credentials without looking at it. AWS fetches the
# issuer's JWKS and looks the token's `kid` up there; when the key is not found (or the JWKS
# cannot be fetched) it answers HTTP 400, query-protocol error, Type Sender, code
# InvalidIdentityToken, with the message below (STS API reference, AssumeRoleWithWebIdentity,
# "Errors": InvalidIdentityToken, 400; message as AWS words it, PROTOCOL.md's STS error table;
# the double space is AWS's). Tests mark a token STS is to refuse with the payload claim
# "kop-test-sts": "InvalidIdentityToken" (a test's stand-in for "signed with a key the public
# JWKS does not list"); other tokens still reach moto.
STS_REFUSE_CLAIM = "kop-test-sts"
STS_UNVERIFIABLE_TOKEN = (
    "Couldn't retrieve verification key from your identity provider,  please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)


def refuses_web_identity(token):
    """Whether `token` (a compact JWT) carries the test mark that makes STS refuse it."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get(STS_REFUSE_CLAIM) == "InvalidIdentityToken"


def signing_scope(environ):
    """(service, access key id) from a SigV4 Authorization header, or ("", "")."""
    match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return "", ""
    return match.group(2), match.group(1)


S3CONTROL_HOST_SUFFIX = ".s3-control.kop.test"
S3CONTROL_NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def s3control_account(environ):
    """The account id of an S3 Control request to <account>.s3-control.kop.test, else None."""
    host = environ.get("HTTP_HOST", "").split(":")[0]
    if not host.endswith(S3CONTROL_HOST_SUFFIX):
        return None
    return host[: -len(S3CONTROL_HOST_SUFFIX)] or "123456789012"


def public_access_block_xml(config):
    """GetPublicAccessBlock's answer (S3 Control API reference): the configuration element."""
    flags = "".join(
        f"<{flag}>{'true' if config.get(flag) else 'false'}</{flag}>" for flag in PAB_FLAGS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<PublicAccessBlockConfiguration xmlns="{S3CONTROL_NAMESPACE}">{flags}'
        "</PublicAccessBlockConfiguration>"
    ).encode()


def s3control_error_xml(code, message, request_id):
    """S3 Control errors are wrapped (<ErrorResponse><Error>), unlike S3's flat <Error>."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<ErrorResponse><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId><HostId>moto-test</HostId></ErrorResponse>"
    ).encode()


class IamFault:
    """One configured IAM/STS fault. JSON fields: service ("iam" or "sts", required), action
    (absent = any), provider (substring of the request's Url or provider ARN; absent = any
    request), access_key (the signing access key id; absent = any), code, status (default: the code's usual status, see IAM_ERRORS; 0 = no error,
    only delay), message (default: the code's usual message; {service}, {action} and
    {resource} are filled in), times (default 1, <= 0 = every match), skip, delay_ms."""

    def __init__(self, spec):
        self.spec = spec
        self.service = spec["service"]
        self.action = spec.get("action")
        self.provider = spec.get("provider")
        self.access_key = spec.get("access_key")
        self.code = spec.get("code") or "ServiceFailure"
        default_status, default_message = IAM_ERRORS.get(self.code, (400, self.code))
        status = spec.get("status")
        self.status = default_status if status is None else int(status)
        self.message = spec.get("message") or default_message
        self.times = int(spec.get("times", 1))
        self.skip = int(spec.get("skip", 0))
        self.delay_ms = int(spec.get("delay_ms", 0))
        self.fired = 0

    def matches(self, service, action, provider, access_key):
        return (
            self.service == service
            and (self.action is None or self.action == action)
            and (self.provider is None or self.provider in provider)
            and (self.access_key is None or self.access_key == access_key)
        )

    def describe(self):
        return dict(self.spec, fired=self.fired, skip_left=self.skip)


def take_fault(faults, service, action, provider, access_key):
    """The first fault of `faults` (IamFault or HostingFault) that answers this request, its
    `skip` and `fired` counts updated; None if none does. Call with the hooks' lock held."""
    for candidate in faults:
        if not candidate.matches(service, action, provider, access_key):
            continue
        if candidate.skip > 0:
            candidate.skip -= 1
            continue
        if 0 < candidate.times <= candidate.fired:
            continue
        candidate.fired += 1
        return candidate
    return None


def iam_entry_matches(entry, query):
    """Filters of /_test/iam-requests: provider is a substring match, the others exact."""
    provider = query.get("provider", [""])[0]
    return (
        (not provider or provider in entry["provider"])
        and all(
            not query.get(name, [""])[0] or entry[name] == query[name][0]
            for name in ("service", "action", "access_key")
        )
    )


def split_path(environ):
    """Return (bucket, key) for path-style URLs (or <bucket>.localhost virtual hosts)."""
    path = environ.get("PATH_INFO", "")
    host = environ.get("HTTP_HOST", "").split(":")[0]
    if host.endswith(".localhost"):
        return host[: -len(".localhost")], path.lstrip("/")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def operation(environ):
    """S3 sub-resource of the request: names of blank query parameters (?policy, ?acl, ...)."""
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    names = sorted(n for n, v in query.items() if v == [""] or n == "list-type")
    return "&".join(names)


class Fault:
    """One configured fault. JSON fields: bucket (required), method, key, op (absent = any),
    status (0 = no error, only delay), code, message, times (default 1, <= 0 = every match),
    skip (matching requests to let through first), delay_ms."""

    def __init__(self, spec):
        self.spec = spec
        self.bucket = spec["bucket"]
        self.method = spec.get("method")
        self.key = spec.get("key")
        self.op = spec.get("op")
        self.status = int(spec.get("status") or 0)
        self.code = spec.get("code") or "InternalError"
        self.message = spec.get("message") or DEFAULT_MESSAGES.get(self.code, self.code)
        self.times = int(spec.get("times", 1))
        self.skip = int(spec.get("skip", 0))
        self.delay_ms = int(spec.get("delay_ms", 0))
        self.fired = 0

    def matches(self, method, key, op):
        return (
            (self.method is None or self.method.upper() == method)
            and (self.key is None or self.key == key)
            and (self.op is None or self.op == op)
        )

    def describe(self):
        return dict(self.spec, fired=self.fired, skip_left=self.skip)


# --- CloudFront, ACM and Route 53 request log and faults ---------------------------------------
#
# The three services the CloudFront hosting mode calls ("hosting" services) are logged by the
# signing access key: each test signs with its own key (Moto::unique_access_key), so the log
# and the faults of one test never mix with another's. CloudFront and Route 53 are REST APIs:
# the action is derived from the method and the path; ACM is JSON with X-Amz-Target.

HOSTING_SERVICES = ("cloudfront", "acm", "route53")

# (method, path pattern after the API version, query flag or None) -> action; first match wins.
CLOUDFRONT_ACTIONS = [
    ("POST", r"distribution", "WithTags", "CreateDistributionWithTags"),
    ("POST", r"distribution", None, "CreateDistribution"),
    ("GET", r"distribution", None, "ListDistributions"),
    ("GET", r"distribution/[^/]+", None, "GetDistribution"),
    ("DELETE", r"distribution/[^/]+", None, "DeleteDistribution"),
    ("GET", r"distribution/[^/]+/config", None, "GetDistributionConfig"),
    ("PUT", r"distribution/[^/]+/config", None, "UpdateDistribution"),
    ("POST", r"distribution/[^/]+/invalidation", None, "CreateInvalidation"),
    ("GET", r"distribution/[^/]+/invalidation", None, "ListInvalidations"),
    ("GET", r"distribution/[^/]+/invalidation/[^/]+", None, "GetInvalidation"),
    ("POST", r"origin-access-control", None, "CreateOriginAccessControl"),
    ("GET", r"origin-access-control", None, "ListOriginAccessControls"),
    ("GET", r"origin-access-control/[^/]+", None, "GetOriginAccessControl"),
    ("DELETE", r"origin-access-control/[^/]+", None, "DeleteOriginAccessControl"),
    ("GET", r"origin-access-control/[^/]+/config", None, "GetOriginAccessControlConfig"),
    ("PUT", r"origin-access-control/[^/]+/config", None, "UpdateOriginAccessControl"),
    ("GET", r"tagging", None, "ListTagsForResource"),
    ("POST", r"tagging", "Operation=Tag", "TagResource"),
    ("POST", r"tagging", "Operation=Untag", "UntagResource"),
    ("GET", r"cache-policy", None, "ListCachePolicies"),
    ("GET", r"cache-policy/[^/]+", None, "GetCachePolicy"),
    ("GET", r"cache-policy/[^/]+/config", None, "GetCachePolicyConfig"),
]
ROUTE53_ACTIONS = [
    ("POST", r"hostedzone", None, "CreateHostedZone"),
    ("GET", r"hostedzone", None, "ListHostedZones"),
    ("GET", r"hostedzone/[^/]+", None, "GetHostedZone"),
    ("DELETE", r"hostedzone/[^/]+", None, "DeleteHostedZone"),
    ("POST", r"hostedzone/[^/]+", None, "UpdateHostedZoneComment"),
    ("POST", r"hostedzone/[^/]+/rrset", None, "ChangeResourceRecordSets"),
    ("GET", r"hostedzone/[^/]+/rrset", None, "ListResourceRecordSets"),
    ("GET", r"hostedzonesbyname", None, "ListHostedZonesByName"),
    ("GET", r"hostedzonecount", None, "GetHostedZoneCount"),
    ("GET", r"change/[^/]+", None, "GetChange"),
    ("GET", r"tags/[^/]+/[^/]+", None, "ListTagsForResource"),
    ("POST", r"tags/[^/]+/[^/]+", None, "ChangeTagsForResource"),
]

# Default status and message per error code, for injected faults (CloudFront and Route 53
# "Common Errors" and each action's "Errors"; ACM's JSON exception names).
HOSTING_ERRORS = {
    "AccessDenied": (403, "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: {service}:{action}"),
    "AccessDeniedException": (400, "User: arn:aws:iam::123456789012:user/moto is not authorized to perform: {service}:{action}"),
    "Throttling": (400, "Rate exceeded"),
    "ThrottlingException": (400, "Rate exceeded"),
    "ServiceUnavailable": (503, "The service is unavailable. Please try again later."),
    "InternalFailure": (500, "The request processing has failed because of an unknown error."),
    "TooManyInvalidationsInProgress": (
        400,
        "Your request contains too many invalidations in progress.",
    ),
    "PriorRequestNotComplete": (
        400,
        "The request was rejected because Route 53 was still processing a prior request.",
    ),
    "ResourceNotFoundException": (400, "Could not find the resource."),
}
HOSTING_NAMESPACES = {
    "cloudfront": "http://cloudfront.amazonaws.com/doc/2020-05-31/",
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
}


def rest_action(service, method, path, query):
    """The API action of a CloudFront or Route 53 REST request, or "<METHOD> <path>"."""
    version, table = (
        ("/2020-05-31/", CLOUDFRONT_ACTIONS)
        if service == "cloudfront"
        else ("/2013-04-01/", ROUTE53_ACTIONS)
    )
    rest = path[len(version):].strip("/") if path.startswith(version) else None
    if rest is not None:
        for want_method, pattern, flag, action in table:
            if want_method != method or not re.fullmatch(pattern, rest):
                continue
            if flag is not None and flag not in query:
                continue
            return action
    return f"{method} {path}"


def is_hosting_write(service, method, action):
    """CloudFront and Route 53 change things with POST, PUT and DELETE; ACM is all POST, so
    there the action decides (Describe*, List*, Get* read)."""
    if service == "acm":
        return not action.startswith(("Describe", "List", "Get"))
    return method not in ("GET", "HEAD")


class HostingFault(IamFault):
    """One configured CloudFront/ACM/Route 53 fault; the JSON fields of IamFault (service is
    "cloudfront", "acm" or "route53"; provider is not used), with defaults from HOSTING_ERRORS."""

    def __init__(self, spec):
        super().__init__(spec)
        default_status, default_message = HOSTING_ERRORS.get(self.code, (400, self.code))
        status = spec.get("status")
        self.status = default_status if status is None else int(status)
        self.message = spec.get("message") or default_message


def hosting_entry_matches(entry, query):
    return all(
        not query.get(name, [""])[0] or str(entry[name]) == query[name][0]
        for name in ("service", "action", "access_key")
    )


def hosting_error(start_response, service, action, fault):
    """An error as the service's protocol returns it: REST-XML <ErrorResponse> for CloudFront
    and Route 53, a JSON body with __type for ACM."""
    request_id = f"fault-{fault.fired:08d}-0000-0000-0000-000000000000"
    message = fault.message.replace("{service}", service).replace("{action}", action)
    if service == "acm":
        body = json.dumps({"__type": fault.code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1"
    else:
        kind = "Receiver" if fault.status >= 500 else "Sender"
        body = (
            f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{HOSTING_NAMESPACES[service]}">'
            f"<Error><Type>{kind}</Type><Code>{escape(fault.code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    start_response(
        f"{fault.status} {fault.code}",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", fault.code),
        ],
    )
    return [body]


class TestHooks:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.log = {}  # bucket -> [entry]
        self.faults = {}  # bucket -> [Fault]
        self.iam_log = []  # [entry], IAM and STS, in arrival order
        self.iam_faults = []  # [IamFault]
        self.account_pab = {}  # access key -> account Public Access Block config, or None
        self.hosting_log = []  # [entry], CloudFront, ACM and Route 53, in arrival order
        self.hosting_faults = []  # [HostingFault]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_test/"):
            return self.control(environ, start_response)
        agent = environ.get("HTTP_USER_AGENT", "") + environ.get("HTTP_X_AMZ_USER_AGENT", "")
        account = s3control_account(environ)
        if account is not None:
            return self.s3control_call(environ, start_response, account, HARNESS_MARKER in agent)
        service, access_key = signing_scope(environ)
        REQUEST.access_key = access_key
        if HARNESS_MARKER in agent:
            return self.app(environ, start_response)
        if service in HOSTING_SERVICES:
            return self.hosting_call(environ, start_response, service, access_key)
        if service in ("iam", "sts"):
            return self.iam_call(environ, start_response, service, access_key)
        if not service and environ.get("REQUEST_METHOD") == "POST":
            refused = self.web_identity_call(environ, start_response)
            if refused is not None:
                return refused

        method = environ["REQUEST_METHOD"]
        bucket, key = split_path(environ)
        op = operation(environ)
        entry = {
            "method": method,
            "key": key,
            "op": op,
            "query": environ.get("QUERY_STRING", ""),
            "status": None,
            "fault": False,
        }
        fault = self.pick_fault(bucket, method, key, op)
        with self.lock:
            self.log.setdefault(bucket, []).append(entry)

        if fault is not None:
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000.0)
            if fault.status:
                entry["status"] = fault.status
                entry["fault"] = True
                return self.error(environ, start_response, fault, bucket, key)

        def recording_start_response(status, headers, exc_info=None):
            entry["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start_response)

    def s3control_call(self, environ, start_response, account, harness):
        """An S3 Control request: logged and faulted under "s3control:<access key>", answered
        from the access key's Public Access Block override if a test set one, else by moto's S3
        Control backend (reached under its AWS host name)."""
        environ["HTTP_HOST"] = f"{account}.s3-control.us-east-1.amazonaws.com"
        if harness:
            return self.app(environ, start_response)
        _, access_key = signing_scope(environ)
        method = environ["REQUEST_METHOD"]
        key = environ.get("PATH_INFO", "").lstrip("/").partition("/")[2]
        bucket = f"s3control:{access_key}"
        op = operation(environ)
        entry = {
            "method": method,
            "key": key,
            "op": op,
            "query": environ.get("QUERY_STRING", ""),
            "status": None,
            "fault": False,
        }
        fault = self.pick_fault(bucket, method, key, op)
        with self.lock:
            self.log.setdefault(bucket, []).append(entry)
            overridden = access_key in self.account_pab
            config = self.account_pab.get(access_key)

        if fault is not None:
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000.0)
            if fault.status:
                entry["status"] = fault.status
                entry["fault"] = True
                drain(environ)
                body = s3control_error_xml(fault.code, fault.message, f"FAULT{fault.fired:08d}")
                return self.respond(start_response, fault.status, fault.code, body)

        if overridden and key == "configuration/publicAccessBlock":
            body = read_all(environ)
            if method == "GET" and config is None:
                entry["status"] = 404
                code = "NoSuchPublicAccessBlockConfiguration"
                body = s3control_error_xml(
                    code, "The public access block configuration was not found", "PAB00000"
                )
                return self.respond(start_response, 404, code, body)
            if method == "GET":
                entry["status"] = 200
                return self.respond(start_response, 200, "OK", public_access_block_xml(config))
            if method == "PUT":
                text = body.decode("utf-8", "replace")
                config = {
                    flag: re.search(f"<{flag}>\\s*true\\s*</{flag}>", text) is not None
                    for flag in PAB_FLAGS
                }
            else:  # DELETE
                config = None
            with self.lock:
                self.account_pab[access_key] = config
            entry["status"] = 200
            return self.respond(start_response, 200, "OK", b"")

        def recording_start_response(status, headers, exc_info=None):
            entry["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start_response)

    def respond(self, start_response, status, reason, body):
        start_response(
            f"{status} {reason}",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def iam_call(self, environ, start_response, service, access_key):
        """Log an IAM/STS (AWS query protocol) request by action and provider, maybe fault it."""
        body = read_all(environ)
        # Hand moto an untouched copy of the form body.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        params = parse_qs(environ.get("QUERY_STRING", ""))
        params.update(parse_qs(body.decode("utf-8", "replace")))
        action = params.get("Action", [""])[0]
        provider = (params.get("OpenIDConnectProviderArn") or params.get("Url") or [""])[0]
        entry = {
            "service": service,
            "action": action,
            "provider": provider,
            "access_key": access_key,
            "status": None,
            "fault": False,
        }
        with self.lock:
            self.iam_log.append(entry)
            fault = take_fault(self.iam_faults, service, action, provider, access_key)

        if fault is not None:
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000.0)
            if fault.status:
                entry["status"] = fault.status
                entry["fault"] = True
                return self.iam_error(start_response, service, action, provider, fault)

        def recording_start_response(status, headers, exc_info=None):
            entry["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start_response)

    def hosting_call(self, environ, start_response, service, access_key):
        """Log a CloudFront/ACM/Route 53 request by action and access key, maybe fault it."""
        method = environ["REQUEST_METHOD"]
        if service == "acm":
            action = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        else:
            action = rest_action(
                service, method, environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
            )
        entry = {
            "service": service,
            "action": action,
            "method": method,
            "path": environ.get("PATH_INFO", ""),
            "access_key": access_key,
            "write": is_hosting_write(service, method, action),
            "status": None,
            "fault": False,
        }
        with self.lock:
            self.hosting_log.append(entry)
            fault = take_fault(self.hosting_faults, service, action, "", access_key)

        if fault is not None:
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000.0)
            if fault.status:
                entry["status"] = fault.status
                entry["fault"] = True
                drain(environ)
                return hosting_error(start_response, service, action, fault)

        def recording_start_response(status, headers, exc_info=None):
            entry["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, recording_start_response)

    def web_identity_call(self, environ, start_response):
        """An unsigned STS AssumeRoleWithWebIdentity (the token is the credential, so the SDK
        does not sign it): logged as service "sts"; refused as AWS refuses a token it cannot
        verify when the token is marked (see `refuses_web_identity`), else None (moto answers).
        The body is left for moto either way."""
        body = read_all(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        params = parse_qs(body.decode("utf-8", "replace"))
        if params.get("Action", [""])[0] != "AssumeRoleWithWebIdentity":
            return None
        entry = {
            "service": "sts",
            "action": "AssumeRoleWithWebIdentity",
            "provider": "",
            "access_key": "",
            "status": None,
            "fault": False,
        }
        with self.lock:
            self.iam_log.append(entry)
        if not refuses_web_identity(params.get("WebIdentityToken", [""])[0]):
            def recording_start_response(status, headers, exc_info=None):
                entry["status"] = int(status.split(" ", 1)[0])
                return start_response(status, headers, exc_info)

            return self.app(environ, recording_start_response)
        entry["status"] = 400
        entry["fault"] = True
        fault = IamFault(
            {
                "service": "sts",
                "code": "InvalidIdentityToken",
                "status": 400,
                "message": STS_UNVERIFIABLE_TOKEN,
            }
        )
        fault.fired = 1
        return self.iam_error(start_response, "sts", "AssumeRoleWithWebIdentity", "", fault)

    def iam_error(self, start_response, service, action, provider, fault):
        """An error as the AWS query protocol returns it (IAM API reference, "Common Errors")."""
        request_id = f"fault-{fault.fired:08d}-0000-0000-0000-000000000000"
        kind = "Receiver" if fault.status >= 500 else "Sender"
        message = (
            fault.message.replace("{service}", service)
            .replace("{action}", action)
            .replace("{resource}", provider or "*")
        )
        body = (
            f'<ErrorResponse xmlns="{XML_NAMESPACES.get(service, XML_NAMESPACES["iam"])}">'
            f"<Error><Type>{kind}</Type><Code>{escape(fault.code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        start_response(
            f"{fault.status} {fault.code}",
            [
                ("Content-Type", "text/xml"),
                ("Content-Length", str(len(body))),
                ("x-amzn-RequestId", request_id),
            ],
        )
        return [body]

    def pick_fault(self, bucket, method, key, op):
        with self.lock:
            for fault in self.faults.get(bucket, []):
                if not fault.matches(method, key, op):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if 0 < fault.times <= fault.fired:
                    continue
                fault.fired += 1
                return fault
        return None

    def error(self, environ, start_response, fault, bucket, key):
        drain(environ)
        request_id = f"FAULT{fault.fired:08d}"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message>"
            + (f"<BucketName>{bucket}</BucketName>" if bucket else "")
            + (f"<Key>{key}</Key>" if key else "")
            + f"<RequestId>{request_id}</RequestId><HostId>moto-test-fault</HostId></Error>"
        ).encode()
        if environ["REQUEST_METHOD"] == "HEAD":
            body = b""
        start_response(
            f"{fault.status} {fault.code}",
            [
                ("Content-Type", "application/xml"),
                ("Content-Length", str(len(body))),
                ("x-amz-request-id", request_id),
            ],
        )
        return [body]

    def control(self, environ, start_response):
        path = environ["PATH_INFO"]
        method = environ["REQUEST_METHOD"]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        bucket = query.get("bucket", [""])[0]
        status, result = "200 OK", {"ok": True}
        with self.lock:
            if path == "/_test/requests" and method == "GET":
                result = {"requests": list(self.log.get(bucket, []))}
            elif path == "/_test/requests" and method == "DELETE":
                self.log.pop(bucket, None)
            elif path == "/_test/faults" and method == "POST":
                try:
                    spec = json.loads(read_body(environ))
                    if spec.get("service") in HOSTING_SERVICES:
                        self.hosting_faults.append(HostingFault(spec))
                    elif "service" in spec:
                        self.iam_faults.append(IamFault(spec))
                    else:
                        fault = Fault(spec)
                        self.faults.setdefault(fault.bucket, []).append(fault)
                except (ValueError, KeyError, TypeError) as err:
                    status, result = "400 Bad Request", {"error": repr(err)}
            elif path == "/_test/faults" and method == "GET":
                result = {"faults": [f.describe() for f in self.faults.get(bucket, [])]}
            elif path == "/_test/faults" and method == "DELETE":
                self.faults.pop(bucket, None)
            elif path == "/_test/iam-requests" and method == "GET":
                result = {"requests": [e for e in self.iam_log if iam_entry_matches(e, query)]}
            elif path == "/_test/iam-requests" and method == "DELETE":
                self.iam_log = [e for e in self.iam_log if not iam_entry_matches(e, query)]
            elif path == "/_test/iam-faults" and method in ("GET", "DELETE"):
                provider = query.get("provider", [None])[0]
                access_key = query.get("access_key", [None])[0]
                chosen = [
                    f
                    for f in self.iam_faults
                    if (provider is None or f.provider == provider)
                    and (access_key is None or f.access_key == access_key)
                ]
                if method == "GET":
                    result = {"faults": [f.describe() for f in chosen]}
                else:
                    self.iam_faults = [f for f in self.iam_faults if f not in chosen]
            elif path == "/_test/hosting-requests" and method == "GET":
                result = {
                    "requests": [e for e in self.hosting_log if hosting_entry_matches(e, query)]
                }
            elif path == "/_test/hosting-requests" and method == "DELETE":
                self.hosting_log = [
                    e for e in self.hosting_log if not hosting_entry_matches(e, query)
                ]
            elif path == "/_test/hosting-faults" and method in ("GET", "DELETE"):
                access_key = query.get("access_key", [None])[0]
                chosen = [
                    f
                    for f in self.hosting_faults
                    if access_key is None or f.access_key == access_key
                ]
                if method == "GET":
                    result = {"faults": [f.describe() for f in chosen]}
                else:
                    self.hosting_faults = [f for f in self.hosting_faults if f not in chosen]
            elif path == "/_test/cloudfront-deploy" and method == "POST":
                try:
                    spec = json.loads(read_body(environ))
                    with CLOUDFRONT_LOCK:
                        DEPLOY_SECONDS_BY_KEY[spec["access_key"]] = float(spec["seconds"])
                except (ValueError, KeyError, TypeError) as err:
                    status, result = "400 Bad Request", {"error": repr(err)}
            elif path == "/_test/cloudfront-deployed" and method == "GET":
                with CLOUDFRONT_LOCK:
                    at = FIRST_DEPLOYED_AT.get(query.get("id", [""])[0])
                result = {"deployed_once": at is not None and time.time() >= at}
            elif path == "/_test/cloudfront-deployed" and method == "POST":
                with CLOUDFRONT_LOCK:
                    dist = DISTRIBUTIONS_BY_ID.get(query.get("id", [""])[0])
                    if dist is not None:
                        now = time.time()
                        dist.kop_deployed_at = min(getattr(dist, "kop_deployed_at", now), now)
                        first = FIRST_DEPLOYED_AT.get(dist.distribution_id)
                        if first is not None and first > now:
                            FIRST_DEPLOYED_AT[dist.distribution_id] = now
                result = {"finished": dist is not None}
            elif path == "/_test/cloudfront-deploy" and method == "DELETE":
                with CLOUDFRONT_LOCK:
                    DEPLOY_SECONDS_BY_KEY.pop(query.get("access_key", [""])[0], None)
            elif path == "/_test/account-pab" and method == "POST":
                try:
                    spec = json.loads(read_body(environ))
                    config = spec.get("config")
                    self.account_pab[spec["access_key"]] = (
                        None if config is None else {f: bool(config.get(f)) for f in PAB_FLAGS}
                    )
                except (ValueError, KeyError, TypeError, AttributeError) as err:
                    status, result = "400 Bad Request", {"error": repr(err)}
            elif path == "/_test/account-pab" and method in ("GET", "DELETE"):
                access_key = query.get("access_key", [""])[0]
                if method == "GET":
                    result = {
                        "set": access_key in self.account_pab,
                        "config": self.account_pab.get(access_key),
                    }
                else:
                    self.account_pab.pop(access_key, None)
            elif path == "/_test/ping":
                result = {"ok": True, "pid": os.getpid()}
            else:
                status, result = "404 Not Found", {"error": f"no such endpoint {method} {path}"}
        body = json.dumps(result).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


def read_body(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


def read_all(environ):
    """The whole request body, whether sent with Content-Length or chunked."""
    if environ.get("wsgi.input_terminated"):
        chunks = []
        while True:
            chunk = environ["wsgi.input"].read(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    return read_body(environ)


def drain(environ):
    """Consume an unread request body so the keep-alive connection stays in sync."""
    if environ.get("wsgi.input_terminated"):
        while environ["wsgi.input"].read(65536):
            pass
    else:
        read_body(environ)


def exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    patch_iam()
    patch_cloudfront()
    app = TestHooks(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
