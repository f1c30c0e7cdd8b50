#!/usr/bin/env bash
# A throwaway Postgres for tests and benchmarks. Source this file, then:
#   pg_test_start   # starts it and exports DATABASE_URL
#   pg_test_stop    # stops it and deletes its data
# It runs from a temporary directory on a random loopback port, with fsync off: fast,
# isolated, and gone afterwards. Nothing here touches a system-wide cluster.

pg_test_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

pg_test_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Runs a command as the cluster's owner: postgres refuses to run as root.
pg_test_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_test_start() {
  local bin port
  bin=$(pg_test_bin) || { echo "Postgres server binaries not found (apt-get install postgresql)" >&2; return 1; }
  PG_TEST_DIR=$(mktemp -d /tmp/slipway-pg.XXXXXX)
  chmod 755 "$PG_TEST_DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_TEST_DIR"; fi
  pg_test_as_owner "$bin/initdb" -D "$PG_TEST_DIR/data" -A trust -U postgres >"$PG_TEST_DIR/initdb.log" 2>&1 \
    || { cat "$PG_TEST_DIR/initdb.log" >&2; return 1; }
  port=$(pg_test_free_port)
  # sqlx::test creates a database per test and the tests run in parallel: allow plenty of connections.
  pg_test_as_owner "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t 60 \
    -o "-p $port -k $PG_TEST_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { cat "$PG_TEST_DIR/server.log" >&2; return 1; }
  PG_TEST_BIN=$bin
  psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE slipway LOGIN SUPERUSER PASSWORD 'slipway'" \
    -c "CREATE DATABASE slipway OWNER slipway" >/dev/null
  export DATABASE_URL="postgres://slipway:slipway@127.0.0.1:$port/slipway"
  export PG_TEST_DIR PG_TEST_BIN
}

pg_test_stop() {
  if [ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR/data" ]; then
    pg_test_as_owner "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "${PG_TEST_DIR:-}" ]; then rm -rf "$PG_TEST_DIR"; fi
  PG_TEST_DIR=
}
