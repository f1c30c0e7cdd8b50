#!/usr/bin/env bash
# A throwaway Postgres for tests and benchmarks: a fresh cluster in a temporary
# directory, on a free loopback port, with fsync off. Fast, isolated, gone afterwards;
# no system-wide cluster is touched.
#
# Sourced (scripts/test.sh, scripts/bench-deploy.sh):
#   source scripts/pg-test.sh
#   pg_test_start            # exports DATABASE_URL, PG_TEST_DIR, PG_TEST_PORT
#   trap pg_test_stop EXIT   # stops the server and deletes its directory
#
# Run:
#   scripts/pg-test.sh                  starts it, prints DATABASE_URL, stops on Ctrl-C
#   scripts/pg-test.sh CMD [ARGS...]    runs CMD with DATABASE_URL set, then stops it
#                                       (e.g. scripts/pg-test.sh cargo test -p slipway-store)
#
# DATABASE_URL is postgres://slipway:slipway@127.0.0.1:PORT/slipway; the role may create
# databases (#[sqlx::test] makes one per test). The server's own superuser is reachable
# over the unix socket in PG_TEST_DIR. If no Postgres server is installed, apt installs one.

_pg_test_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/deps.sh
source "$_pg_test_here/deps.sh"

# The account that owns and runs the cluster: Postgres refuses to run as root, so root
# uses the `postgres` account (or creates `slipway-pg`); anyone else runs it themselves.
_pg_test_owner() {
  if [ "$(id -u)" != 0 ]; then
    id -un
  elif id -u postgres >/dev/null 2>&1; then
    echo postgres
  else
    if ! id -u slipway-pg >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin slipway-pg >&2 || return 1
    fi
    echo slipway-pg
  fi
}

# Runs a command as the owner, from the cluster's directory (so that the owner can
# read its working directory).
_pg_test_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    (cd "$PG_TEST_DIR" && runuser -u "$PG_TEST_OWNER" -- "$@")
  else
    (cd "$PG_TEST_DIR" && "$@")
  fi
}

# A port that was free a moment ago (the server start is retried if it was taken since).
_pg_test_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 30000))
}

pg_test_start() {
  if [ -n "${PG_TEST_DIR:-}" ] && [ -d "${PG_TEST_DIR}/data" ]; then
    echo "pg_test_start: already running in $PG_TEST_DIR" >&2
    return 1
  fi
  local bin attempt port
  if ! bin=$(slipway_pg_bin); then
    slipway_apt_install postgresql || return 1
    bin=$(slipway_pg_bin) || {
      echo "no Postgres server binaries (initdb, pg_ctl) after installing postgresql" >&2
      return 1
    }
  fi
  PG_TEST_BIN=$bin
  PG_TEST_OWNER=$(_pg_test_owner) || return 1
  local parent=${TMPDIR:-/tmp}
  # The owner must be able to reach the directory: root's TMPDIR may be private.
  if [ "$(id -u)" = 0 ]; then parent=/tmp; fi
  PG_TEST_DIR=$(mktemp -d "$parent/slipway-pg.XXXXXX") || return 1
  export PG_TEST_DIR PG_TEST_BIN PG_TEST_OWNER
  if [ "$(id -u)" = 0 ]; then
    chown "$PG_TEST_OWNER" "$PG_TEST_DIR" || return 1
  fi
  chmod 700 "$PG_TEST_DIR"

  if ! _pg_test_as_owner "$bin/initdb" -D "$PG_TEST_DIR/data" --auth=trust --username=postgres \
      --no-locale --encoding=UTF8 >"$PG_TEST_DIR/initdb.log" 2>&1; then
    echo "initdb failed:" >&2
    cat "$PG_TEST_DIR/initdb.log" >&2
    return 1
  fi

  for attempt in 1 2 3 4 5; do
    port=$(_pg_test_free_port)
    # Tests run in parallel, each with its own database and pool: allow many connections.
    if _pg_test_as_owner "$bin/pg_ctl" start -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TEST_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        >/dev/null 2>&1; then
      break
    fi
    if [ "$attempt" -lt 5 ] && grep -q "could not bind\|already in use" "$PG_TEST_DIR/server.log" 2>/dev/null; then
      : >"$PG_TEST_DIR/server.log"
      continue
    fi
    echo "Postgres did not start (log: $PG_TEST_DIR/server.log):" >&2
    tail -n 20 "$PG_TEST_DIR/server.log" >&2
    return 1
  done
  PG_TEST_PORT=$port
  export PG_TEST_PORT

  if ! _pg_test_as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_TEST_DIR" -p "$port" -U postgres -d postgres \
      -c "CREATE ROLE slipway LOGIN CREATEDB PASSWORD 'slipway'" \
      -c "CREATE DATABASE slipway OWNER slipway" >"$PG_TEST_DIR/setup.log" 2>&1; then
    echo "could not create the slipway role and database:" >&2
    cat "$PG_TEST_DIR/setup.log" >&2
    return 1
  fi
  export DATABASE_URL="postgres://slipway:slipway@127.0.0.1:$port/slipway"
}

# Stops the server (immediately: its data is thrown away) and deletes its directory.
# Safe to call twice, or when nothing was started.
pg_test_stop() {
  if [ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR" ]; then
    if [ -f "$PG_TEST_DIR/data/postmaster.pid" ]; then
      _pg_test_as_owner "$PG_TEST_BIN/pg_ctl" stop -D "$PG_TEST_DIR/data" -m immediate -w -t 30 >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_TEST_DIR"
  fi
  unset PG_TEST_DIR PG_TEST_PORT
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _pg_test_sleeper=""
  trap '[ -z "$_pg_test_sleeper" ] || kill "$_pg_test_sleeper" 2>/dev/null; pg_test_stop' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  pg_test_start
  if [ "$#" -gt 0 ]; then
    "$@"
  else
    echo "export DATABASE_URL=$DATABASE_URL"
    echo "# superuser: psql -h $PG_TEST_DIR -p $PG_TEST_PORT -U postgres postgres"
    echo "# running; Ctrl-C stops it and deletes $PG_TEST_DIR" >&2
    while true; do
      sleep 3600 &
      _pg_test_sleeper=$!
      wait "$_pg_test_sleeper"
    done
  fi
fi
