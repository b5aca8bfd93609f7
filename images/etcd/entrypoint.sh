#!/bin/bash
# Entrypoint of the kryonix etcd image: as root, makes the data volume the etcd user's own and
# refuses to start without the stack's configuration file, then execs etcd as etcd (PID 1, so
# docker stop's SIGTERM reaches it).
set -Eeuo pipefail
umask 077

CONFIG=/etc/kryonix/etcd.yml

if [ "${1:-}" != etcd ]; then
  exec "$@"
fi
[ -f "$CONFIG" ] || { echo "[kryonix-etcd] error: no configuration at $CONFIG" >&2; exit 1; }
install -d -o etcd -g etcd -m 0700 /var/lib/etcd
if [ "$(stat -c %U /var/lib/etcd)" != etcd ]; then chown -R etcd:etcd /var/lib/etcd; fi
exec setpriv --reuid=etcd --regid=etcd --init-groups -- /usr/bin/etcd --config-file "$CONFIG"
