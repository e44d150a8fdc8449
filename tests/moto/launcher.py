"""Test-only launcher for the moto S3/IAM/STS emulator (owned by the integration-test harness).

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


class TestHooks:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.log = {}  # bucket -> [entry]
        self.faults = {}  # bucket -> [Fault]
        self.iam_log = []  # [entry], IAM and STS, in arrival order
        self.iam_faults = []  # [IamFault]
        self.account_pab = {}  # access key -> account Public Access Block config, or None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_test/"):
            return self.control(environ, start_response)
        agent = environ.get("HTTP_USER_AGENT", "") + environ.get("HTTP_X_AMZ_USER_AGENT", "")
        account = s3control_account(environ)
        if account is not None:
            return self.s3control_call(environ, start_response, account, HARNESS_MARKER in agent)
        if HARNESS_MARKER in agent:
            return self.app(environ, start_response)
        service, access_key = signing_scope(environ)
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
            fault = None
            for candidate in self.iam_faults:
                if not candidate.matches(service, action, provider, access_key):
                    continue
                if candidate.skip > 0:
                    candidate.skip -= 1
                    continue
                if 0 < candidate.times <= candidate.fired:
                    continue
                candidate.fired += 1
                fault = candidate
                break

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
                    if "service" in spec:
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
    app = TestHooks(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
