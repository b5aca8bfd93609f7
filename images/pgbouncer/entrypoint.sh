#!/bin/bash
# Entrypoint of the kryonix pgbouncer image: runs `pgbouncer CONFIG` as kryonix-pgbouncer (never as
# root, never as postgres: see the Dockerfile), in the foreground so it is PID 1 and receives
# `docker stop` directly.
#
# CONFIG is /etc/kryonix/pgbouncer.ini (PGBOUNCER_CONFIG to change it), uploaded by the stack; its
# auth_file is /etc/kryonix/userlist.txt (/etc/pgbouncer/userlist.txt links there). When a file is
# not readable by that user (a root-owned 0600 upload or mount), the entrypoint, as root, gives
# PgBouncer a private copy instead; nothing secret is printed.
#
# PostgreSQL may be reached on a Unix socket in a volume mounted read-only (host=/dir in
# [databases]): PgBouncer reaches it through the group kryonix-pgsocket.
set -Eeuo pipefail
umask 077

log() { printf '%s [kryonix-pgbouncer] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

CONFIG=${PGBOUNCER_CONFIG:-/etc/kryonix/pgbouncer.ini}
RUNTIME_DIR=/run/pgbouncer
RUN_USER=kryonix-pgbouncer
RUN_GROUP=kryonix-pgsocket

if [ "$#" -eq 0 ] || [ "${1:0:1}" = "-" ]; then
  set -- pgbouncer "$@"
fi
if [ "$1" != "pgbouncer" ]; then
  exec "$@"
fi
shift

[ -f "$CONFIG" ] || die "no PgBouncer configuration at $CONFIG (the stack uploads it)"

if [ "$(id -u)" = 0 ]; then
  as_runner() { setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --init-groups -- "$@"; }
  install -d -o "$RUN_USER" -g "$RUN_GROUP" -m 0700 "$RUNTIME_DIR"
else
  [ "$(id -un)" = "$RUN_USER" ] || die "run as root or as $RUN_USER, not as $(id -un)"
  as_runner() { "$@"; }
  mkdir -p "$RUNTIME_DIR"
fi

ini_value() { # the last value of a [pgbouncer] setting in an ini file
  sed -nE "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$/\1/p" "$2" | tail -n 1
}

auth_file=$(ini_value auth_file "$CONFIG")
config=$CONFIG
if ! as_runner test -r "$CONFIG" || { [ -n "$auth_file" ] && ! as_runner test -r "$auth_file"; }; then
  [ "$(id -u)" = 0 ] || die "$CONFIG or its auth_file $auth_file is not readable by $RUN_USER"
  config=$RUNTIME_DIR/pgbouncer.ini
  install -o "$RUN_USER" -g "$RUN_GROUP" -m 0600 "$CONFIG" "$config"
  if [ -n "$auth_file" ]; then
    [ -f "$auth_file" ] || die "the auth_file of $CONFIG does not exist: $auth_file"
    install -o "$RUN_USER" -g "$RUN_GROUP" -m 0600 "$auth_file" "$RUNTIME_DIR/userlist.txt"
    sed -i -E "s|^([[:space:]]*auth_file[[:space:]]*=).*|\1 $RUNTIME_DIR/userlist.txt|" "$config"
  fi
  log "$CONFIG or $auth_file is not readable by $RUN_USER: using private copies in $RUNTIME_DIR"
elif [ -n "$auth_file" ] && [ ! -f "$auth_file" ]; then
  die "the auth_file of $CONFIG does not exist: $auth_file"
fi
printf '%s\n' "$config" >"$RUNTIME_DIR/config-path"
chmod 0644 "$RUNTIME_DIR/config-path"
if [ "$(id -u)" = 0 ]; then chown "$RUN_USER:$RUN_GROUP" "$RUNTIME_DIR/config-path"; fi

# The TLS key is uploaded root-only (0400): PgBouncer gets its own 0600 copy, on every start.
if [ -f /run/kryonix/tls/server.key ]; then
  install -d -o "$RUN_USER" -g "$RUN_GROUP" -m 0700 "$RUNTIME_DIR/tls"
  install -o "$RUN_USER" -g "$RUN_GROUP" -m 0600 /run/kryonix/tls/server.key "$RUNTIME_DIR/tls/server.key"
fi

log "starting pgbouncer with $CONFIG"
cd "$RUNTIME_DIR"
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --init-groups -- pgbouncer "$@" "$config"
fi
exec pgbouncer "$@" "$config"
