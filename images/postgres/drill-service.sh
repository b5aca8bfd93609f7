#!/bin/bash
# kryonix-drill-service: the main process of the stack's restore drill container (under tini).
# That container runs this image but no live server: it holds the drill's scratch copies, has
# memory and CPU limits of its own, and reaches the live server over the stack network as the
# drill's role (components/restore-drill.ts). Here: the uploaded password file gets the private
# 0600 copy libpq insists on, the scratch directory is emptied of copies a killed drill left, and cron
# runs the schedule in /etc/cron.d/kryonix (the drill) in the foreground. If cron exits, so does
# the container, and Docker's restart policy starts it again.
#
# --check: the healthcheck (cron is running and the password file is in place).
set -Eeuo pipefail
umask 077

PGPASS_UPLOAD=/run/kryonix/drill.pgpass
PGPASS=/run/postgresql/kryonix/drill.pgpass
SCRATCH=/var/lib/postgresql/drill
log() { printf '%s [kryonix-drill-service] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "${1:-}" = --check ]; then
  [ -s "$PGPASS" ] && pgrep -x cron >/dev/null
  exit
fi

[ "$(id -u)" = 0 ] || die "run as root (cron runs the drill as root, kryonix-job drops to postgres)"
[ -f /etc/kryonix/drill.conf ] || die "no /etc/kryonix/drill.conf: this container is made by the stack"
[ -f "$PGPASS_UPLOAD" ] || die "no $PGPASS_UPLOAD"
install -d -o postgres -g postgres -m 2775 /run/postgresql
install -d -o postgres -g postgres -m 0700 /run/postgresql/kryonix
install -o postgres -g postgres -m 0600 "$PGPASS_UPLOAD" "$PGPASS"
install -d -o postgres -g postgres -m 0700 "$SCRATCH"
# A drill cut short by a stop leaves its copy; nothing else lives here.
find "$SCRATCH" -mindepth 1 -maxdepth 1 -name 'kryonix-drill.*' -exec rm -rf {} +
log "restore drill container ready: schedule in /etc/cron.d/kryonix (UTC), scratch copies in $SCRATCH"
exec cron -f
