#!/usr/bin/env bash
# Backs up Slipway's database: one pg_dump archive (custom format, compressed) holding
# apps, deployments and their logs, config vars (still sealed: keep SLIPWAY_SECRET_KEY
# safe too, a backup without its key cannot give the values back), users and tokens.
#
#   scripts/backup.sh [DIR]        DIR defaults to ./backups (created if missing)
#
# Writes DIR/slipway-<UTC time>.dump, e.g. slipway-20261123T101500Z.dump, readable by
# its owner only, and prints its path on stdout (messages go to stderr). The dump is
# written to a hidden temporary file in DIR and renamed when complete, so a failed run
# never leaves a file that looks like a backup. Exit status 0 means the archive is
# complete and readable. The API and workers may keep running: pg_dump takes a
# consistent snapshot.
#
# The database is DATABASE_URL, from the environment or else from the .env file in the
# repository root. pg_dump comes from PATH (or /usr/lib/postgresql/*/bin). Without a
# local pg_dump, or without DATABASE_URL, it runs inside the `postgres` service of this
# repository's docker-compose.yml if that is running (`docker compose exec -T postgres
# pg_dump ...`, or docker-compose), as the database and user DATABASE_URL names, else
# the service's own POSTGRES_DB and POSTGRES_USER.
#
# Repositories pushed to Slipway (`git push`) live in SLIPWAY_REPO_DIR on the API host,
# not in the database: archive them alongside (README, "Backups", has the commands).
#
# Restore with scripts/restore.sh FILE. Nightly, keeping two weeks (crontab -e):
#   30 3 * * * cd /srv/slipway && scripts/backup.sh backups >/dev/null && find backups -name 'slipway-*.dump' -mtime +14 -delete

set -euo pipefail

readonly SERVICE=postgres # the docker-compose.yml service running Postgres
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

readonly USAGE="usage: scripts/backup.sh [DIR]   (--help for more)"

# shellcheck source=scripts/pg-common.sh
source "$ROOT/scripts/pg-common.sh"

case "${1:-}" in
  -h | --help) usage 0 ;;
  -*) usage 2 ;;
esac
[[ $# -le 1 ]] || usage 2
dir=${1:-./backups}

url=$(database_url)
pg_dump=$(find_pg_tool pg_dump || true)
pg_restore=$(find_pg_tool pg_restore || true)

if [[ -n $url && -n $pg_dump ]]; then
  mode=local
  db=$(url_database "$url") || die "DATABASE_URL must be a postgres:// URL naming a database, like postgres://user:password@host:5432/slipway"
elif compose_running; then
  mode=compose
  if [[ -n $url ]]; then
    db=$(url_database "$url") || die "DATABASE_URL must be a postgres:// URL naming a database, like postgres://user:password@host:5432/slipway"
    user=$(url_user "$url")
  else
    db=$(service_env POSTGRES_DB)
    user=$(service_env POSTGRES_USER)
  fi
  user=${user:-postgres}
  db=${db:-$user}
  if [[ -z $pg_dump ]]; then why="pg_dump is not installed"; else why="DATABASE_URL is not set"; fi
  note "$why; running pg_dump in the docker compose service '$SERVICE' (database $db, user $user)"
elif [[ -z $url ]]; then
  die "DATABASE_URL is not set (neither in the environment nor in $ROOT/.env), and the docker compose service '$SERVICE' is not running"
else
  die "pg_dump is not installed (Debian/Ubuntu: apt-get install postgresql-client), and the docker compose service '$SERVICE' of $ROOT/docker-compose.yml is not running"
fi

umask 077 # the dump holds token hashes and sealed config vars
mkdir -p -- "$dir" || die "cannot create the backup directory $dir"
[[ -w $dir ]] || die "cannot write to the backup directory $dir"
final="$dir/slipway-$(date -u +%Y%m%dT%H%M%SZ).dump"
if [[ -e $final || -L $final ]]; then die "$final already exists; not overwriting it"; fi

tmp=$(mktemp "$dir/.slipway-backup.partial.XXXXXX") || die "cannot create a temporary file in $dir"
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $mode == local ]]; then
  "$pg_dump" --format=custom --no-password --dbname="$url" --file="$tmp" \
    || die "pg_dump of database $db failed (see above); no backup was written"
  if [[ -n $pg_restore ]]; then
    "$pg_restore" --list "$tmp" >/dev/null \
      || die "pg_dump finished but its archive cannot be read back; no backup was written"
  fi
else
  compose exec -T "$SERVICE" pg_dump --format=custom --username="$user" --dbname="$db" \
    </dev/null >"$tmp" \
    || die "pg_dump of database $db in the '$SERVICE' container failed (see above); no backup was written"
  compose exec -T "$SERVICE" pg_restore --list <"$tmp" >/dev/null \
    || die "pg_dump finished but its archive cannot be read back; no backup was written"
fi
[[ -s $tmp ]] || die "pg_dump wrote nothing; no backup was written"

sync -- "$tmp" 2>/dev/null || true
mv -- "$tmp" "$final" || die "cannot rename $tmp to $final"
trap - EXIT
note "backed up database $db ($(du -h -- "$final" | cut -f1))"
echo "$final"
