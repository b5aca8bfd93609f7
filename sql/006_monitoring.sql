-- 006_monitoring.sql
--
-- The seed's four monitoring queries, as views. They live in schema audit
-- because the database has exactly the five schemas of the spec (auth, core,
-- analytics, audit, integration) and no monitoring schema.
--
-- The statistics functions behind pg_stat_activity and pg_stat_statements
-- check the privileges of the role that READS the view, not of the view's
-- owner: a reader without pg_monitor (or pg_read_all_stats) sees other roles'
-- sessions with a NULL state and their statements as "<insufficient
-- privilege>". Granting that is the stack's job, not a migration's.

-- 1. Active connections (across all databases of the server).
CREATE VIEW audit.monitoring_active_connections AS
SELECT count(*) AS active_connections
  FROM pg_stat_activity
 WHERE state = 'active';

-- 2. Slowest statements by mean execution time. pg_stat_statements is resolved
-- where 001_extensions.sql found the extension, and needs
-- shared_preload_libraries = 'pg_stat_statements' to be read.
CREATE VIEW audit.monitoring_slow_queries AS
SELECT query, mean_exec_time, calls
  FROM pg_stat_statements
 ORDER BY mean_exec_time DESC
 LIMIT 10;

-- 3. Table sizes, largest first. The seed built the table name as
-- schemaname||'.'||tablename, which breaks on any name that needs quoting;
-- this goes by the table's oid instead. A partitioned table has no storage of
-- its own (pg_total_relation_size gives 0), so its size is the sum of its leaf
-- partitions, which are also listed one by one. System schemas and
-- temporary tables are left out.
CREATE VIEW audit.monitoring_table_sizes AS
SELECT n.nspname                 AS schemaname,
       c.relname                 AS tablename,
       pg_size_pretty(s.bytes)   AS size,
       s.bytes                   AS size_bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (
       SELECT CASE WHEN c.relkind = 'p'
                   THEN (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)::bigint
                           FROM pg_partition_tree(c.oid) t
                          WHERE t.isleaf)
                   ELSE pg_total_relation_size(c.oid)
              END AS bytes
       ) s
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname <> 'information_schema'
   AND n.nspname !~ '^pg_' -- pg_catalog, other sessions' pg_temp_N
 ORDER BY s.bytes DESC;

-- 4. Indexes never scanned since the statistics were last reset. The seed
-- selected tablename and indexname, which pg_stat_user_indexes does not have
-- (its columns are relname and indexrelname). Unique indexes are left out:
-- they enforce a constraint whether or not a query ever scans them.
CREATE VIEW audit.monitoring_unused_indexes AS
SELECT s.schemaname,
       s.relname      AS tablename,
       s.indexrelname AS indexname,
       s.idx_scan,
       pg_size_pretty(pg_relation_size(s.indexrelid)) AS index_size
  FROM pg_stat_user_indexes s
  JOIN pg_index i ON i.indexrelid = s.indexrelid
 WHERE s.idx_scan = 0
   AND NOT i.indisunique;
