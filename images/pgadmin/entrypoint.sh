#!/bin/bash
# Entrypoint of the kryonix pgadmin image.
#
# As root: makes /var/lib/pgadmin the pgadmin user's, runs kryonix_setup.py as pgadmin (creates
# or upgrades the configuration database, the login user PGADMIN_DEFAULT_EMAIL with the password
# from PGADMIN_DEFAULT_PASSWORD_FILE, and loads /etc/kryonix/servers.json), then execs gunicorn
# as pgadmin on 0.0.0.0:80 (PGADMIN_LISTEN_PORT to change it).
#
# The password file is opened by this script and handed to the setup as its standard input:
# the password is never in an environment, on a command line or in the log.
set -Eeuo pipefail
umask 077

log() { printf '%s [kryonix-pgadmin] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

DATA_DIR=/var/lib/pgadmin
PASSWORD_FILE=${PGADMIN_DEFAULT_PASSWORD_FILE:-/run/kryonix/pgadmin-password}
SERVERS_FILE=${PGADMIN_SERVERS_FILE:-/etc/kryonix/servers.json}
PORT=${PGADMIN_LISTEN_PORT:-80}
VENV=/opt/pgadmin

if [ "$#" -gt 0 ] && [ "$1" != "gunicorn" ]; then
  exec "$@"
fi

[ -n "${PGADMIN_DEFAULT_EMAIL:-}" ] || die "PGADMIN_DEFAULT_EMAIL is not set (the login email)"
[ -f "$PASSWORD_FILE" ] || die "no password file at $PASSWORD_FILE (set PGADMIN_DEFAULT_PASSWORD_FILE)"
[ -r "$PASSWORD_FILE" ] || die "the password file $PASSWORD_FILE is not readable by $(id -un)"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PGADMIN_LISTEN_PORT must be a port number, got '$PORT'"

if [ "$(id -u)" = 0 ]; then
  as_pgadmin() { setpriv --reuid=pgadmin --regid=pgadmin --init-groups -- "$@"; }
  install -d -o pgadmin -g pgadmin -m 0700 "$DATA_DIR"
  if [ "$(stat -c %U "$DATA_DIR")" != pgadmin ]; then chown -R pgadmin:pgadmin "$DATA_DIR"; fi
else
  [ "$(id -un)" = pgadmin ] || die "run as root or as the pgadmin user, not as $(id -un)"
  as_pgadmin() { "$@"; }
fi

servers_args=()
if [ -f "$SERVERS_FILE" ]; then
  if as_pgadmin test -r "$SERVERS_FILE"; then
    servers_args=("$SERVERS_FILE")
  else
    # An upload owned by root with mode 0600: give the setup a private copy.
    install -o pgadmin -g pgadmin -m 0600 "$SERVERS_FILE" "$DATA_DIR/.servers.json"
    servers_args=("$DATA_DIR/.servers.json")
  fi
else
  log "no $SERVERS_FILE: no server is pre-registered"
fi

cd "$DATA_DIR"
log "setting up pgAdmin for $PGADMIN_DEFAULT_EMAIL"
as_pgadmin "$VENV/bin/python3" /usr/local/lib/kryonix/kryonix_setup.py \
  "$PGADMIN_DEFAULT_EMAIL" "${servers_args[@]}" <"$PASSWORD_FILE"
rm -f "$DATA_DIR/.servers.json"

# setpriv keeps root's HOME; libpq would then fail on ~/.postgresql/postgresql.crt (a client
# certificate it looks for on every TLS connection) with "Permission denied".
HOME=$(getent passwd pgadmin | cut -d: -f6)
export HOME

log "starting gunicorn on 0.0.0.0:$PORT"
cmd=("$VENV/bin/gunicorn" --config /usr/local/lib/kryonix/gunicorn.conf.py
  --bind "0.0.0.0:$PORT" --chdir /opt/pgadmin4 pgAdmin4:app)
if [ "$(id -u)" = 0 ]; then
  # Binding port 80 as pgadmin needs CAP_NET_BIND_SERVICE (Docker's default
  # net.ipv4.ip_unprivileged_port_start=0 makes it unnecessary, but not every runtime sets it).
  exec setpriv --reuid=pgadmin --regid=pgadmin --init-groups \
    --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
    --bounding-set=-all,+net_bind_service -- "${cmd[@]}"
fi
exec "${cmd[@]}"
