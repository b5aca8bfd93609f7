#!/bin/bash
# Entrypoint of the kryonix prometheus image: runs Prometheus as the prometheus user (PID 1, so it
# gets `docker stop`'s SIGTERM) on the uploaded configuration and rules, behind the basic auth of
# the uploaded web configuration. The web configuration holds a bcrypt hash: it is uploaded
# root-only and Prometheus gets a private copy. Any other command runs as given (promtool, ...).
set -Eeuo pipefail
umask 077

log() { printf '%s [kryonix-prometheus] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

CONFIG=${PROMETHEUS_CONFIG:-/etc/kryonix/prometheus.yml}
WEB_CONFIG=${PROMETHEUS_WEB_CONFIG:-/run/kryonix/prometheus-web.yml}
RETENTION=${PROMETHEUS_RETENTION:-15d}
RUNTIME_DIR=/run/kryonix-prometheus

if [ "$#" -eq 0 ] || [ "$1" != prometheus ]; then
  exec "$@"
fi
shift

[ -f "$CONFIG" ] || die "no configuration at $CONFIG (the stack uploads it)"
# Without it the API and UI would answer anyone who reaches the port.
[ -f "$WEB_CONFIG" ] || die "no web configuration (basic auth) at $WEB_CONFIG (the stack uploads it)"
[ "$(id -u)" = 0 ] || die "run as root: the entrypoint drops to the prometheus user itself"

install -o prometheus -g prometheus -m 0600 "$WEB_CONFIG" "$RUNTIME_DIR/web.yml"
log "starting prometheus with $CONFIG (retention $RETENTION)"
cd /var/lib/prometheus
exec setpriv --reuid=prometheus --regid=prometheus --init-groups -- prometheus \
  --config.file="$CONFIG" \
  --web.config.file="$RUNTIME_DIR/web.yml" \
  --web.listen-address=:9090 \
  --storage.tsdb.path=/var/lib/prometheus/metrics \
  --storage.tsdb.retention.time="$RETENTION" \
  "$@"
