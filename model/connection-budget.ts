/**
 * How PostgreSQL's max_connections is shared: PgBouncer's pools and each login role's connection
 * limit, derived from the one number (StackConfig.maxConnections) in one place. Pure.
 */
import { APP_ROLE, DRILL_ROLE, type LoginRole, MIGRATOR_ROLE, MONITOR_ROLE, PGBOUNCER_ROLE, READONLY_ROLE } from "./database";
import { invalid } from "./messages";
import { MAX_MAX_CONNECTIONS, MIN_MAX_CONNECTIONS, SUPERUSER_RESERVED_CONNECTIONS } from "./tuning";

export interface PgbouncerPools {
  default_pool_size: number;
  min_pool_size: number;
  reserve_pool_size: number;
  max_db_connections: number;
  max_client_conn: number;
}

/** Client slots beyond 10x max_connections, for the admin console's clients (the exporter, an operator). */
export const CONSOLE_CLIENT_RESERVE = 20;

/**
 * Pool sizes for a PostgreSQL server with the given max_connections.
 * PgBouncer may use 80% of the non-superuser slots; the rest stays free for
 * pgAdmin, backups, migrations and the superuser connecting directly.
 */
export function pgbouncerPoolSizes(maxConnections: number): PgbouncerPools {
  if (!Number.isInteger(maxConnections) || maxConnections < MIN_MAX_CONNECTIONS || maxConnections > MAX_MAX_CONNECTIONS) {
    throw new Error(invalid("max_connections", maxConnections, `an integer from ${MIN_MAX_CONNECTIONS} to ${MAX_MAX_CONNECTIONS}`));
  }
  const maxDbConnections = Math.floor((maxConnections - SUPERUSER_RESERVED_CONNECTIONS) * 0.8);
  // A pool is per (user, database) pair: a quarter each lets four application
  // roles share the database before max_db_connections starts queueing them.
  const defaultPoolSize = Math.max(2, Math.floor(maxDbConnections / 4));
  return {
    default_pool_size: defaultPoolSize,
    // Warm connections spare the first requests after idle the connect cost.
    min_pool_size: Math.floor(defaultPoolSize / 4),
    // Burst capacity used only after reserve_pool_timeout.
    reserve_pool_size: Math.max(1, Math.floor(defaultPoolSize / 4)),
    max_db_connections: maxDbConnections,
    // Clients are cheap in transaction mode: 10 per server slot, plus room for the console's
    // own clients (pgbouncer_exporter, an operator), so 10x max_connections application clients
    // still all get in (npm run test:db:performance runs exactly that many).
    max_client_conn: maxConnections * 10 + CONSOLE_CLIENT_RESERVE,
  };
}

/**
 * Each login role's connection limit (CIS 5.5) for PgBouncer's `pools`: the application gets
 * PgBouncer's whole share, PgBouncer's lookup role and Metabase one pool with its reserve, the
 * migrator and the monitor a few. No role can take the slots the others need. Pure.
 */
export function roleConnectionLimits(pools: PgbouncerPools): Record<LoginRole, number> {
  const pool = pools.default_pool_size + pools.reserve_pool_size;
  return {
    [MIGRATOR_ROLE]: 5,
    [APP_ROLE]: pools.max_db_connections,
    [READONLY_ROLE]: pool,
    [MONITOR_ROLE]: 10,
    [PGBOUNCER_ROLE]: pool,
    // One drill at a time, one session at a time: room for it, its run record and a DBA's check.
    [DRILL_ROLE]: 3,
  };
}

/** max_connections and what it is divided into: PgBouncer's pools, each login role's limit. */
export interface ConnectionBudget {
  maxConnections: number;
  pools: PgbouncerPools;
  roleLimits: Record<LoginRole, number>;
}

/** The budget of a server with `maxConnections` (throws outside MIN_MAX_CONNECTIONS..MAX_MAX_CONNECTIONS). Pure. */
export function connectionBudget(maxConnections: number): ConnectionBudget {
  const pools = pgbouncerPoolSizes(maxConnections);
  return { maxConnections, pools, roleLimits: roleConnectionLimits(pools) };
}
