#!/bin/bash
# Entrypoint of the kryonix haproxy image: refuses a missing or invalid configuration (haproxy -c),
# then execs HAProxy in the foreground as the haproxy user (master-worker, PID 1).
set -Eeuo pipefail
umask 077

CONFIG=/etc/kryonix/haproxy.cfg

if [ "${1:-}" != haproxy ]; then
  exec "$@"
fi
[ -f "$CONFIG" ] || { echo "[kryonix-haproxy] error: no configuration at $CONFIG" >&2; exit 1; }
install -d -o haproxy -g haproxy -m 0700 /run/haproxy
setpriv --reuid=haproxy --regid=haproxy --init-groups -- /usr/sbin/haproxy -c -q -f "$CONFIG"
exec setpriv --reuid=haproxy --regid=haproxy --init-groups -- /usr/sbin/haproxy -W -db -f "$CONFIG"
