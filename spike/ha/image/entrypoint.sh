#!/bin/bash
# Role dispatcher: `patroni` (PID 1 is patroni itself, as postgres), `etcd ARGS...` (as etcd),
# `haproxy` (haproxy -W -db), or anything else as given.
set -Eeuo pipefail
umask 077
case "${1:-}" in
  patroni)
    install -d -o postgres -g postgres -m 0700 "$PGDATA"
    chmod 0700 "$PGDATA"
    install -d -o postgres -g postgres -m 2775 /run/postgresql
    # Config is mounted read-only root-owned; patroni needs to read it.
    install -o postgres -g postgres -m 0600 /etc/kryonix/patroni.yml /run/postgresql/patroni.yml
    [ -f /etc/kryonix/pgbackrest.conf ] && install -o postgres -g postgres -m 0640 /etc/kryonix/pgbackrest.conf /etc/pgbackrest.conf
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- /usr/bin/patroni /run/postgresql/patroni.yml ;;
  etcd)
    shift
    install -d -o etcd -g etcd -m 0700 /var/lib/etcd/data 2>/dev/null || { mkdir -p /var/lib/etcd/data; chmod 0700 /var/lib/etcd/data; }
    if id etcd >/dev/null 2>&1; then chown -R etcd: /var/lib/etcd; exec setpriv --reuid=etcd --regid=etcd --init-groups -- /usr/bin/etcd "$@"; fi
    exec /usr/bin/etcd "$@" ;;
  haproxy)
    exec /usr/sbin/haproxy -W -db -f /etc/kryonix/haproxy.cfg ;;
  *) exec "$@" ;;
esac
