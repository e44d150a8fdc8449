#!/usr/bin/env bash
# No-op `sync` with the IAM provider, and a repeated `bootstrap`, against the curl floor.
#
# Needs a release build (`cargo build --release`) and the moto venv the test suite installs
# (`cargo test --release` once). Starts the test launcher's moto on 127.0.0.1, bootstraps a
# bucket (pinned thumbprint: the bucket's public host is not reachable offline, so no TLS
# handshake is measured here; `thumbprint` and sync's auto mode are covered by tests), then
# alternates: ours (no-op sync with IAM), one curl --parallel making the same 5 requests
# (3 signed S3 GETs, STS GetCallerIdentity, IAM GetOpenIDConnectProvider; wrapped in `bash -c`,
# which adds ~2 ms to the floor), and a repeated bootstrap. Prints medians and peak RSS
# (/usr/bin/time -f %M), then the requests moto saw from one run of each.
#
#   N=21 benches/iam_noop.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/release/kube-oidc-publisher
N=${N:-21}
TMP=$(mktemp -d)
exec 3< <($ROOT/target/moto-venv/bin/python $ROOT/tests/moto/launcher.py 2>/dev/null)
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null; rm -rf "$TMP"' EXIT
read -r PORT <&3
EP=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL=$EP AWS_ENDPOINT_URL_S3_CONTROL=http://s3-control.kop.test:$PORT
B=kopbench-$$
PIN=9e99a48a9960b14926bb7f3b02e22da2b0ab7280
KEY=$ROOT/tests/fixtures/kube-apiserver/key-rsa-old.pub.pem
COMMON=(--source files --key-file $KEY --thumbprint $PIN --s3-path-style --region us-east-1)
$BIN bootstrap --bucket $B "${COMMON[@]}" >/dev/null
ISS=https://$B.s3.us-east-1.amazonaws.com
ARN="arn:aws:iam::123456789012:oidc-provider/$B.s3.us-east-1.amazonaws.com"
curl_floor() {
  curl -s -q --parallel --aws-sigv4 "aws:amz:us-east-1:s3" --user testing:testing \
    -o /dev/null "$EP/$B/openid/v1/jwks" -o /dev/null "$EP/$B/.well-known/openid-configuration" -o /dev/null "$EP/$B/.kube-oidc-publisher/state.json" \
    --next --aws-sigv4 "aws:amz:us-east-1:sts" --user testing:testing -o /dev/null -d "Action=GetCallerIdentity&Version=2011-06-15" "$EP/" \
    --next --aws-sigv4 "aws:amz:us-east-1:iam" --user testing:testing -o /dev/null --data-urlencode "OpenIDConnectProviderArn=$ARN" -d "Action=GetOpenIDConnectProvider&Version=2010-05-08" "$EP/"
}
measure() { # name, command...
  local name=$1; shift
  local times=() rss=()
  for i in $(seq 1 $N); do
    local s=$(date +%s%N)
    /usr/bin/time -f %M -o $TMP/rss "$@" >/dev/null 2>&1
    local e=$(date +%s%N)
    times+=($(( (e-s)/1000 ))); rss+=($(cat $TMP/rss))
  done
  local med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (N+1)/2 ))p")
  local rmax=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  printf '%-34s median %6.1f ms   peak RSS max %5.1f MiB\n' "$name" "$(echo "$med/1000" | bc -l)" "$(echo "$rmax/1024" | bc -l)"
}
curl -s -X DELETE "$EP/_test/requests?bucket=$B" >/dev/null
curl -s -X DELETE "$EP/_test/iam-requests" >/dev/null || true
for i in 1 2; do $BIN sync --store s3://$B "${COMMON[@]}" >/dev/null; curl_floor 2>/dev/null; done
for round in 1; do
  measure "no-op sync with IAM (ours)" $BIN sync --store s3://$B "${COMMON[@]}"
  measure "curl floor (3 S3 GET + STS + IAM)" bash -c "$(declare -f curl_floor); EP=$EP B=$B ARN='$ARN'; curl_floor 2>/dev/null"
  measure "repeated bootstrap (ours)" $BIN bootstrap --bucket $B "${COMMON[@]}"
done
echo "--- requests seen by moto from one no-op sync and one repeated bootstrap:"
curl -s -X DELETE "$EP/_test/requests?bucket=$B" >/dev/null; curl -s -X DELETE "$EP/_test/iam-requests" >/dev/null || true
$BIN sync --store s3://$B "${COMMON[@]}" --output json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("sync status", d["status"], "writes", d["writes"])'
curl -s "$EP/_test/requests?bucket=$B" | python3 -c 'import json,sys; r=json.load(sys.stdin)["requests"]; print("sync S3:", [(x["method"], x["key"]) for x in r])'
curl -s "$EP/_test/iam-requests" | python3 -c 'import json,sys; r=json.load(sys.stdin)["requests"]; print("sync IAM/STS:", [x["action"] for x in r])'
curl -s -X DELETE "$EP/_test/requests?bucket=$B" >/dev/null; curl -s -X DELETE "$EP/_test/iam-requests" >/dev/null || true
$BIN bootstrap --bucket $B "${COMMON[@]}" --output json > $TMP/boot.json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("bootstrap status:", d["status"])' "$TMP/boot.json"
curl -s "$EP/_test/requests?bucket=$B" | python3 -c 'import json,sys; r=json.load(sys.stdin)["requests"]; print("bootstrap S3:", [(x["method"], x["key"], x.get("op")) for x in r]); print("bootstrap S3 writes:", sum(1 for x in r if x["method"] in ("PUT","POST","DELETE")))'
curl -s "$EP/_test/iam-requests" | python3 -c 'import json,sys; r=json.load(sys.stdin)["requests"]; a=[x["action"] for x in r]; print("bootstrap IAM/STS:", a); print("bootstrap IAM writes:", sum(1 for x in a if not (x.startswith("Get") or x.startswith("List"))))'
