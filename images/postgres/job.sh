#!/bin/bash
# kryonix-job [--wait] [--trigger schedule|manual] NAME COMMAND [ARGS...]
#
# One run of a stack job, as root (cron's lines in /etc/cron.d/kryonix, or `docker exec` from
# `npm run backup:verify`): COMMAND runs as postgres, one run of NAME at a time (a scheduled run
# that finds the previous one still going is skipped and says so; --wait waits up to an hour
# instead), and the run is recorded in the live server's postgres database, table kryonix.job_runs
# (job, trigger, start, end, exit code, and COMMAND's last output line when it is JSON, e.g. the
# drill's report), where `npm run backup:status` reads it. COMMAND's output passes through: cron's
# line sends it to the container's log.
#
# In the postgres container the run is recorded over the local socket (peer). In the restore drill
# container (/etc/kryonix/drill.conf present) it is recorded over the stack network as the drill's
# role, for which kryonix.record_job_run is the one thing it may write.
set -uo pipefail
umask 077

wait_lock=0
trigger=schedule
while [ "$#" -gt 0 ]; do
  case "$1" in
    --wait) wait_lock=1; shift ;;
    --trigger) trigger=$2; shift 2 ;;
    *) break ;;
  esac
done
[ "$#" -ge 2 ] || { echo "usage: kryonix-job [--wait] [--trigger schedule|manual] NAME COMMAND [ARGS...]" >&2; exit 2; }
job=$1
shift
[[ "$job" =~ ^[a-z0-9-]+$ ]] || { echo "kryonix-job: bad job name $job" >&2; exit 2; }

log() { printf '%s [kryonix-job %s] %s\n' "$(date -u +%FT%TZ)" "$job" "$*" >&2; }
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- env HOME=/var/lib/postgresql "$@"
  else
    "$@"
  fi
}
export PATH=/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PGDATA=/var/lib/postgresql/data LANG=C.UTF-8 LC_ALL=C.UTF-8

# /run/postgresql belongs to postgres and lives as long as the container.
exec 9>>"/run/postgresql/kryonix-job-$job.lock"
if [ "$wait_lock" = 1 ]; then
  flock -w 3600 9 || { log "gave up after waiting an hour for the previous run"; exit 75; }
elif ! flock -n 9; then
  log "skipped: the previous run is still going"
  exit 0
fi

# On a cluster node (Patroni's configuration present) only the leader runs jobs: backups and the
# other jobs need a primary, and exactly one node must run each.
if [ -f /etc/kryonix/patroni.yml ]; then
  standby=$(as_postgres psql -XAtq -h /run/postgresql -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null || echo unknown)
  if [ "$standby" != f ]; then
    log "skipped: this node is not the leader (in recovery: $standby)"
    exit 0
  fi
fi

out=$(mktemp /tmp/kryonix-job.XXXXXX)
trap 'rm -f "$out"' EXIT
started=$(date -u +%FT%T.%3NZ)
t0=$(date +%s.%N)
log "start ($trigger): $*"
as_postgres "$@" | tee "$out"
rc=${PIPESTATUS[0]}
seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
finished=$(date -u +%FT%T.%3NZ)
log "end: exit $rc in $seconds s"

last=$(tail -n 1 "$out")
# Where and as whom the run is recorded: the live server over its socket as postgres (peer), or,
# in the drill container, over the stack network as the drill's role.
record=(psql -XAtq -v ON_ERROR_STOP=1 -h /run/postgresql -d postgres)
if [ -f /etc/kryonix/drill.conf ]; then
  # shellcheck source=/dev/null
  . /etc/kryonix/drill.conf
  record=(env PGPASSFILE=/run/postgresql/kryonix/drill.pgpass psql -XAtq -v ON_ERROR_STOP=1
    "host=$KRYONIX_LIVE_HOST port=$KRYONIX_LIVE_PORT dbname=postgres user=$KRYONIX_LIVE_USER sslmode=verify-full sslrootcert=$KRYONIX_LIVE_CA connect_timeout=30 application_name=kryonix-job")
fi
# kryonix.record_job_run (made by the stack, model/drill.ts jobRunsSql) appends the run and bounds the history.
as_postgres "${record[@]}" -v job="$job" -v trigger="$trigger" -v started="$started" -v finished="$finished" -v rc="$rc" -v last="$last" >/dev/null <<'SQL' \
  || log "could not record the run in kryonix.job_runs"
-- Tested apart: a CASE around the cast would still have it folded, and fail, at plan time.
SELECT pg_input_is_valid(:'last', 'jsonb') AND left(:'last', 1) = '{' AS is_json \gset
\if :is_json
\else
\set last ''
\endif
SELECT kryonix.record_job_run(:'job', :'trigger', :'started', :'finished', :'rc', nullif(:'last', '')::jsonb);
SQL
exit "$rc"
