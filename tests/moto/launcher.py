"""Test-only launcher for the moto S3 emulator (owned by the integration-test harness).

Started by tests/support/moto.rs with the pinned venv's python. It binds 127.0.0.1 on a free
port, prints that port as the first line on stdout, and serves moto's usual WSGI app wrapped in
a small middleware that adds two test-only endpoints:

  GET    /_test/requests?bucket=B   ordered log of the S3 requests made to bucket B (JSON)
  DELETE /_test/requests?bucket=B   forget bucket B's log
  POST   /_test/faults              add a fault (JSON body, see Fault below)
  GET    /_test/faults?bucket=B     list bucket B's faults (JSON)
  DELETE /_test/faults?bucket=B     remove bucket B's faults

Requests whose User-Agent carries "kop-test-harness" (the harness's own S3 client, used for
seeding and for assertions) are neither logged nor faulted. Everything is keyed by bucket so
tests running in parallel against one server do not see each other.

The process exits by itself once its parent (the test process) is gone.
"""

import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

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

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_test/"):
            return self.control(environ, start_response)
        agent = environ.get("HTTP_USER_AGENT", "") + environ.get("HTTP_X_AMZ_USER_AGENT", "")
        if HARNESS_MARKER in agent:
            return self.app(environ, start_response)

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
                    fault = Fault(json.loads(read_body(environ)))
                    self.faults.setdefault(fault.bucket, []).append(fault)
                except (ValueError, KeyError, TypeError) as err:
                    status, result = "400 Bad Request", {"error": repr(err)}
            elif path == "/_test/faults" and method == "GET":
                result = {"faults": [f.describe() for f in self.faults.get(bucket, [])]}
            elif path == "/_test/faults" and method == "DELETE":
                self.faults.pop(bucket, None)
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
    app = TestHooks(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
