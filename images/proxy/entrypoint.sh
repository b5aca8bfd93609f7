#!/bin/bash
# Entrypoint of the kryonix proxy image: checks the uploaded configuration (PROXY_CONFIG, default
# /etc/kryonix/nginx.conf) with `nginx -t`, then execs nginx in the foreground as PID 1. The master
# runs as root (ports 80/443, the key file), the workers as www-data. The key is read by nginx
# only; nothing here prints a file's content. SIGHUP (docker kill --signal HUP) reloads the
# configuration and the certificate and key with it, with no connection refused.
set -Eeuo pipefail

log() { printf '%s [kryonix-proxy] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

CONFIG=${PROXY_CONFIG:-/etc/kryonix/nginx.conf}

if [ "$#" -gt 0 ] && [ "$1" != "nginx" ]; then
  exec "$@"
fi

[ -f "$CONFIG" ] || die "no configuration at $CONFIG (the stack uploads it; set PROXY_CONFIG to change the path)"
nginx -q -t -c "$CONFIG" || die "nginx -t refused $CONFIG"
log "starting nginx with $CONFIG"
exec nginx -c "$CONFIG" -g 'daemon off;'
