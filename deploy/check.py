#!/usr/bin/env python3
"""Checks of the rendered deploy/ manifests that a schema cannot express; run by validate.sh.

Every check compares the manifests with something else that is true: the strict Kubernetes
schemas, the real binary's --help (flags, environment variables, defaults), Cargo's metadata,
`ldd` of the built binary, the Dockerfile. So the manifests cannot drift from the CLI, the RBAC
cannot grow, and the image cannot stop matching the pods. For the fleet variant also: Secrets
are readable in exactly the namespaces its fleet file and Cluster API discovery name, and the
fleet file's keys are options the binary knows. Prints every failure, then exits 1.

Usage: check.py --rendered DIR --binary PATH   (DIR holds NAME.yaml per kustomization)
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parent.parent

# Kubernetes versions every object must validate against, strictly (unknown fields fail): the
# oldest we support (Pod Security Admission is GA from 1.25) and the newest the pinned
# kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.25.0", "1.33.0"]

# What validate.sh renders, and which workload each holds.
RENDERED = {
    "base": None,
    "cronjob": "CronJob",
    "daemon": "Deployment",
    "cronjob+token-request": "CronJob",
    "daemon+token-request": "Deployment",
    "fleet": "Deployment",
    "fleet+all-namespaces": "Deployment",
}

# The fleet variant: where its fleet file is mounted, the keys a fleet file's cluster entry
# takes besides `sync`'s options, the options that apply to the whole run and so are refused in
# the file (docs/cli.md, "Fleet file"), and the options that name one cluster, which `--fleet`
# refuses outside the file.
FLEET_FILE = "/etc/kube-oidc-publisher/fleet.yaml"
FLEET_ONLY_KEYS = {"name", "kubeconfig-secret"}
FLEET_REFUSED_KEYS = {"fleet", "fleet-from", "store-template", "issuer-template", "concurrency", "output"}
ONE_CLUSTER_FLAGS = {"--store", "--issuer", "--kubeconfig", "--context", "--cluster-name"}
SECRETS_RULE = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}

NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}

AWS_TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount"

# Environment variables the pods may set that are not our flags' twins: the AWS SDK's web
# identity settings and region, and HOME.
OTHER_ENV = {
    "AWS_REGION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "HOME",
}
# Static AWS credentials: never in a manifest.
FORBIDDEN_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
ACCESS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")

# Shared libraries gcr.io/distroless/cc-debian12 provides (libc6, libssl3, libgcc-s1,
# libstdc++6, libgomp1), by soname.
RUNTIME_LIBRARIES = {
    "linux-vdso.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libssl.so.3",
    "libcrypto.so.3",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libgomp.so.1",
}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


# --- the binary's interface ------------------------------------------------------------------


class Help:
    """Flags, environment variables and defaults, as a subcommand's --help prints them."""

    def __init__(self, text):
        self.text = text
        self.flags = set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", text, re.M))
        self.env = set(re.findall(r"\[env: (KUBE_OIDC_PUBLISHER_[A-Z0-9_]+)=", text))

    def default_of(self, flag):
        """The `[default: X]` shown for a flag (clap's, or one written in the help line)."""
        block = re.search(rf"^\s+{re.escape(flag)}\b.*?(?=^\s+--|\Z)", self.text, re.M | re.S)
        found = block and re.search(r"\[default: ([^\]]+)\]", block.group(0))
        return found.group(1) if found else None


def help_of(binary, *subcommand):
    out = run([binary, *subcommand, "--help"])
    if out.returncode != 0:
        return None
    return Help(out.stdout)


def cli(binary):
    helps = {name: help_of(binary, name) for name in ("sync", "run", "bootstrap")}
    for name, found in helps.items():
        if found is None:
            sys.exit(f"check.py: `{binary} {name} --help` failed")
    return helps


# --- manifests -------------------------------------------------------------------------------


def load(rendered):
    objects = {}
    for name in RENDERED:
        with open(Path(rendered) / f"{name}.yaml") as f:
            objects[name] = [o for o in yaml.safe_load_all(f) if o]
    return objects


def ident(o):
    meta = o.get("metadata", {})
    return f"{o.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}".replace(" /", " ")


def validate_schemas(objects):
    seen = set()
    for name, objs in objects.items():
        for o in objs:
            key = json.dumps(o, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            for version in KUBERNETES_VERSIONS:
                try:
                    kubernetes_validate.validate(o, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    path = "/".join(str(p) for p in e.path)
                    failures.append(
                        f"{name}: {ident(o)} is not valid Kubernetes {version}: {path}: {e.message}"
                    )
                except kubernetes_validate.SchemaNotFoundError:
                    failures.append(f"{name}: no {version} schema for {ident(o)}")


def pod_template(workload):
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def check_pod_security(where, pod, service_account, user):
    spec = pod["spec"]
    ctx = spec.get("securityContext", {})
    check(ctx.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot is not true")
    check(ctx.get("runAsUser") == user, f"{where}: pod runAsUser is not {user} (the image's USER)")
    check(ctx.get("runAsGroup") == user, f"{where}: pod runAsGroup is not {user}")
    check(
        ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault",
        f"{where}: pod seccompProfile is not RuntimeDefault",
    )
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        check(not spec.get(host), f"{where}: {host} is set")
    check(
        spec.get("serviceAccountName") == service_account,
        f"{where}: serviceAccountName is not {service_account!r}",
    )
    # It reads the API server with its in-cluster token; the ServiceAccount mounts none itself.
    check(
        spec.get("automountServiceAccountToken") is True,
        f"{where}: automountServiceAccountToken is not true on the pod",
    )
    for volume in spec.get("volumes", []):
        check("hostPath" not in volume, f"{where}: hostPath volume {volume['name']}")
    containers = spec.get("containers", []) + spec.get("initContainers", [])
    check(containers, f"{where}: no containers")
    for c in containers:
        at = f"{where}: container {c['name']}"
        sc = c.get("securityContext", {})
        check(sc.get("allowPrivilegeEscalation") is False, f"{at}: allowPrivilegeEscalation is not false")
        check(sc.get("readOnlyRootFilesystem") is True, f"{at}: readOnlyRootFilesystem is not true")
        check(not sc.get("privileged"), f"{at}: privileged")
        check(sc.get("runAsNonRoot") is True, f"{at}: runAsNonRoot is not true")
        check(sc.get("runAsUser", user) == user, f"{at}: runAsUser is not {user}")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{at}: capabilities.drop is not [ALL]")
        check(not sc.get("capabilities", {}).get("add"), f"{at}: adds capabilities")
        check(
            sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            f"{at}: seccompProfile is not RuntimeDefault",
        )
        resources = c.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                check(resource in resources.get(kind, {}), f"{at}: no {kind}.{resource}")


def container_env(objs, container):
    """The container's environment: envFrom ConfigMaps first, then env (which wins)."""
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    env = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if check(ref is not None, f"container {container['name']}: envFrom other than a ConfigMap"):
            found = configmaps.get(ref["name"])
            if check(found is not None, f"envFrom names ConfigMap {ref['name']}, not rendered"):
                env.update(found.get("data", {}))
    for var in container.get("env", []):
        check("valueFrom" not in var, f"env {var['name']} uses valueFrom (Secrets are not used)")
        env[var["name"]] = var.get("value", "")
    return env


def check_aws(where, pod, env, helps):
    spec = pod["spec"]
    # The token must carry the audience the publisher role trusts: bootstrap's first --audience,
    # the same default as sync's (the IAM provider's client IDs).
    audience = env.get("KUBE_OIDC_PUBLISHER_AUDIENCE") or helps["sync"].default_of("--audience") or ""
    audience = audience.split(",")[0]
    check(audience, "sync --help shows no default --audience")
    tokens = [
        (v["name"], s["serviceAccountToken"])
        for v in spec.get("volumes", [])
        for s in v.get("projected", {}).get("sources", [])
        if "serviceAccountToken" in s
    ]
    if not check(len(tokens) == 1, f"{where}: expected one projected ServiceAccount token volume"):
        return
    volume, token = tokens[0]
    check(token.get("audience") == audience, f"{where}: projected token audience is not {audience}")
    check(
        3600 <= token.get("expirationSeconds", 0) <= 86400,
        f"{where}: projected token expirationSeconds is not between 3600 and 86400",
    )
    mounts = [
        m
        for c in spec["containers"]
        for m in c.get("volumeMounts", [])
        if m["name"] == volume
    ]
    check(
        [m["mountPath"] for m in mounts] == [AWS_TOKEN_DIR] and all(m.get("readOnly") for m in mounts),
        f"{where}: the token volume is not mounted read-only at {AWS_TOKEN_DIR}",
    )
    check(
        env.get("AWS_WEB_IDENTITY_TOKEN_FILE") == f"{AWS_TOKEN_DIR}/{token.get('path')}",
        f"{where}: AWS_WEB_IDENTITY_TOKEN_FILE is not {AWS_TOKEN_DIR}/{token.get('path')}",
    )
    check(
        re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", env.get("AWS_ROLE_ARN", "")),
        f"{where}: AWS_ROLE_ARN is missing or not a role ARN",
    )
    check(env.get("AWS_REGION"), f"{where}: AWS_REGION is not set")
    # /tmp is the only writable place; HOME points there for anything that wants a home.
    check(env.get("HOME") == "/tmp", f"{where}: HOME is not /tmp")
    check(
        any(m["mountPath"] == "/tmp" for c in spec["containers"] for m in c.get("volumeMounts", [])),
        f"{where}: nothing writable is mounted at /tmp",
    )


def check_cli(where, container, env, helps):
    args = container.get("args", [])
    check(not container.get("command"), f"{where}: overrides the image's ENTRYPOINT")
    if not check(args and args[0] in ("sync", "run"), f"{where}: args do not start with sync or run"):
        return
    subcommand = args[0]
    known = helps[subcommand]
    for arg in args[1:]:
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            check(flag in known.flags, f"{where}: `{subcommand}` has no flag {flag}")
    for name in env:
        check(name not in FORBIDDEN_ENV, f"{where}: static AWS credentials in {name}")
        if name.startswith("KUBE_OIDC_PUBLISHER_"):
            check(name in known.env, f"{where}: `{subcommand} --help` lists no variable {name}")
        else:
            check(name in OTHER_ENV, f"{where}: unexpected environment variable {name}")
    for name, value in env.items():
        check(not ACCESS_KEY_ID.search(value), f"{where}: {name} holds an AWS access key id")


def smoke_sync(where, container, env, binary):
    """Runs the real `sync` with the container's environment and args, offline: the store, the
    key source, the issuer and IAM are redirected, every other setting is parsed as deployed."""
    redirected = {"KUBE_OIDC_PUBLISHER_STORE", "KUBE_OIDC_PUBLISHER_ISSUER", "KUBE_OIDC_PUBLISHER_SOURCE"}
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    child_env.update({k: v for k, v in env.items() if k not in redirected})
    with tempfile.TemporaryDirectory() as store:
        child_env["HOME"] = store
        argv = [
            binary,
            *container["args"],
            "--store", store,
            "--source", "files",
            "--key-file", str(REPO / "examples" / "sa.pub"),
            "--issuer", "https://oidc.example.com/deploy-check",
            "--no-iam",
            "--dry-run",
        ]
        out = run(argv, env=child_env, timeout=60)
        check(
            out.returncode == 0,
            f"{where}: `sync` with the deployed settings failed ({out.returncode}):\n"
            f"{out.stdout}{out.stderr}",
        )


def check_cronjob(where, cronjob):
    spec = cronjob["spec"]
    job = spec["jobTemplate"]["spec"]
    check(spec.get("schedule") == "*/5 * * * *", f"{where}: schedule is not every 5 minutes")
    check(spec.get("concurrencyPolicy") == "Forbid", f"{where}: concurrencyPolicy is not Forbid")
    # Both deadlines end a run before the next one is due (300 s).
    check(0 < spec.get("startingDeadlineSeconds", 0) < 300, f"{where}: startingDeadlineSeconds not in (0, 300)")
    check(0 < job.get("activeDeadlineSeconds", 0) < 300, f"{where}: activeDeadlineSeconds not in (0, 300)")
    check("backoffLimit" in job, f"{where}: no backoffLimit")
    check("successfulJobsHistoryLimit" in spec, f"{where}: no successfulJobsHistoryLimit")
    check("failedJobsHistoryLimit" in spec, f"{where}: no failedJobsHistoryLimit")
    check(
        job["template"]["spec"].get("restartPolicy") == "Never",
        f"{where}: restartPolicy is not Never (failed runs are new pods, counted by backoffLimit)",
    )


def check_daemon(where, objs, deployment):
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    args = container.get("args", [])
    listen = args[args.index("--listen") + 1 :][:1] if "--listen" in args else []
    check(
        args[:1] == ["run"] and listen == ["0.0.0.0:8080"],
        f"{where}: args are not `run --listen 0.0.0.0:8080`",
    )
    ports = {p.get("name"): p for p in container.get("ports", [])}
    check(ports.get("metrics", {}).get("containerPort") == 8080, f"{where}: no container port metrics/8080")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        check(
            get.get("path") == path and get.get("port") in ("metrics", 8080),
            f"{where}: {probe} is not GET {path} on the metrics port",
        )
    services = [o for o in objs if o["kind"] == "Service"]
    if check(len(services) == 1, f"{where}: expected one Service"):
        service = services[0]
        labels = pod["metadata"]["labels"]
        selector = service["spec"]["selector"]
        check(
            selector.items() <= labels.items() and selector == deployment["spec"]["selector"]["matchLabels"],
            f"{where}: the Service's selector does not select the Deployment's pods",
        )
        check(
            [(p.get("name"), p.get("targetPort")) for p in service["spec"]["ports"]] == [("metrics", "metrics")],
            f"{where}: the Service's one port is not `metrics` targeting the container port `metrics`",
        )


def rbac_expected(namespace, service_account, token_request):
    """Every rule the publisher is granted, by (kind, namespace, name)."""
    expected = {
        ("ClusterRole", None, "kube-oidc-publisher"): [
            {"nonResourceURLs": ["/.well-known/openid-configuration", "/openid/v1/jwks"], "verbs": ["get"]}
        ],
        ("Role", "default", "kube-oidc-publisher-apiserver-endpoints"): [
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list"]}
        ],
    }
    if token_request:
        expected[("Role", namespace, "kube-oidc-publisher-token-request")] = [
            {
                "apiGroups": [""],
                "resources": ["serviceaccounts/token"],
                "resourceNames": [service_account],
                "verbs": ["create"],
            }
        ]
    return expected


def check_rbac(where, objs, expected, service_account, namespace):
    roles = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o.get("rules", [])
        for o in objs
        if o["kind"] in ("Role", "ClusterRole")
    }
    check(
        roles == expected,
        f"{where}: the RBAC rules differ from the ones deploy/README.md lists: {roles}, expected {expected}",
    )
    subject = [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]
    bindings = [o for o in objs if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    check(len(bindings) == len(roles), f"{where}: {len(bindings)} bindings for {len(roles)} roles")
    for b in bindings:
        ns = b["metadata"].get("namespace")
        ref = b["roleRef"]
        check(
            (ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"]) in roles,
            f"{where}: {ident(b)} binds {ref['kind']} {ref['name']}, which is not rendered beside it",
        )
        check(b.get("subjects") == subject, f"{where}: {ident(b)} binds someone else than {subject}")
    check(
        not any(o["kind"] == "Secret" for o in objs),
        f"{where}: renders a Secret (the publisher needs none)",
    )


# --- the fleet variant -----------------------------------------------------------------------


def env_twin(flag):
    return "KUBE_OIDC_PUBLISHER_" + flag[2:].upper().replace("-", "_")


def setting(container, env, flag):
    """A `run` option as the container passes it: in its args (`--flag V`, `--flag=V`), else
    its environment twin; None when neither."""
    args = container.get("args", [])
    for i, arg in enumerate(args):
        if arg == flag:
            return args[i + 1] if i + 1 < len(args) else ""
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return env.get(env_twin(flag))


def mounted_file(where, objs, pod, container, path):
    """The text of `path` in the container, when a rendered ConfigMap volume provides it."""
    mounts = [m for m in container.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")]
    if not check(len(mounts) == 1, f"{where}: nothing mounts {path}"):
        return None
    volume = next((v for v in pod["spec"].get("volumes", []) if v["name"] == mounts[0]["name"]), {})
    name = volume.get("configMap", {}).get("name")
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    if not check(name in configmaps, f"{where}: {path} is not from a rendered ConfigMap"):
        return None
    key = path[len(mounts[0]["mountPath"].rstrip("/")) + 1 :]
    text = configmaps[name].get("data", {}).get(key)
    check(text is not None, f"{where}: ConfigMap {name} has no key {key} for {path}")
    return text


def check_fleet_file(where, text, helps, mount_paths):
    """The fleet file against the binary: every key a `sync` option (its long name) or a fleet
    key, names unique, one way to reach each cluster. Returns the namespaces of its
    kubeconfig-secret entries."""
    at = f"{where}: fleet file"
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        check(False, f"{at} is not YAML: {e}")
        return set()
    if not check(isinstance(doc, dict) and set(doc) <= {"defaults", "clusters"}, f"{at}: top-level keys other than defaults and clusters"):
        return set()
    options = {flag[2:] for flag in helps["sync"].flags}
    known = (options | FLEET_ONLY_KEYS) - FLEET_REFUSED_KEYS

    def keys_known(entry, what):
        for key in entry:
            check(key in known, f"{at}: {what}: `{key}` is neither a `sync` option (sync --help) nor a fleet key")

    defaults = doc.get("defaults") or {}
    keys_known(defaults, "defaults")
    check("name" not in defaults, f"{at}: defaults: `name` belongs to a cluster")
    clusters = doc.get("clusters") or []
    check(isinstance(clusters, list) and clusters, f"{at}: no clusters")
    names, stores, namespaces = [], [], set()
    for cluster in clusters:
        name = cluster.get("name")
        what = f"cluster {name!r}"
        check(isinstance(name, str) and name, f"{at}: a cluster without a name")
        names.append(name)
        keys_known(cluster, what)
        if "store" in cluster:
            stores.append(cluster["store"])
        check(
            not ("kubeconfig" in cluster and "kubeconfig-secret" in cluster),
            f"{at}: {what}: kubeconfig and kubeconfig-secret both set",
        )
        secret = cluster.get("kubeconfig-secret")
        if secret is not None and check(
            isinstance(secret, dict) and {"namespace", "name"} <= set(secret) <= {"namespace", "name", "key"},
            f"{at}: {what}: kubeconfig-secret is not {{namespace, name[, key]}}",
        ):
            namespaces.add(secret["namespace"])
        path = cluster.get("kubeconfig")
        if path is not None:
            check(
                any(str(path).startswith(m.rstrip("/") + "/") for m in mount_paths),
                f"{at}: {what}: kubeconfig {path} is not on a mounted volume",
            )
    check(len(set(names)) == len(names), f"{at}: cluster names are not unique: {names}")
    check(len(set(stores)) == len(stores), f"{at}: two clusters share a store: {stores}")
    return namespaces


def smoke_fleet(where, text, env, binary):
    """Runs the real `sync --fleet` with the deployed fleet file and settings, offline: each
    cluster's kubeconfig, store, issuer and key source redirected (the example key, a temporary
    directory), IAM off, discovery off (it needs a management cluster), `--dry-run`; every
    other key and variable is parsed by the binary as deployed."""
    doc = yaml.safe_load(text)
    discovery = {env_twin(f) for f in ("--fleet-from", "--store-template", "--issuer-template")}
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    child_env.update({k: v for k, v in env.items() if k not in discovery})
    with tempfile.TemporaryDirectory() as tmp:
        for i, cluster in enumerate(doc.get("clusters") or []):
            for key in ("kubeconfig", "kubeconfig-secret", "context"):
                cluster.pop(key, None)
            store = Path(tmp) / f"store-{i}"
            store.mkdir()
            cluster.update(
                {
                    "store": str(store),
                    "issuer": f"https://oidc.example.com/deploy-check/{i}",
                    "source": "files",
                    "key-file": [str(REPO / "examples" / "sa.pub")],
                    "no-iam": True,
                }
            )
        fleet = Path(tmp) / "fleet.yaml"
        fleet.write_text(yaml.safe_dump(doc))
        child_env["HOME"] = tmp
        out = run([binary, "sync", "--fleet", str(fleet), "--dry-run"], env=child_env, timeout=60)
        check(
            out.returncode == 0,
            f"{where}: `sync --fleet` with the deployed fleet file and settings failed "
            f"({out.returncode}):\n{out.stdout}{out.stderr}",
        )


def check_fleet(where, objs, pod, container, env, helps, binary):
    """The fleet Deployment: the fleet file it mounts (and the real `sync --fleet` accepts),
    no one-cluster option outside that file, Cluster API discovery with a store template.
    Returns the namespaces whose Secrets it reads, and whether it discovers in every
    namespace."""
    for flag in sorted(ONE_CLUSTER_FLAGS):
        check(
            setting(container, env, flag) is None,
            f"{where}: {flag} ({env_twin(flag)}) names one cluster: with --fleet it goes in the fleet file",
        )
    path = setting(container, env, "--fleet")
    namespaces = set()
    if check(path == FLEET_FILE, f"{where}: --fleet is not {FLEET_FILE}"):
        text = mounted_file(where, objs, pod, container, path)
        if text is not None:
            mount_paths = [m["mountPath"] for m in container.get("volumeMounts", [])]
            namespaces = check_fleet_file(where, text, helps, mount_paths)
            smoke_fleet(where, text, env, binary)
    fleet_from = setting(container, env, "--fleet-from")
    if fleet_from is None:
        return namespaces, False
    source, _, namespace = fleet_from.partition("=")
    check(source == "cluster-api", f"{where}: --fleet-from {fleet_from} is not cluster-api[=NAMESPACE]")
    template = setting(container, env, "--store-template") or ""
    check("{cluster}" in template, f"{where}: --fleet-from without a --store-template holding {{cluster}}")
    if namespace:
        namespaces.add(namespace)
    return namespaces, not namespace


def fleet_rbac_expected(objs, namespaces, all_namespaces):
    """get and list on Secrets in exactly the namespaces the fleet reads; discovery in every
    namespace adds the ClusterRole (the per-namespace Roles then are redundant, and allowed)."""
    if all_namespaces:
        namespaces = namespaces | {o["metadata"]["namespace"] for o in objs if o["kind"] == "Role"}
    expected = {("Role", ns, "kube-oidc-publisher-kubeconfigs"): [SECRETS_RULE] for ns in namespaces}
    if all_namespaces:
        expected[("ClusterRole", None, "kube-oidc-publisher-kubeconfigs")] = [SECRETS_RULE]
    return expected


def check_manifests(objects, helps, binary, user):
    namespace = helps["bootstrap"].default_of("--publisher-namespace")
    service_account = helps["bootstrap"].default_of("--publisher-service-account")
    check(
        namespace and service_account,
        "bootstrap --help shows no default --publisher-namespace / --publisher-service-account",
    )
    for where, objs in objects.items():
        fleet = where.startswith("fleet")
        kinds = sorted(o["kind"] for o in objs)
        needed = ["Namespace", "ServiceAccount"] + ([] if fleet else ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"])
        for kind in needed:
            check(kind in kinds, f"{where}: renders no {kind}")
        namespaces = [o for o in objs if o["kind"] == "Namespace"]
        for ns in namespaces:
            check(ns["metadata"]["name"] == namespace, f"{where}: Namespace is not {namespace!r}")
            labels = ns["metadata"].get("labels", {})
            check(
                NAMESPACE_LABELS.items() <= labels.items(),
                f"{where}: Namespace is not labelled {NAMESPACE_LABELS}",
            )
        accounts = [o for o in objs if o["kind"] == "ServiceAccount"]
        check(
            [(a["metadata"]["namespace"], a["metadata"]["name"]) for a in accounts]
            == [(namespace, service_account)],
            f"{where}: the ServiceAccount is not {namespace}/{service_account}, the one the "
            "publisher role created by `bootstrap --publisher-role` trusts",
        )

        workload_kind = RENDERED[where]
        workloads = [o for o in objs if o["kind"] in ("CronJob", "Deployment", "Job", "Pod", "DaemonSet", "StatefulSet")]
        if workload_kind is None:
            check(not workloads, f"{where}: renders workloads")
        elif not check([w["kind"] for w in workloads] == [workload_kind], f"{where}: expected one {workload_kind}"):
            continue
        # Where the publisher may read: its own namespace, plus `default` (the API servers'
        # EndpointSlices) for one cluster, or the namespaces holding the fleet's kubeconfigs.
        allowed = {namespace, "default"}
        expected = rbac_expected(namespace, service_account, where.endswith("+token-request"))
        workload = workloads[0] if workloads else None
        pod = workload and pod_template(workload)
        containers = pod["spec"]["containers"] if pod else []
        if pod and not check(len(containers) == 1, f"{where}: expected one container"):
            continue
        container = containers[0] if containers else None
        env = container_env(objs, container) if container else {}
        if fleet and container:
            secret_namespaces, all_namespaces = check_fleet(where, objs, pod, container, env, helps, binary)
            expected = fleet_rbac_expected(objs, secret_namespaces, all_namespaces)
            allowed = {namespace} | {ns for (_, ns, _) in expected if ns}
        for o in objs:
            if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                check(
                    o["metadata"].get("namespace") in allowed,
                    f"{where}: {ident(o)} is outside {sorted(allowed)}",
                )
        check_rbac(where, objs, expected, service_account, namespace)
        if not workload:
            continue

        check_pod_security(where, pod, service_account, user)
        check(
            container.get("image", "").rsplit("/", 1)[-1].split(":")[0] == "kube-oidc-publisher"
            and container["image"] != "kube-oidc-publisher",
            f"{where}: image {container.get('image')!r} was not set by deploy/config's `images`",
        )
        check_aws(where, pod, env, helps)
        check_cli(where, container, env, helps)
        if workload_kind == "CronJob":
            check_cronjob(where, workload)
            smoke_sync(where, container, env, binary)
        else:
            check_daemon(where, objs, workload)


# --- the image -------------------------------------------------------------------------------


def version_tuple(text):
    return tuple(int(x) for x in text.split("."))


def check_dockerfile(binary):
    """Returns the image's numeric user, for the manifests' runAsUser."""
    dockerfile = (REPO / "Dockerfile").read_text()
    lines = [l.strip() for l in re.sub(r"\\\n", " ", dockerfile).splitlines()]
    lines = [l for l in lines if l and not l.startswith("#")]
    froms = [l.split() for l in lines if l.upper().startswith("FROM ")]
    check(len(froms) == 2, "Dockerfile: expected two stages (build, runtime)")

    # The image is built for Linux on this host's architecture: resolve for that platform only,
    # which also needs only the packages a build here has downloaded (without the filter,
    # `--offline` metadata wants every Windows-only crate of the lock file too).
    host = next(
        l.split(": ", 1)[1]
        for l in run(["rustc", "-vV"], check=True).stdout.splitlines()
        if l.startswith("host: ")
    )
    metadata = json.loads(
        run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", host],
            cwd=REPO,
            check=True,
        ).stdout
    )
    root = next(p for p in metadata["packages"] if p["id"] == metadata["resolve"]["root"])
    resolved = {n["id"] for n in metadata["resolve"]["nodes"]}
    needed = max(
        (version_tuple(p["rust_version"]), p["name"])
        for p in metadata["packages"]
        if p["id"] in resolved and p.get("rust_version")
    )
    bins = [t["name"] for t in root["targets"] if "bin" in t["kind"]]
    check(bins == [root["name"]], f"Cargo.toml: expected one binary named {root['name']}, got {bins}")

    build = re.fullmatch(r"(?:docker\.io/library/)?rust:(\d+\.\d+(?:\.\d+)?)-(\w+)", froms[0][1]) if froms else None
    if check(build, "Dockerfile: the build stage is not FROM rust:<version>-<debian>"):
        check(
            version_tuple(build.group(1)) >= needed[0],
            f"Dockerfile: rust {build.group(1)} cannot build the locked dependencies "
            f"({needed[1]} needs {'.'.join(map(str, needed[0]))})",
        )
        check(build.group(2) == "bookworm", "Dockerfile: build on bookworm, the runtime's Debian 12")
    check(
        len(froms) > 1 and froms[-1][1] == "gcr.io/distroless/cc-debian12:nonroot",
        "Dockerfile: the runtime stage is not gcr.io/distroless/cc-debian12:nonroot",
    )
    check(
        any(re.search(r"\bcargo build --profile dist --locked\b", l) for l in lines if l.startswith("RUN")),
        "Dockerfile: no `cargo build --profile dist --locked` (the shipped profile, docs/benchmarks.md)",
    )
    entrypoint = [l for l in lines if l.startswith("ENTRYPOINT ")]
    copies = [l for l in lines if l.startswith("COPY --from=")]
    if check(len(entrypoint) == 1, "Dockerfile: expected one ENTRYPOINT"):
        path = json.loads(entrypoint[0][len("ENTRYPOINT ") :])[0]
        check(Path(path).name == root["name"], f"Dockerfile: ENTRYPOINT {path} is not the {root['name']} binary")
        check(
            any(l.split()[-1] == path and l.split()[-2].endswith("/" + root["name"]) for l in copies),
            f"Dockerfile: nothing copies the built {root['name']} to {path}",
        )
    users = [l.split()[1] for l in lines if l.startswith("USER ")]
    user = None
    if check(len(users) == 1 and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[0]), "Dockerfile: USER is not one numeric non-root UID:GID"):
        uid, gid = users[0].split(":")
        check(uid == gid, "Dockerfile: USER's UID and GID differ")
        user = int(uid)

    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in ("target/", ".git/"):
        check(entry in ignored, f".dockerignore: {entry} is not ignored")

    # The built binary's shared libraries must all be in the runtime image.
    ldd = run(["ldd", binary])
    if check(ldd.returncode == 0, f"ldd {binary} failed: {ldd.stderr}"):
        libraries = {l.split()[0].rsplit("/", 1)[-1] for l in ldd.stdout.splitlines() if l.strip()}
        missing = libraries - RUNTIME_LIBRARIES
        check(not missing, f"{binary} needs {sorted(missing)}, which distroless/cc-debian12 lacks")
    return user


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", required=True)
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    binary = str(Path(args.binary).resolve())

    objects = load(args.rendered)
    print(f"== schemas: {sum(map(len, objects.values()))} objects, strict, Kubernetes {', '.join(KUBERNETES_VERSIONS)}")
    validate_schemas(objects)
    print("== Dockerfile against Cargo and ldd")
    user = check_dockerfile(binary)
    print(f"== manifests against {binary} --help")
    check_manifests(objects, cli(binary), binary, user)

    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    if failures:
        print(f"deploy/check.py: {len(failures)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("deploy/check.py: all checks passed")


if __name__ == "__main__":
    main()
