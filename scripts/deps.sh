#!/usr/bin/env bash
# Installs, with apt, the system packages that building and testing Slipway need and
# that are missing: the Postgres server, Debian's static busybox (the test apps' only
# binary), the Compose tool, git, the headers git2's https support builds against, and
# Chromium with chromedriver for the dashboard's browser test.
#   scripts/deps.sh              install what is missing (as root, or through sudo)
#   source scripts/deps.sh       only define the helpers (slipway_apt_install, ...)
# Nothing is installed that is already there, so a prepared machine costs no time.

# Runs a command as root: directly when we are root, else through sudo.
slipway_as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "need root to run '$*' (and sudo is not installed): install it by hand" >&2
    return 1
  fi
}

# apt-get install, refreshing the package lists first only if the install fails (a
# fresh machine may have none, or stale ones).
slipway_apt_install() {
  local log
  command -v apt-get >/dev/null 2>&1 || {
    echo "apt-get not found: install these packages by hand: $*" >&2
    return 1
  }
  echo "==> apt-get install $*" >&2
  log=$(mktemp /tmp/slipway-apt.XXXXXX)
  if ! slipway_as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "$@" >"$log" 2>&1; then
    if ! { slipway_as_root apt-get update -q \
        && slipway_as_root env DEBIAN_FRONTEND=noninteractive \
          apt-get install -y -q --no-install-recommends "$@"; } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      rm -f "$log"
      echo "could not install: $*" >&2
      return 1
    fi
  fi
  rm -f "$log"
}

# The newest Postgres server's bin directory (Debian keeps them versioned), else the
# directory of an initdb on PATH.
slipway_pg_bin() {
  local dir best=""
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$dir" | sort -V | tail -n 1)" = "$dir" ]; then
        best=$dir
      fi
    fi
  done
  if [ -n "$best" ]; then
    echo "$best"
  elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  else
    return 1
  fi
}

# The test images are FROM scratch: their busybox must be a static binary.
slipway_static_busybox() {
  local bb
  for bb in /usr/bin/busybox /bin/busybox; do
    # ldd fails on a static executable ("not a dynamic executable").
    if [ -x "$bb" ] && ! ldd "$bb" >/dev/null 2>&1; then
      echo "$bb"
      return 0
    fi
  done
  return 1
}

slipway_has_compose() {
  docker compose version >/dev/null 2>&1 || docker-compose version >/dev/null 2>&1
}

# Packages that building and testing need and that are missing, one per line.
slipway_missing_packages() {
  slipway_pg_bin >/dev/null || echo postgresql
  command -v psql >/dev/null 2>&1 || echo postgresql-client
  slipway_static_busybox >/dev/null || echo busybox-static
  slipway_has_compose || echo docker-compose
  command -v git >/dev/null 2>&1 || echo git
  command -v curl >/dev/null 2>&1 || echo curl
  command -v python3 >/dev/null 2>&1 || echo python3
  command -v pkg-config >/dev/null 2>&1 || echo pkg-config
  # The dashboard's browser test drives Debian's Chromium headless through chromedriver.
  command -v chromium >/dev/null 2>&1 || echo chromium
  command -v chromedriver >/dev/null 2>&1 || echo chromium-driver
  # git2's https feature links OpenSSL.
  if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists openssl 2>/dev/null; then
    echo libssl-dev
  fi
}

slipway_install_deps() {
  local missing
  mapfile -t missing < <(slipway_missing_packages)
  if [ "${#missing[@]}" -gt 0 ]; then
    slipway_apt_install "${missing[@]}"
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  slipway_install_deps
fi
