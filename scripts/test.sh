#!/usr/bin/env bash
# The one test command: installs what the tests need, starts a throwaway Postgres, checks
# that the Docker Engine answers, and runs every test of the workspace against both.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p slipway-store).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg-test.sh
source scripts/pg-test.sh  # also sources scripts/deps.sh

# Postgres server, static busybox, the Compose tool, git, OpenSSL headers: whatever is missing.
slipway_install_deps

if ! docker info >/dev/null 2>&1; then
  echo "Docker Engine not reachable at ${DOCKER_HOST:-unix:///var/run/docker.sock}: start dockerd or set DOCKER_HOST." >&2
  exit 1
fi

# A test that panics skips its own cleanup; what it left is recognisable by name: its
# network is slipway-test-<hex> and its app t-<10 hex>, so images slipway-t-<10 hex>.
remove_test_leftovers() {
  local net
  for net in $(docker network ls --format '{{.Name}}' | grep -E '^slipway-test-[0-9a-f]+$' || true); do
    docker ps -aq --filter "network=$net" | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker network rm "$net" >/dev/null 2>&1 || true
  done
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^slipway-t-[0-9a-f]{10}:' \
    | xargs -r docker rmi >/dev/null 2>&1 || true
}

echo "==> starting a throwaway Postgres"
pg_test_start
trap 'pg_test_stop; remove_test_leftovers' EXIT
echo "    $DATABASE_URL"

echo "==> cargo test"
# --no-fail-fast: one failing test binary must not hide the results of the others.
cargo test --workspace --locked --no-fail-fast "$@"
