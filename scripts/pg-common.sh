# Helpers shared by scripts/backup.sh and scripts/restore.sh: where the PostgreSQL client
# tools and DATABASE_URL are, what a postgres:// URL names, and the docker-compose
# `postgres` service to fall back on, and how they report. Sourced; expects ROOT (the
# repository), SERVICE (the compose service running Postgres) and USAGE (the one-line
# usage) to be set.
# shellcheck shell=bash

# Messages name the script that was run, not this file.
die() {
  echo "$(basename "$0"): error: $*" >&2
  exit 1
}
note() { echo "$(basename "$0"): $*" >&2; }

# usage 0: the script's header comment on stdout; usage N: the one-line usage on stderr.
usage() {
  if [[ $1 == 0 ]]; then
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
  else
    echo "$USAGE" >&2
  fi
  exit "$1"
}

# A PostgreSQL client program: from PATH, else the newest in /usr/lib/postgresql.
find_pg_tool() {
  if command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
    return
  fi
  local candidate
  candidate=$(printf '%s\n' /usr/lib/postgresql/*/bin/"$1" | sort -V | tail -n 1)
  [[ -x $candidate ]] && echo "$candidate"
}

# DATABASE_URL from the environment, else the last DATABASE_URL= line of ROOT/.env.
database_url() {
  if [[ -n ${DATABASE_URL:-} ]]; then
    echo "$DATABASE_URL"
  elif [[ -f $ROOT/.env ]]; then
    sed -n -E 's/^[[:space:]]*(export[[:space:]]+)?DATABASE_URL=[[:space:]]*//p' "$ROOT/.env" \
      | tail -n 1 | sed -E "s/[[:space:]]+\$//; s/^\"(.*)\"\$/\\1/; s/^'(.*)'\$/\\1/"
  fi
}

# The database a postgres:// URL names (percent-decoded); fails if the URL is not one.
url_database() {
  local re='^postgres(ql)?://[^/?#]*/([^?#]+)'
  [[ $1 =~ $re ]] || return 1
  printf '%b\n' "${BASH_REMATCH[2]//%/\\x}"
}

# Its user name, if it has one.
url_user() {
  local re='^postgres(ql)?://([^:@/?#]+)(:[^@/?#]*)?@'
  if [[ $1 =~ $re ]]; then printf '%b\n' "${BASH_REMATCH[2]//%/\\x}"; fi
}

# The same URL naming the server's `postgres` maintenance database instead.
maintenance_url() {
  local re='^(postgres(ql)?://[^/?#]*)(/[^?#]*)?(.*)$'
  [[ $1 =~ $re ]] || return 1
  echo "${BASH_REMATCH[1]}/postgres${BASH_REMATCH[4]}"
}

# `docker compose` or `docker-compose`, whichever exists; fails if neither does.
COMPOSE=()
find_compose() {
  if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
  else
    return 1
  fi
}

# Runs a compose command for this repository's docker-compose.yml, from any directory.
compose() { (cd "$ROOT" && "${COMPOSE[@]}" "$@"); }

# Whether the compose service is up (exec only works in a running container).
compose_running() {
  [[ -f $ROOT/docker-compose.yml ]] && find_compose \
    && compose exec -T "$SERVICE" true >/dev/null 2>&1
}

# A variable of the service's container environment (POSTGRES_USER, POSTGRES_DB).
service_env() {
  # shellcheck disable=SC2016 # expanded inside the container
  compose exec -T "$SERVICE" sh -c 'printenv "$1" || true' sh "$1" </dev/null
}
