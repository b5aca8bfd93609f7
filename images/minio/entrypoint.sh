#!/bin/bash
# Entrypoint of the kryonix minio image: as root, checks the credentials files and the
# certificates, then execs
#   minio server /data --address :9000 --console-address :9001 --certs-dir /etc/kryonix/minio-certs
# as the user minio.
#
# Root credentials: MinIO reads MINIO_ROOT_USER_FILE and MINIO_ROOT_PASSWORD_FILE itself (its
# docker-secrets support), so neither secret is ever in the container's environment, its command
# line or `docker inspect`. MinIO silently falls back to minioadmin/minioadmin when such a file
# is missing, so this script refuses to start without both, and refuses MINIO_ROOT_USER /
# MINIO_ROOT_PASSWORD in the environment. Files or certificates minio cannot read (root-owned
# 0600 uploads or mounts) are given to it as private copies under /run/minio.
#
# TLS: from the TLS volume the stack mounts at /etc/kryonix/tls (server.crt, server.key owned by
# minio 0600, ca.crt) when it holds a certificate; MinIO then gets a certs folder of symlinks to
# those files (public.crt, private.key, CAs/ca.crt), never copies: the stack rewrites the files on
# renewal and sends SIGHUP, on which MinIO loads them again (it also re-reads symlinked
# certificates every 10 s), so a renewal needs no restart. Otherwise from the certs folder
# (MINIO_CERTS_DIR, public.crt, private.key and CAs/), read at start.
set -Eeuo pipefail
umask 077

log() { printf '%s [kryonix-minio] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

CERTS_DIR=${MINIO_CERTS_DIR:-/etc/kryonix/minio-certs}
TLS_DIR=/etc/kryonix/tls
RUNTIME_DIR=/run/minio

if [ "$#" -eq 0 ] || [ "${1:0:1}" = "-" ]; then
  set -- minio "$@"
fi
if [ "$1" != "minio" ]; then
  exec "$@"
fi
shift

for var in MINIO_ROOT_USER MINIO_ROOT_PASSWORD MINIO_ACCESS_KEY MINIO_SECRET_KEY; do
  if [ -n "${!var:-}" ]; then
    die "$var is set in the environment, where docker inspect shows it: give the credentials as files (MINIO_ROOT_USER_FILE, MINIO_ROOT_PASSWORD_FILE)"
  fi
done
: "${MINIO_ROOT_USER_FILE:=/run/kryonix/minio-root-user}"
: "${MINIO_ROOT_PASSWORD_FILE:=/run/kryonix/minio-root-password}"

if [ "$(id -u)" = 0 ]; then
  as_minio() { setpriv --reuid=minio --regid=minio --init-groups -- "$@"; }
  install -d -o minio -g minio -m 0700 "$RUNTIME_DIR"
  install -d -o minio -g minio -m 0700 /data
  if [ "$(stat -c %U /data)" != minio ]; then chown -R minio:minio /data; fi
else
  [ "$(id -un)" = minio ] || die "run as root or as the minio user, not as $(id -un)"
  as_minio() { "$@"; }
  mkdir -p "$RUNTIME_DIR"
fi

# A file minio must read: the path itself when minio can read it, else a private copy.
readable() {
  local src=$1 copy=$2
  if as_minio test -r "$src"; then
    printf '%s' "$src"
    return
  fi
  [ "$(id -u)" = 0 ] || die "$src is not readable by minio"
  install -o minio -g minio -m 0600 "$src" "$copy"
  printf '%s' "$copy"
}

# file, least length, what: checked without the secret ever reaching an argument list.
check_secret_file() {
  [ -f "$1" ] || die "no $3 file at $1"
  [ -r "$1" ] || die "the $3 file $1 is not readable by $(id -un)"
  [ "$(tr -d '[:space:]' <"$1" | wc -c)" -ge "$2" ] || die "the $3 in $1 must be at least $2 characters"
}
check_secret_file "$MINIO_ROOT_USER_FILE" 3 "root user"
check_secret_file "$MINIO_ROOT_PASSWORD_FILE" 8 "root password"
user_file=$(readable "$MINIO_ROOT_USER_FILE" "$RUNTIME_DIR/root-user")
password_file=$(readable "$MINIO_ROOT_PASSWORD_FILE" "$RUNTIME_DIR/root-password")
export MINIO_ROOT_USER_FILE=$user_file MINIO_ROOT_PASSWORD_FILE=$password_file

certs=$CERTS_DIR
rm -f "$RUNTIME_DIR/health-ca.pem"
if [ -f "$TLS_DIR/server.crt" ] && [ -f "$TLS_DIR/server.key" ]; then
  as_minio test -r "$TLS_DIR/server.key" || die "$TLS_DIR/server.key is not readable by minio (the stack writes it owned by minio, mode 0600)"
  certs=$RUNTIME_DIR/certs
  rm -rf "$certs"
  as_minio mkdir -p "$certs/CAs"
  ln -s "$TLS_DIR/server.crt" "$certs/public.crt"
  ln -s "$TLS_DIR/server.key" "$certs/private.key"
  if [ -f "$TLS_DIR/ca.crt" ]; then
    ln -s "$TLS_DIR/ca.crt" "$certs/CAs/ca.crt"
    # The health check trusts the CA file of the volume, whatever it holds now.
    ln -s "$TLS_DIR/ca.crt" "$RUNTIME_DIR/health-ca.pem"
  else
    ln -s "$TLS_DIR/server.crt" "$RUNTIME_DIR/health-ca.pem"
  fi
  log "TLS on: certificate in $TLS_DIR (reloaded on SIGHUP)"
elif [ -f "$CERTS_DIR/public.crt" ] && [ -f "$CERTS_DIR/private.key" ]; then
  if ! as_minio test -r "$CERTS_DIR/private.key" || ! as_minio test -r "$CERTS_DIR/public.crt"; then
    [ "$(id -u)" = 0 ] || die "the certificate in $CERTS_DIR is not readable by minio"
    certs=$RUNTIME_DIR/certs
    rm -rf "$certs"
    cp -a "$CERTS_DIR/." "$certs/"
    chown -R minio:minio "$certs"
    log "$CERTS_DIR is not readable by minio: using a private copy in $certs"
  fi
  # The CAs the health check trusts: the stack's CA (CAs/) and the certificate itself.
  cat "$certs"/CAs/* "$certs/public.crt" 2>/dev/null >"$RUNTIME_DIR/health-ca.pem" || true
  chmod 0644 "$RUNTIME_DIR/health-ca.pem"
  log "TLS on: certificate in $CERTS_DIR"
elif [ -e "$CERTS_DIR/public.crt" ] || [ -e "$CERTS_DIR/private.key" ]; then
  die "$CERTS_DIR must hold both public.crt and private.key (or neither, for plain http)"
else
  log "TLS off: no certificate in $CERTS_DIR"
fi

args=(server /data --address :9000 --console-address :9001 --certs-dir "$certs")
# MinIO prints the root credentials in its banner when its output is a terminal (docker run -t).
if [ -t 1 ] || [ -t 2 ]; then args+=(--quiet); fi

log "starting minio"
cd /data
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid=minio --regid=minio --init-groups -- minio "${args[@]}" "$@"
fi
exec minio "${args[@]}" "$@"
