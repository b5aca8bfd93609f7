#!/bin/bash
# Container health check: PgBouncer answers on its listen port (listen_port of the configuration
# in use, 6432 by default). The admin console database needs no PostgreSQL backend, so a check
# never opens a server connection.
set -euo pipefail
ini=$(cat /run/pgbouncer/config-path 2>/dev/null || echo /etc/kryonix/pgbouncer.ini)
port=$(sed -nE 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*([0-9]+).*/\1/p' "$ini" 2>/dev/null | tail -n 1)
exec pg_isready -q -t 3 -h 127.0.0.1 -p "${port:-6432}" -d pgbouncer
