#!/bin/bash
# kryonix-drill: the restore drill, as postgres inside the stack's restore drill container
# (components/restore-drill.ts: the postgres image, limits of its own, no published port), run by
# `npm run backup:verify` and by the weekly schedule, both through kryonix-job. Prints its progress
# on stderr and one JSON report as the last line of stdout; exit 0 when everything matched, 1
# otherwise.
#
# The live server is reached over the stack network, TLS verify-full against the stack CA, as the
# drill's own role (kryonix_drill: pg_maintain and USAGE on the schemas for the SHARE locks,
# EXECUTE on pg_create_restore_point, pg_switch_wal and kryonix.drill_table_sums; no SELECT on any
# table; its password in a pgpass file), from /etc/kryonix/drill.conf. The drill container holds no
# superuser password.
#
# 1. A comparison point on the live server, in one REPEATABLE READ transaction of the compared
#    database: SHARE locks on every table (they wait for running writers and hold new ones back),
#    the transaction's snapshot, a named restore point (pg_create_restore_point), then the locks
#    are dropped (ROLLBACK TO SAVEPOINT) while the snapshot stays. So the snapshot sees exactly the
#    commits that precede the restore point in the WAL, and writers wait only for that instant.
#    Every table's row count and checksum are then read in that snapshot, by
#    kryonix.drill_table_sums() (SECURITY DEFINER: every row, row-level security included).
# 2. The WAL holding the restore point is switched out and waited for in the archive.
# 3. pgbackrest restore of the newest backup that had finished before the restore point (a backup
#    the schedule starts in the same minute as the drill may end after the point, and recovery
#    cannot stop before a backup's end) into a scratch directory of the drill container's own
#    filesystem (/var/lib/postgresql/drill), recovery to the restore point, promoted; a scratch
#    server on a private socket (no TCP), small memory, no preload, archive_mode off (the copy
#    never pushes to the repository).
# 4. The same row counts and checksums in the copy, compared table by table (the same tables, the
#    same counts, the same checksums); amcheck's bt_index_check (heapallindexed) on every B-tree
#    index of every database of the copy; `pgbackrest verify` on the repository.
# 5. The scratch server is stopped and its directory removed, whatever happened.
#
# A table's checksum is the sum of the first 64 bits of md5(row::text) over its rows: independent
# of row order, constant memory; kryonix.drill_table_sums() (model/drill.ts) computes it, on both
# sides. Unlogged tables are compared too: they are not in the WAL, so a restore brings them back
# empty, and the report says so.
set -Eeuo pipefail
umask 077

CONF=/etc/kryonix/drill.conf
[ -r "$CONF" ] || { echo "kryonix-drill: no $CONF: run the drill in the stack's restore drill container" >&2; exit 2; }
# shellcheck source=/dev/null
. "$CONF"
DB=${KRYONIX_DRILL_DATABASE:?}
STANZA=kryonix
SCRATCH=/var/lib/postgresql/drill
# The private copy kryonix-drill-service made of the uploaded password file (libpq wants 0600).
export PGPASSFILE=/run/postgresql/kryonix/drill.pgpass
ARCHIVE_DEADLINE=${KRYONIX_DRILL_ARCHIVE_DEADLINE:-300}
export PATH=/usr/lib/postgresql/17/bin:$PATH PGTZ=UTC PGDATESTYLE=ISO PGOPTIONS="-c extra_float_digits=3 -c bytea_output=hex -c IntervalStyle=postgres"

[ "$(id -un)" = postgres ] || { echo "kryonix-drill: run as postgres" >&2; exit 2; }
log() { printf '%s [kryonix-drill] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
t0=$(date +%s)
started=$(date -u +%FT%TZ)
point="kryonix-drill-$(date -u +%Y%m%dT%H%M%SZ)"
work=$(mktemp -d "$SCRATCH/kryonix-drill.XXXXXX")
data=$work/data
sock=$work/socket
mkdir -m 0700 "$data" "$sock"
stage=start

cleanup() {
  if [ -f "$data/postmaster.pid" ]; then pg_ctl -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || pg_ctl -D "$data" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# live DATABASE [psql options]: the live server as the drill's role, TLS verify-full.
live() {
  local db=$1
  shift
  psql -XAtq -v ON_ERROR_STOP=1 "host=$KRYONIX_LIVE_HOST port=$KRYONIX_LIVE_PORT dbname=$db user=$KRYONIX_LIVE_USER sslmode=verify-full sslrootcert=$KRYONIX_LIVE_CA connect_timeout=30 application_name=kryonix-drill" "$@"
}
copy() { psql -XAtq -v ON_ERROR_STOP=1 -h "$sock" "$@"; }

# On any failure: a report that says at which stage and why, built by the live server's JSON
# functions (the copy may be gone), then exit 1.
failed() {
  local rc=$? err
  trap - ERR
  err=$(tail -n 20 "$work/last-error" 2>/dev/null || true)
  log "failed at stage $stage (exit $rc): $err"
  live "$DB" -v stage="$stage" -v err="$err" -v point="$point" -v started="$started" -v secs="$(( $(date +%s) - t0 ))" 2>/dev/null <<'SQL' \
    || printf '{"ok":false,"stage":"%s"}\n' "$stage"
SELECT json_build_object('ok', false, 'stage', :'stage', 'error', :'err', 'restorePoint', :'point', 'startedAt', :'started', 'seconds', :'secs'::int);
SQL
  exit 1
}
trap failed ERR
# Run a command keeping its stderr for the report.
run() { "$@" 2> >(tee "$work/last-error" >&2); }

# Every leaf table's name, persistence, rows and checksum (model/drill.ts drillGrantsSql).
SUMS_SQL="INSERT INTO pg_temp.sums SELECT * FROM kryonix.drill_table_sums();"

# The backup to restore: the newest one complete before the restore point exists, so its end is
# before the point in the WAL (pgBackRest lists only finished backups, oldest first).
stage=backup-set
run pgbackrest --stanza="$STANZA" --output=text info >"$work/info.txt" || { tail -n 20 "$work/info.txt" >>"$work/last-error"; false; }
backup_set=$(grep -oE '^ +(full|diff|incr) backup: [0-9]{8}-[0-9]{6}F[_0-9DI-]*' "$work/info.txt" | awk '{print $3}' | tail -n 1 || true)
if [ -z "$backup_set" ]; then
  echo "no finished backup in the repository yet: take one (npm run backup) or wait for the scheduled one" >"$work/last-error"
  false
fi

stage=restore-point
log "comparison point on the live database $DB: restore point $point"
run live "$DB" -v point="$point" >"$work/live.csv" <<SQL
SET row_security = off;
-- Computed before the transaction: its first query would otherwise take the snapshot before the locks.
SELECT coalesce('LOCK TABLE ' || string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY n.nspname, c.relname) || ' IN SHARE MODE',
                'SELECT NULL WHERE false') AS lock_tables
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)' \gset
CREATE TEMP TABLE sums (tbl text, persistence text, n bigint, checksum numeric);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SAVEPOINT quiesce;
SET LOCAL lock_timeout = '60s';
:lock_tables;
-- The snapshot is taken by this first query, with the locks held: no write can commit between it and the record.
SELECT pg_create_restore_point(:'point') AS point_lsn \gset
ROLLBACK TO SAVEPOINT quiesce;
$SUMS_SQL
COMMIT;
\pset format csv
\pset tuples_only on
SELECT * FROM pg_temp.sums ORDER BY tbl;
SQL
ntables=$(wc -l <"$work/live.csv")
log "live: $ntables tables read in the restore point's snapshot"

stage=archive
seg=$(live "$DB" -c "SELECT pg_walfile_name(pg_switch_wal())")
log "waiting for WAL segment $seg to be archived (deadline $ARCHIVE_DEADLINE s)"
deadline=$(( $(date +%s) + ARCHIVE_DEADLINE ))
[[ "$seg" =~ ^[0-9A-F]{24}$ ]] || { echo "unexpected WAL segment name $seg" >"$work/last-error"; false; }
until [ "$(live "$DB" -c "SELECT coalesce(last_archived_wal >= '$seg', false) FROM pg_stat_archiver")" = t ]; do
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "WAL segment $seg not archived within $ARCHIVE_DEADLINE s" >"$work/last-error"; false; fi
  sleep 1
done

stage=restore
log "pgbackrest restore of backup set $backup_set to $point into $data"
# pgBackRest writes its errors to the console (stdout): the report takes them from its log.
run pgbackrest --stanza="$STANZA" --pg1-path="$data" --set="$backup_set" --type=name --target="$point" --target-action=promote \
  --archive-mode=off --log-level-console=info restore >"$work/restore.log" || { grep -E 'ERROR|WARN' "$work/restore.log" | tail -n 20 >>"$work/last-error"; false; }
restore_seconds=$(( $(date +%s) - t0 ))

stage=recovery
log "scratch server on $sock: replaying WAL to the restore point (backup set $backup_set)"
run pg_ctl -D "$data" -l "$work/server.log" -w -t 900 -o "-c listen_addresses='' -c unix_socket_directories='$sock' \
  -c shared_buffers=32MB -c max_connections=10 -c hot_standby=off -c archive_mode=off -c shared_preload_libraries=pgaudit -c pgaudit.log=none \
  -c max_worker_processes=4 -c logging_collector=off -c log_destination=stderr -c cluster_name=kryonix-drill \
  -c ssl=off -c synchronous_standby_names='' \
  -c hba_file=$data/pg_hba.conf -c ident_file=$data/pg_ident.conf" start >/dev/null \
  || { tail -n 30 "$work/server.log" >"$work/last-error"; false; }
# pg_ctl may return while recovery still runs (no hot standby: no connection until the promotion).
deadline=$(( $(date +%s) + 900 ))
until pg_isready -q -h "$sock" -d postgres && [ "$(copy -d postgres -c "SELECT pg_is_in_recovery()")" = f ]; do
  if ! pg_ctl -D "$data" status >/dev/null 2>&1 || [ "$(date +%s)" -gt "$deadline" ]; then tail -n 30 "$work/server.log" >"$work/last-error"; false; fi
  sleep 1
done

stage=compare
run copy -d "$DB" >"$work/compare.json" <<SQL
CREATE TEMP TABLE sums (tbl text, persistence text, n bigint, checksum numeric);
CREATE TEMP TABLE live_sums (LIKE sums);
\copy live_sums FROM '$work/live.csv' WITH (FORMAT csv)
$SUMS_SQL
SELECT json_build_object(
  'tables', count(*),
  'rowsCompared', coalesce(sum(l.n), 0),
  'mismatches', coalesce(json_agg(json_build_object(
      'table', coalesce(l.tbl, s.tbl),
      'problem', CASE WHEN s.tbl IS NULL THEN 'missing from the restored copy'
                      WHEN l.tbl IS NULL THEN 'not in the live database'
                      WHEN l.n <> s.n THEN 'row count differs'
                      ELSE 'checksum differs' END,
      'liveRows', l.n, 'restoredRows', s.n,
      'unlogged', coalesce(l.persistence, s.persistence) = 'u')
    ORDER BY coalesce(l.tbl, s.tbl))
    FILTER (WHERE l.tbl IS NULL OR s.tbl IS NULL OR l.n <> s.n OR l.checksum <> s.checksum), '[]'))
FROM live_sums l FULL JOIN sums s ON s.tbl = l.tbl;
SQL
log "compared $(grep -o '"tables" : [0-9]*' "$work/compare.json" || true)"

stage=amcheck
: >"$work/amcheck.json"
for db in $(copy -d postgres -c "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1"); do
  run copy -d "$db" >>"$work/amcheck.json" <<'SQL'
CREATE EXTENSION IF NOT EXISTS amcheck;
CREATE TEMP TABLE checked (idx text, error text);
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid, c.oid::regclass::text AS name
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
            WHERE a.amname = 'btree' AND c.relkind = 'i' AND c.relpersistence <> 't' AND i.indisvalid AND i.indisready
            ORDER BY 2
  LOOP
    BEGIN
      PERFORM bt_index_check(r.oid, true);
      INSERT INTO checked VALUES (r.name, NULL);
    EXCEPTION WHEN OTHERS THEN
      INSERT INTO checked VALUES (r.name, SQLERRM);
    END;
  END LOOP;
END $$;
SELECT json_build_object('database', current_database(), 'btreeIndexes', count(*),
  'failures', coalesce(json_agg(json_build_object('index', idx, 'error', error)) FILTER (WHERE error IS NOT NULL), '[]')) FROM checked;
SQL
done
log "amcheck: $(grep -c . "$work/amcheck.json") database(s) checked"

stage=verify
log "pgbackrest verify"
set +e
pgbackrest --stanza="$STANZA" --log-level-console=warn verify >"$work/verify.log" 2>&1
verify_rc=$?
set -e
cat "$work/verify.log" >&2

stage=report
copy -d postgres -v compare="$(cat "$work/compare.json")" -v amcheck="$(paste -sd, "$work/amcheck.json")" \
  -v verify_rc="$verify_rc" -v verify_out="$(tail -c 4000 "$work/verify.log")" -v point="$point" -v backup_set="$backup_set" \
  -v started="$started" -v restore_secs="$restore_seconds" -v secs="$(( $(date +%s) - t0 ))" -v db="$DB" -v scratch="$work" <<'SQL' >"$work/report.json"
WITH r AS (SELECT :'compare'::jsonb AS c, ('[' || :'amcheck' || ']')::jsonb AS a)
SELECT json_build_object(
  'ok', jsonb_array_length(c -> 'mismatches') = 0
        AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(a) d WHERE jsonb_array_length(d -> 'failures') > 0)
        AND :'verify_rc' = '0',
  'startedAt', :'started', 'seconds', :'secs'::int, 'restoreSeconds', :'restore_secs'::int,
  'database', :'db', 'restorePoint', :'point', 'backupSet', nullif(:'backup_set', ''), 'scratch', :'scratch',
  'tables', c -> 'tables', 'rowsCompared', c -> 'rowsCompared', 'mismatches', c -> 'mismatches',
  'amcheck', a,
  'pgbackrestVerify', json_build_object('ok', :'verify_rc' = '0', 'exitCode', :'verify_rc'::int, 'output', :'verify_out'))
FROM r;
SQL

stage=stop
pg_ctl -D "$data" -m fast -w -t 120 stop >/dev/null
trap - ERR
cat "$work/report.json"
grep -q '^{"ok" : true' "$work/report.json"
