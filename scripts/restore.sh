#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into the database DATABASE_URL names.
#
#   scripts/restore.sh [--force] FILE
#
# Stop slipway-api and every slipway-worker first (docker compose stop api worker), and
# start them again afterwards: they must not write while the database is replaced.
# Restore with the SLIPWAY_SECRET_KEY the backup was made under: config vars are sealed
# with it.
#
# - The database is created if it does not exist (through the server's `postgres`
#   database, so the user needs CREATEDB for that).
# - A database that already has Slipway's tables is left alone unless --force is given;
#   then the backup's tables, data and functions replace the ones there
#   (pg_restore --clean --if-exists). Objects the backup does not have (from a newer
#   Slipway) are kept: restore into a new, empty database for an exact copy.
# - pg_restore runs with --no-owner (objects belong to the user restoring them),
#   --exit-on-error and --single-transaction: a restore that fails changes nothing, and
#   a database this script created for it is dropped again.
#
# DATABASE_URL comes from the environment, else from the .env file in the repository
# root. pg_restore and psql come from PATH (or /usr/lib/postgresql/*/bin). Without them,
# or without DATABASE_URL, they run inside the `postgres` service of this repository's
# docker-compose.yml if that is running (`docker compose exec -T postgres ...`, or
# docker-compose), as the database and user DATABASE_URL names, else the service's own
# POSTGRES_DB and POSTGRES_USER. The archive must come from a pg_dump no newer than
# that pg_restore.

set -euo pipefail

readonly SERVICE=postgres # the docker-compose.yml service running Postgres
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

readonly USAGE="usage: scripts/restore.sh [--force] FILE   (--help for more)"

# shellcheck source=scripts/pg-common.sh
source "$ROOT/scripts/pg-common.sh"

# Runs the SQL on stdin in database $1 (the target, or `postgres`), printing rows
# unaligned; further arguments go to psql (-v name=value for :'name' and :"name").
sql() {
  local target=$1
  shift
  if [[ $mode == local ]]; then
    local conn=$url
    [[ $target == "$db" ]] || conn=$(maintenance_url "$url")
    "$psql" -X -q -A -t -v ON_ERROR_STOP=1 --no-password "$@" --dbname="$conn"
  else
    compose exec -T "$SERVICE" psql -X -q -A -t -v ON_ERROR_STOP=1 \
      --username="$user" "$@" --dbname="$target"
  fi
}

# pg_restore with these options on the archive (streamed into the container there).
restore_tool() {
  if [[ $mode == local ]]; then
    "$pg_restore" --no-password "$@" -- "$file"
  else
    compose exec -T "$SERVICE" pg_restore "$@" <"$file"
  fi
}

force=false
file=
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    -h | --help) usage 0 ;;
    -*) usage 2 ;;
    *)
      [[ -z $file ]] || usage 2
      file=$arg
      ;;
  esac
done
[[ -n $file ]] || usage 2
[[ -f $file ]] || die "$file: no such file"
[[ -r $file ]] || die "$file: not readable"
[[ -s $file ]] || die "$file is empty: not a backup"

url=$(database_url)
pg_restore=$(find_pg_tool pg_restore || true)
psql=$(find_pg_tool psql || true)

if [[ -n $url && -n $pg_restore && -n $psql ]]; then
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
  if [[ -z $url ]]; then why="DATABASE_URL is not set"; else why="pg_restore or psql is not installed"; fi
  note "$why; running them in the docker compose service '$SERVICE' (database $db, user $user)"
elif [[ -z $url ]]; then
  die "DATABASE_URL is not set (neither in the environment nor in $ROOT/.env), and the docker compose service '$SERVICE' is not running"
else
  die "pg_restore and psql are not installed (Debian/Ubuntu: apt-get install postgresql-client), and the docker compose service '$SERVICE' of $ROOT/docker-compose.yml is not running"
fi
[[ $db != postgres ]] || die "DATABASE_URL names the maintenance database 'postgres'; restore into Slipway's own database"

# The archive first: a bad file must not get as far as creating a database.
listing=$(restore_tool --list) \
  || die "$file is not a pg_dump archive this pg_restore can read (see above)"
awk '$4 == "TABLE" && $5 == "public" && $6 == "apps" { found = 1 } END { exit !found }' \
  <<<"$listing" || die "$file is a pg_dump archive, but not of a Slipway database (it has no apps table)"

exists=$(sql postgres -v db="$db" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';") \
  || die "cannot connect to the server's postgres database to look for database $db (see above)"

created=false
if [[ -z $exists ]]; then
  sql postgres -v db="$db" <<<'CREATE DATABASE :"db";' \
    || die "database $db does not exist and could not be created (see above): create it, or give its user CREATEDB"
  created=true
  note "created database $db"
else
  found=$(sql "$db" <<'SQL'
SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND c.relname IN ('_sqlx_migrations', 'apps', 'deployments', 'deployment_events',
                    'deployment_logs', 'deployment_containers', 'config_vars', 'users',
                    'api_tokens');
SQL
  ) || die "cannot read database $db (see above)"
  if [[ -n $found && $force != true ]]; then
    die "database $db already has Slipway's tables ($found); nothing was restored. To replace its contents with the backup's, stop the API and workers and run again with --force; or restore into a new database (a DATABASE_URL naming one that does not exist yet)."
  fi
  others=$(sql postgres -v db="$db" <<'SQL'
SELECT count(*) || coalesce(' (' || string_agg(DISTINCT nullif(application_name, ''), ', ') || ')', '')
FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid() HAVING count(*) > 0;
SQL
  ) || others=
  if [[ -n $others ]]; then
    note "warning: $others other connection(s) to database $db; stop slipway-api and slipway-worker before restoring"
  fi
fi

options=(--no-owner --exit-on-error --single-transaction)
if [[ $force == true ]]; then options+=(--clean --if-exists); fi
if [[ $mode == local ]]; then options+=("--dbname=$url"); else options+=("--username=$user" "--dbname=$db"); fi

if ! restore_tool "${options[@]}"; then
  if [[ $created == true ]]; then
    sql postgres -v db="$db" <<<'DROP DATABASE :"db";' || note "could not drop database $db again"
    die "pg_restore failed (see above); nothing was restored, and database $db was dropped again"
  fi
  die "pg_restore failed (see above); the restore was rolled back, database $db is as it was"
fi

counts=$(sql "$db" <<<"SELECT (SELECT count(*) FROM apps) || ' apps, ' || (SELECT count(*) FROM deployments) || ' deployments';") || counts=
note "restored $file into database $db${counts:+ ($counts)}"
