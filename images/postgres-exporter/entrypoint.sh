#!/bin/bash
# Entrypoint of the kryonix postgres-exporter image: the monitoring role's password file (a
# root-only upload) becomes a private copy for the prometheus user, named by DATA_SOURCE_PASS_FILE;
# then the exporter runs as that user (PID 1). No secret is printed or put in the environment.
set -Eeuo pipefail
umask 077

log() { printf '%s [kryonix-postgres-exporter] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

PASSWORD_FILE=${EXPORTER_PASSWORD_FILE:-/run/kryonix/monitor-password}
QUERIES=${EXPORTER_QUERIES:-/etc/kryonix/queries.yaml}

if [ "$#" -eq 0 ] || [ "$1" != prometheus-postgres-exporter ]; then
  exec "$@"
fi
shift
[ "$(id -u)" = 0 ] || die "run as root: the entrypoint drops to the prometheus user itself"
[ -n "${DATA_SOURCE_URI:-}" ] && [ -n "${DATA_SOURCE_USER:-}" ] || die "DATA_SOURCE_URI and DATA_SOURCE_USER must be set"
[ -z "${DATA_SOURCE_NAME:-}${DATA_SOURCE_PASS:-}" ] || die "pass the password as a file, never as DATA_SOURCE_NAME or DATA_SOURCE_PASS"
[ -f "$PASSWORD_FILE" ] || die "no password file at $PASSWORD_FILE (the stack uploads it)"
[ -f "$QUERIES" ] || die "no custom queries at $QUERIES (the stack uploads it)"

install -o prometheus -g prometheus -m 0600 "$PASSWORD_FILE" /run/kryonix-exporter/password
export DATA_SOURCE_PASS_FILE=/run/kryonix-exporter/password
log "starting postgres_exporter for $DATA_SOURCE_USER@$DATA_SOURCE_URI"
exec setpriv --reuid=prometheus --regid=prometheus --init-groups -- prometheus-postgres-exporter \
  --web.listen-address=":${EXPORTER_PORT}" \
  --extend.query-path="$QUERIES" \
  "$@"
