-- 007_monitoring_health.sql
--
-- The views behind `npm run health` and the Prometheus alerts (issue 8),
-- beside the seed's four of 006 in schema audit. They return raw values
-- (seconds, ratios, bytes) and no verdict: the thresholds live in
-- lib/health.ts (the health command) and in the Prometheus rules, which read
-- the same numbers.
--
-- As in 006, the statistics functions check the privileges of the role that
-- READS a view: kryonix_monitor (pg_monitor) sees every session; a reader
-- without pg_read_all_stats sees other roles' sessions with NULL state, and
-- pg_ls_waldir() (the last backup) needs pg_monitor outright.

-- Share of block reads served from shared_buffers in this database, since the
-- statistics were last reset. NULL before anything was read.
CREATE VIEW audit.monitoring_cache_hit_ratio AS
SELECT d.datname,
       d.blks_hit,
       d.blks_read,
       CASE WHEN d.blks_hit + d.blks_read = 0 THEN NULL
            ELSE round(d.blks_hit::numeric / (d.blks_hit + d.blks_read), 4)
       END AS cache_hit_ratio,
       d.stats_reset
  FROM pg_stat_database d
 WHERE d.datname = current_database();

-- Client connections against max_connections (the whole server: PgBouncer,
-- pgAdmin, backups and the superuser share the same slots).
CREATE VIEW audit.monitoring_connections AS
SELECT count(*) FILTER (WHERE a.backend_type = 'client backend')                          AS client_connections,
       count(*) FILTER (WHERE a.backend_type = 'client backend' AND a.state = 'active')   AS active,
       count(*) FILTER (WHERE a.state LIKE 'idle in transaction%')                        AS idle_in_transaction,
       current_setting('max_connections')::int                                           AS max_connections,
       current_setting('superuser_reserved_connections')::int                             AS superuser_reserved_connections,
       round(count(*) FILTER (WHERE a.backend_type = 'client backend')::numeric
             / current_setting('max_connections')::int, 4)                                AS used_ratio
  FROM pg_stat_activity a;

-- Statements running now, oldest first (this session left out).
CREATE VIEW audit.monitoring_long_running AS
SELECT a.pid,
       a.usename,
       a.datname,
       a.application_name,
       a.client_addr,
       extract(epoch FROM now() - a.query_start)::bigint AS running_seconds,
       extract(epoch FROM now() - a.xact_start)::bigint  AS transaction_seconds,
       a.wait_event_type,
       a.wait_event,
       left(a.query, 200)                                AS query
  FROM pg_stat_activity a
 WHERE a.backend_type = 'client backend'
   AND a.state = 'active'
   AND a.pid <> pg_backend_pid()
 ORDER BY a.query_start;

-- Sessions holding a transaction open while doing nothing: they keep their
-- locks and stop VACUUM from removing dead rows. idle_seconds counts from the
-- last statement's end.
CREATE VIEW audit.monitoring_idle_in_transaction AS
SELECT a.pid,
       a.usename,
       a.datname,
       a.application_name,
       a.client_addr,
       a.state,
       extract(epoch FROM now() - a.state_change)::bigint AS idle_seconds,
       extract(epoch FROM now() - a.xact_start)::bigint   AS transaction_seconds,
       left(a.query, 200)                                 AS last_query
  FROM pg_stat_activity a
 WHERE a.state IN ('idle in transaction', 'idle in transaction (aborted)')
 ORDER BY a.state_change;

-- Who waits for a lock, and who holds it (one row per blocking session).
CREATE VIEW audit.monitoring_lock_waits AS
SELECT w.pid                                          AS waiting_pid,
       w.usename                                      AS waiting_user,
       w.wait_event                                   AS lock_type,
       extract(epoch FROM now() - w.query_start)::bigint AS waiting_seconds,
       left(w.query, 200)                             AS waiting_query,
       b.pid                                          AS blocking_pid,
       b.usename                                      AS blocking_user,
       b.state                                        AS blocking_state,
       left(b.query, 200)                             AS blocking_query
  FROM pg_stat_activity w
 CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid)
  JOIN pg_stat_activity b ON b.pid = bp.pid
 WHERE w.wait_event_type = 'Lock';

-- A bloat estimate from the dead-tuple counts: the share of dead rows times
-- the table's size. It is what autovacuum acts on, cheap to read, and it
-- misses space that VACUUM freed but did not return (pgstattuple measures
-- that, at the cost of reading the whole table).
CREATE VIEW audit.monitoring_bloat AS
SELECT s.schemaname,
       s.relname                               AS tablename,
       s.n_live_tup,
       s.n_dead_tup,
       r.dead_ratio,
       pg_relation_size(s.relid)               AS table_bytes,
       (pg_relation_size(s.relid) * r.dead_ratio)::bigint AS estimated_bloat_bytes,
       s.last_vacuum,
       s.last_autovacuum
  FROM pg_stat_user_tables s
 CROSS JOIN LATERAL (
       SELECT CASE WHEN s.n_live_tup + s.n_dead_tup = 0 THEN 0
                   ELSE round(s.n_dead_tup::numeric / (s.n_live_tup + s.n_dead_tup), 4)
              END AS dead_ratio
       ) r
 ORDER BY estimated_bloat_bytes DESC;

-- WAL archiving (archive_command = pgbackrest archive-push): failing means
-- the last attempt failed after the last success.
CREATE VIEW audit.monitoring_archiver AS
SELECT current_setting('archive_mode')                           AS archive_mode,
       a.archived_count,
       a.last_archived_wal,
       a.last_archived_time,
       extract(epoch FROM now() - a.last_archived_time)::bigint  AS seconds_since_last_archived,
       a.failed_count,
       a.last_failed_wal,
       a.last_failed_time,
       (a.last_failed_time IS NOT NULL
        AND (a.last_archived_time IS NULL OR a.last_failed_time > a.last_archived_time)) AS failing,
       a.stats_reset
  FROM pg_stat_archiver a;

-- The last base backup PostgreSQL saw finish. pgBackRest's repository is not
-- readable from SQL, but every backup it takes ends with pg_backup_stop(),
-- which writes a backup history file (<segment>.<offset>.backup) into pg_wal
-- and removes the older ones; that file stays until the next backup. Its
-- modification time is when the backup stopped. Always one row: NULLs when the
-- cluster never finished a backup. `npm run backup:status` reads the repository
-- itself (pgbackrest info) and is the authority on what can be restored.
CREATE VIEW audit.monitoring_last_backup AS
SELECT b.name                                          AS backup_history_file,
       b.modification                                  AS finished_at,
       extract(epoch FROM now() - b.modification)::bigint AS age_seconds
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL (
       SELECT w.name, w.modification
         FROM pg_ls_waldir() w
        WHERE w.name ~ '^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$'
        ORDER BY w.modification DESC
        LIMIT 1
       ) b ON true;
