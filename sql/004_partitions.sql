-- 004_partitions.sql
--
-- Monthly partitions of analytics.user_sessions (declared PARTITION BY RANGE
-- (session_start) in 002_tables.sql). The seed's single hard-coded partition
-- for January 2025 is replaced by a function that keeps partitions ahead of
-- time; run it again from a scheduled job (it is idempotent) so that the
-- months to come always have a partition.

-- Rows that fall in no monthly partition (a month nobody created in time, or
-- a clock far off) land here instead of failing the INSERT.
CREATE TABLE analytics.user_sessions_default
    PARTITION OF analytics.user_sessions DEFAULT;

-- Creates analytics.user_sessions_yYYYYmMM for the current month and the
-- months_ahead months after it, skipping those that already exist, and returns
-- how many it created.
--
-- Months are UTC months, whatever the session's TimeZone: bounds are written
-- as explicit UTC literals, so the partition set does not depend on who calls
-- the function from where.
--
-- A new partition's range must hold no row of the default partition
-- (PostgreSQL refuses the partition otherwise). Rows already there for that
-- month are moved into the new partition before it is attached, so a late
-- run still succeeds.
CREATE FUNCTION analytics.ensure_user_sessions_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    parent       constant regclass  := 'analytics.user_sessions'::regclass;
    first_month  constant timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    default_part regclass;
    month_start  timestamp;
    part_name    text;
    lower_bound  text;
    upper_bound  text;
    existing     regclass;
    has_rows     boolean;
    created      integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 THEN
        RAISE EXCEPTION 'months_ahead must be 0 or more, got %', months_ahead;
    END IF;

    -- SHARE UPDATE EXCLUSIVE conflicts with itself, so two concurrent calls
    -- run one after the other, while reads and writes of the table go on.
    LOCK TABLE ONLY analytics.user_sessions IN SHARE UPDATE EXCLUSIVE MODE;

    SELECT NULLIF(p.partdefid, 0)::regclass INTO default_part
      FROM pg_partitioned_table p
     WHERE p.partrelid = parent;

    FOR i IN 0 .. months_ahead LOOP
        month_start := first_month + make_interval(months => i);
        part_name   := format('user_sessions_y%sm%s', to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
        lower_bound := to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00';
        upper_bound := to_char(month_start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00';

        existing := to_regclass(format('analytics.%I', part_name));
        IF existing IS NOT NULL THEN
            IF NOT EXISTS (SELECT 1 FROM pg_inherits
                            WHERE inhrelid = existing AND inhparent = parent) THEN
                RAISE EXCEPTION 'analytics.% exists but is not a partition of analytics.user_sessions', part_name;
            END IF;
            CONTINUE;
        END IF;

        has_rows := false;
        IF default_part IS NOT NULL THEN
            EXECUTE format(
                'SELECT EXISTS (SELECT 1 FROM %s WHERE session_start >= %L::timestamptz AND session_start < %L::timestamptz)',
                default_part, lower_bound, upper_bound)
              INTO has_rows;
        END IF;

        IF has_rows THEN
            EXECUTE format(
                'CREATE TABLE analytics.%I (LIKE analytics.user_sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                part_name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM %s WHERE session_start >= %L::timestamptz AND session_start < %L::timestamptz RETURNING *) '
                'INSERT INTO analytics.%I SELECT * FROM moved',
                default_part, lower_bound, upper_bound, part_name);
            EXECUTE format(
                'ALTER TABLE analytics.user_sessions ATTACH PARTITION analytics.%I FOR VALUES FROM (%L) TO (%L)',
                part_name, lower_bound, upper_bound);
        ELSE
            EXECUTE format(
                'CREATE TABLE analytics.%I PARTITION OF analytics.user_sessions FOR VALUES FROM (%L) TO (%L)',
                part_name, lower_bound, upper_bound);
        END IF;
        created := created + 1;
    END LOOP;

    RETURN created;
END
$fn$;

SELECT analytics.ensure_user_sessions_partitions();
