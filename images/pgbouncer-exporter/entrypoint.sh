#!/bin/bash
# Entrypoint of the kryonix pgbouncer-exporter image: the libpq password file (a root-only upload)
# becomes a private 0600 copy for the prometheus user (libpq ignores one others can read), named
# by PGPASSFILE; then the exporter runs as that user (PID 1). No secret is printed.
set -Eeuo pipefail
umask 077

log() { printf '%s [kryonix-pgbouncer-exporter] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

PGPASS=${EXPORTER_PGPASS_FILE:-/run/kryonix/monitor-pgpass}

if [ "$#" -eq 0 ] || [ "$1" != prometheus-pgbouncer-exporter ]; then
  exec "$@"
fi
shift
[ "$(id -u)" = 0 ] || die "run as root: the entrypoint drops to the prometheus user itself"
[ -n "${PGBOUNCER_EXPORTER_CONNECTION_STRING:-}" ] || die "PGBOUNCER_EXPORTER_CONNECTION_STRING must be set"
case "$PGBOUNCER_EXPORTER_CONNECTION_STRING" in
  *password=* | *://*:*@*) die "the connection string must not carry a password: it comes from $PGPASS" ;;
esac
[ -f "$PGPASS" ] || die "no password file at $PGPASS (the stack uploads it)"

install -o prometheus -g prometheus -m 0600 "$PGPASS" /run/kryonix-exporter/pgpass
export PGPASSFILE=/run/kryonix-exporter/pgpass
log "starting pgbouncer_exporter"
exec setpriv --reuid=prometheus --regid=prometheus --init-groups -- prometheus-pgbouncer-exporter \
  --web.listen-address=":${EXPORTER_PORT}" \
  --pgBouncer.pid-file= \
  "$@"
