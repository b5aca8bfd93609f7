#!/bin/bash
# Container health check: PgBouncer answers the protocol on its listen port (listen_port of the
# configuration in use, 6432 by default). It asks for the admin console as the first admin user
# (else auth_user): PgBouncer answers with its own password challenge, so a check never opens a
# PostgreSQL connection and logs one "login attempt" line at most.
set -euo pipefail
ini=$(cat /run/pgbouncer/config-path 2>/dev/null || echo /etc/kryonix/pgbouncer.ini)
setting() {
  sed -nE "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*([^[:space:],]+).*/\1/p" "$ini" 2>/dev/null | tail -n 1
}
port=$(setting listen_port)
user=$(setting admin_users)
user=${user:-$(setting auth_user)}
exec pg_isready -q -t 3 -h 127.0.0.1 -p "${port:-6432}" -d pgbouncer -U "${user:-pgbouncer}"
