#!/usr/bin/env bash
# List benchmark: GET /api/v1/apps with many apps, one page (the default 100 rows, or 1)
# against the whole list in one answer (limit=1000, what every request cost before
# lists were paged), interleaved in one run with wrk. Asserts nothing.
#   scripts/bench-lists.sh [APPS] [SECONDS]      (default 1000 apps, 10 s per run)
set -euo pipefail
cd "$(dirname "$0")/.."
apps=${1:-1000}
seconds=${2:-10}
command -v wrk >/dev/null 2>&1 || {
  echo "wrk is needed: apt-get install wrk" >&2
  exit 1
}
# shellcheck source=scripts/pg-test.sh
source scripts/pg-test.sh

echo "==> building the release API"
cargo build --release --locked -q -p slipway-api-bin

run_dir=$(mktemp -d /tmp/slipway-bench-lists.XXXXXX)
api_pid=""
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  pg_test_stop
  rm -rf "$run_dir"
}
trap cleanup EXIT

pg_test_start
port=$(_pg_test_free_port)
token=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
# The benchmark measures the list, not the per-token rate limit.
SLIPWAY_RATE_LIMIT=0 SLIPWAY_ADMIN_TOKEN=$token PORT=$port RUST_LOG=warn \
  target/release/slipway-api >"$run_dir/api.log" 2>&1 &
api_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "==> creating $apps apps"
for i in $(seq 1 "$apps"); do
  printf '{"name":"bench-%05d","repo_url":"https://git.example.com/bench/app.git"}\n' "$i"
done | python3 -c '
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    req = urllib.request.Request(base + "/api/v1/apps", data=line.encode(), method="POST",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
' "$base" "$token"

run() {
  local label=$1 path=$2 out
  out=$(wrk -t2 -c16 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$base$path")
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   %s\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
    "$(curl -fs -H "Authorization: Bearer $token" "$base$path" | wc -c) bytes"
}

echo "==> GET /api/v1/apps with $apps apps, wrk -t2 -c16 -d${seconds}s, alternating"
for round in 1 2; do
  echo "round $round"
  run "page of 100 (default)" "/api/v1/apps"
  run "all in one (limit=1000)" "/api/v1/apps?limit=1000"
  run "page of 1" "/api/v1/apps?limit=1"
done
