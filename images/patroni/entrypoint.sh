#!/bin/bash
# Entrypoint of the kryonix patroni image.
#
# As root: prepares the data and runtime directories, gives postgres a private 0600 copy of the
# uploaded Patroni configuration (/etc/kryonix/patroni.yml, root-owned: it holds the superuser,
# replication, rewind and REST API passwords) and of pgBackRest's when present, then execs Patroni
# as postgres. Patroni runs initdb on the first node and clones the others itself.
set -Eeuo pipefail
umask 077

log() { printf '%s [kryonix-patroni] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

CONFIG=/etc/kryonix/patroni.yml
PGBACKREST_CONFIG=/etc/kryonix/pgbackrest.conf
RUNTIME_DIR=/run/postgresql
PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [ "${1:-}" != patroni ]; then
  exec "$@"
fi
[ "$(id -u)" = 0 ] || die "run as root: the entrypoint hands Patroni a private copy of its configuration"
[ -f "$CONFIG" ] || die "no Patroni configuration at $CONFIG"

install -d -o postgres -g postgres -m 0700 "$PGDATA"
# A volume created by another image may have the wrong owner or mode.
if [ "$(stat -c %U "$PGDATA")" != postgres ]; then chown -R postgres:postgres "$PGDATA"; fi
chmod 0700 "$PGDATA"
install -d -o postgres -g postgres -m 2775 "$RUNTIME_DIR"
install -d -o postgres -g postgres -m 0700 "$RUNTIME_DIR/kryonix"
install -o postgres -g postgres -m 0600 "$CONFIG" "$RUNTIME_DIR/kryonix/patroni.yml"
if [ -f "$PGBACKREST_CONFIG" ]; then
  install -o postgres -g postgres -m 0640 "$PGBACKREST_CONFIG" /etc/pgbackrest.conf
fi
for d in /var/lib/pgbackrest /var/log/pgbackrest /var/spool/pgbackrest; do
  install -d -o postgres -g postgres -m 0750 "$d"
done
# The logging collector's directory (a volume of its own with kryonix:serverLog file).
install -d -o postgres -g postgres -m 0700 /var/log/postgresql

# The stack's job schedule, as in the single server's container: cron runs it on every node and
# kryonix-job runs a job only where the server is the leader. Detached (setsid -f) so tini adopts it.
CRONTAB=/etc/cron.d/kryonix
if [ -f "$CRONTAB" ]; then
  setsid -f bash -c 'while :; do cron -f; printf "%s [kryonix-patroni] cron exited (%s); restarting it in 5 s\n" "$(date -u +%FT%TZ)" "$?" >&2; sleep 5; done' </dev/null
  log "scheduler: cron, jobs from $CRONTAB (UTC), run on the leader only"
fi

log "starting Patroni as postgres"
# HOME is postgres's: libpq looks for client certificates under ~/.postgresql, which must not be root's.
exec setpriv --reuid=postgres --regid=postgres --init-groups -- env HOME=/var/lib/postgresql /usr/bin/patroni "$RUNTIME_DIR/kryonix/patroni.yml"
