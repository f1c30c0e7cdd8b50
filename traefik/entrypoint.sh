#!/bin/sh
# Starts Traefik with traefik.yml, plus a Let's Encrypt certificate resolver named
# `letsencrypt` when SLIPWAY_ACME_EMAIL is set. Traefik reads its static configuration
# from one source only (file, flags or environment), so the resolver is rendered into a
# copy of the file rather than passed as flags.
#   entrypoint.sh            render, then exec traefik
#   entrypoint.sh --print    render to stdout only (used by Slipway's tests)
set -eu
# Bracket ranges below must mean ASCII letters and digits only.
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
base=${SLIPWAY_TRAEFIK_CONFIG:-$here/traefik.yml}
email=${SLIPWAY_ACME_EMAIL:-}
# Surrounding blanks are ignored, as Slipway itself ignores them.
while :; do
  case $email in
    [[:space:]]*) email=${email#?} ;;
    *[[:space:]]) email=${email%?} ;;
    *) break ;;
  esac
done

bad_email() {
  echo "SLIPWAY_ACME_EMAIL is not an email address Let's Encrypt accepts (like ops@example.com)" >&2
  exit 1
}

render() {
  cat "$base"
  if [ -n "$email" ]; then
    # Only characters an address needs: nothing that could break out of the YAML string.
    # The `case` rejects any other byte, newlines included (grep alone matches per line,
    # so "ops@example.com<newline>anything" would pass it).
    case $email in
      *[!A-Za-z0-9._%+@-]*) bad_email ;;
    esac
    printf '%s\n' "$email" | grep -Eq '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$' || bad_email
    cat <<YAML

certificatesResolvers:
  letsencrypt:
    acme:
      email: "$email"
      storage: /letsencrypt/acme.json
      httpChallenge:
        entryPoint: web
YAML
  fi
}

if [ "${1:-}" = "--print" ]; then
  render
  exit 0
fi

out=${SLIPWAY_TRAEFIK_RENDERED:-/tmp/traefik.yml}
render >"$out"
exec traefik --configFile="$out"
