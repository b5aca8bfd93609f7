#!/bin/bash
# Entrypoint of the kryonix postgres image.
#
# As root: prepares the data directory, runs initdb once on an empty one (data checksums, peer for
# local connections, scram-sha-256 over TCP, UTF8, the builtin C.UTF-8 locale), then drops to the
# postgres user and execs `postgres`, which stays PID 1 so `docker stop` (SIGINT, fast shutdown)
# reaches it directly.
#
# The superuser password is read from the file named by POSTGRES_PASSWORD_FILE (default
# /run/kryonix/postgres-password), first line, and handed to initdb as a file: it is never in the
# environment, on a command line or in the log. It is only needed for the first start.
#
# Configuration: /etc/kryonix/postgresql.conf and /etc/kryonix/pg_hba.conf when present (the stack
# uploads them); otherwise the postgresql.conf initdb wrote, listening on every address, and the
# image's pg_hba.conf (no trust anywhere).
set -Eeuo pipefail
umask 077

log() { printf '%s [kryonix-postgres] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
PASSWORD_FILE=${POSTGRES_PASSWORD_FILE:-/run/kryonix/postgres-password}
CONFIG_FILE=/etc/kryonix/postgresql.conf
HBA_FILE=/etc/kryonix/pg_hba.conf
DEFAULT_HBA_FILE=/usr/local/share/kryonix/pg_hba.conf
RUNTIME_DIR=/run/postgresql
SHARED_SOCKET_DIR=/run/kryonix-pgsocket

# Anything but the server (`docker run IMAGE bash`, `pgbackrest ...`) runs as given.
if [ "$#" -eq 0 ] || [ "${1:0:1}" = "-" ]; then
  set -- postgres "$@"
fi
if [ "$1" != "postgres" ]; then
  exec "$@"
fi
shift

if [ "$(id -u)" = 0 ]; then
  as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  # A volume created by another image version may have the wrong owner or mode.
  if [ "$(stat -c %U "$PGDATA")" != postgres ]; then chown -R postgres:postgres "$PGDATA"; fi
  chmod 0700 "$PGDATA"
  # The logging collector's directory (a volume of its own): the server's only, like its files.
  install -d -o postgres -g postgres -m 0700 /var/log/postgresql
  install -d -o postgres -g postgres -m 2775 "$RUNTIME_DIR"
  # The socket PgBouncer shares (a volume both containers mount; model/pg-socket.ts): the group may
  # reach the socket, nobody else; the files a previous container left are gone before the server
  # starts (a stale lock file naming a PID that exists again here would stop it).
  if [ -d "$SHARED_SOCKET_DIR" ]; then
    chown postgres:kryonix-pgsocket "$SHARED_SOCKET_DIR"
    chmod 0750 "$SHARED_SOCKET_DIR"
    rm -f "$SHARED_SOCKET_DIR"/.s.PGSQL.*
  fi
else
  [ "$(id -un)" = postgres ] || die "run as root or as the postgres user, not as $(id -un)"
  as_postgres() { "$@"; }
  mkdir -p "$RUNTIME_DIR" 2>/dev/null || true
fi

# A file the server reads must be readable by postgres; an upload owned by root with mode 0600 is
# copied to a private place instead of being made world-readable in place.
readable_copy() {
  local src=$1 name
  name=$(basename "$src")
  if as_postgres test -r "$src"; then
    printf '%s' "$src"
    return
  fi
  [ "$(id -u)" = 0 ] || die "$src is not readable by postgres"
  install -d -o postgres -g postgres -m 0700 "$RUNTIME_DIR/kryonix"
  install -o postgres -g postgres -m 0600 "$src" "$RUNTIME_DIR/kryonix/$name"
  log "$src is not readable by postgres; using a private copy in $RUNTIME_DIR/kryonix"
  printf '%s' "$RUNTIME_DIR/kryonix/$name"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "$(ls -A "$PGDATA")" ]; then
    die "$PGDATA is not empty and holds no cluster (no PG_VERSION); refusing to initdb over it"
  fi
  [ -f "$PASSWORD_FILE" ] || die "no cluster in $PGDATA yet and no superuser password file at $PASSWORD_FILE (set POSTGRES_PASSWORD_FILE)"
  [ -r "$PASSWORD_FILE" ] || die "the superuser password file $PASSWORD_FILE is not readable by $(id -un)"
  # grep reads the password on stdin: it never appears in an argument list.
  head -n 1 "$PASSWORD_FILE" | grep -q '[^[:space:]]' || die "the first line of $PASSWORD_FILE is empty"

  # initdb runs as postgres, which may not be able to read the mounted file: copy its first line
  # into a file only postgres can read, removed as soon as initdb is done.
  pwdir=$(mktemp -d "$RUNTIME_DIR/initdb.XXXXXX")
  trap 'rm -rf "$pwdir"' EXIT
  head -n 1 "$PASSWORD_FILE" | tr -d '\r' >"$pwdir/pw"
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$pwdir"; fi

  log "initialising a new cluster in $PGDATA (data checksums, scram-sha-256, UTF8, C.UTF-8)"
  as_postgres initdb \
    --pgdata="$PGDATA" \
    --username=postgres \
    --pwfile="$pwdir/pw" \
    --data-checksums \
    --auth-local=peer \
    --auth-host=scram-sha-256 \
    --encoding=UTF8 \
    --locale=C.UTF-8 \
    --locale-provider=builtin \
    --builtin-locale=C.UTF-8 \
    >&2
  rm -rf "$pwdir"
  trap - EXIT
  log "cluster initialised"
fi

args=(-D "$PGDATA")
if [ -f "$CONFIG_FILE" ]; then
  config=$(readable_copy "$CONFIG_FILE")
  args+=(-c "config_file=$config")
  log "configuration: $CONFIG_FILE"
else
  # initdb's postgresql.conf, plus what a container needs.
  args+=(-c "listen_addresses=*" -c "shared_preload_libraries=pg_stat_statements,pgaudit")
  log "configuration: $PGDATA/postgresql.conf with built-in defaults (no $CONFIG_FILE)"
fi
if [ -f "$HBA_FILE" ]; then
  hba=$(readable_copy "$HBA_FILE")
  args+=(-c "hba_file=$hba")
  log "client authentication: $HBA_FILE"
else
  args+=(-c "hba_file=$DEFAULT_HBA_FILE")
  log "client authentication: $DEFAULT_HBA_FILE (no $HBA_FILE)"
fi

# The TLS key is uploaded root-only (0400); PostgreSQL wants its own 0600 copy. Copied on every
# start, so a replaced container (a renewed certificate) always serves the key it was given.
TLS_KEY_UPLOAD=/run/kryonix/tls/server.key
TLS_KEY=$RUNTIME_DIR/tls/server.key
if [ -f "$TLS_KEY_UPLOAD" ]; then
  [ "$(id -u)" = 0 ] || as_postgres test -r "$TLS_KEY_UPLOAD" || die "$TLS_KEY_UPLOAD is not readable"
  install -d -o postgres -g postgres -m 0700 "$RUNTIME_DIR/tls"
  install -o postgres -g postgres -m 0600 "$TLS_KEY_UPLOAD" "$TLS_KEY"
  log "TLS key: a private copy of $TLS_KEY_UPLOAD in $TLS_KEY"
fi

# The stack's job schedule (/etc/cron.d/kryonix, rendered by model/backup-schedule.ts): cron runs
# it as long as the container runs, and starts again with it. cron is restarted if it ever exits.
# `setsid -f` detaches the loop, so PID 1 (tini) adopts it and not the postmaster, which would take
# a child it does not know dying on a signal for a crashed backend and restart every session.
CRONTAB=/etc/cron.d/kryonix
if [ -f "$CRONTAB" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "not root: the schedule in $CRONTAB is not run"
  elif [ "$$" = 1 ]; then
    log "PID 1 is this entrypoint, not tini: the schedule in $CRONTAB is not run"
  else
    setsid -f bash -c 'while :; do cron -f; printf "%s [kryonix-postgres] cron exited (%s); restarting it in 5 s\n" "$(date -u +%FT%TZ)" "$?" >&2; sleep 5; done' </dev/null
    log "scheduler: cron, jobs from $CRONTAB (UTC)"
  fi
fi

cd "$PGDATA"
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- postgres "${args[@]}" "$@"
fi
exec postgres "${args[@]}" "$@"
