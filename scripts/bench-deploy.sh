#!/usr/bin/env bash
# Deploy benchmark: POST→serving through Slipway against the same work done by hand
# (git clone, a BuildKit build through the Engine API, docker run, first HTTP 200),
# interleaved in one run: fresh commits of a one-stage Dockerfile, of a three-stage one
# whose first two stages build in parallel, and of one whose RUN step finds a warm cache
# mount; then redeploys of a built commit and rollbacks against `docker run`.
#   scripts/bench-deploy.sh [ROUNDS]      (default 10)
# Then the latency from a status change to a subscribed WebSocket client (bench_live.py),
# and git push -> serving and the test gate's cost (bench_gitflow.py).
# Prints medians and p95s and the idle memory of both processes; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
# shellcheck source=scripts/pg-test.sh
source scripts/pg-test.sh

echo "==> building release binaries"
cargo build --release --locked -q -p slipway-api-bin -p slipway-worker-bin

run_dir=$(mktemp -d /tmp/slipway-bench.XXXXXX)
network="slipway-bench-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
api_pid=""
worker_pid=""
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  docker ps -aq --filter "network=$network" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network rm "$network" >/dev/null 2>&1 || true
  pg_test_stop
  rm -rf "$run_dir"
}
trap cleanup EXIT

pg_test_start
port=$(_pg_test_free_port)
SLIPWAY_ADMIN_TOKEN=$(openssl rand -hex 32 2>/dev/null || python3 -c 'import secrets; print(secrets.token_hex(32))')
# The benchmark polls the API as fast as it answers to time each release to the
# millisecond: it measures deployments, not the per-token rate limit, so that is off.
export SLIPWAY_RATE_LIMIT=0
export SLIPWAY_ADMIN_TOKEN SLIPWAY_ALLOW_LOCAL_REPOS=true SLIPWAY_NETWORK=$network SLIPWAY_WORK_DIR=$run_dir/work PORT=$port RUST_LOG=warn
# Pushed repositories, and where the worker fetches their commits from.
export SLIPWAY_REPO_DIR=$run_dir/repos SLIPWAY_API_INTERNAL_URL=http://127.0.0.1:$port
mkdir -p "$SLIPWAY_WORK_DIR"
target/release/slipway-api >"$run_dir/api.log" 2>&1 &
api_pid=$!
target/release/slipway-worker >"$run_dir/worker.log" 2>&1 &
worker_pid=$!

for _ in $(seq 1 100); do
  if curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fs "http://127.0.0.1:$port/ready" >/dev/null || { echo "slipway-api never became ready:"; cat "$run_dir/api.log" "$run_dir/worker.log"; exit 1; }

python3 scripts/bench_deploy.py --api "http://127.0.0.1:$port" --rounds "$rounds" --network "$network" \
  --work "$run_dir" --api-pid "$api_pid" --worker-pid "$worker_pid"

echo "==> live events: status change -> WebSocket client"
(cd scripts && python3 bench_live.py --api "http://127.0.0.1:$port" --rounds "$rounds" --work "$run_dir")

echo "==> git flow: git push -> serving, and a test-gated deploy against an ungated one"
(cd scripts && python3 bench_gitflow.py --api "http://127.0.0.1:$port" --rounds "$rounds" --network "$network" --work "$run_dir")
