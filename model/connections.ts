/**
 * The stack's `connections` output: libpq connection URIs an application takes as they are,
 * instead of assembling them from `endpoints` and `credentials`. Pure.
 *
 * Every URI says sslmode=verify-full and names 127.0.0.1, which both servers' certificates carry.
 * libpq reads the CA from a file only (sslrootcert=<file>, or PGSSLROOTCERT), so the CA's PEM
 * travels beside the URIs: a client writes it to a file and appends `&sslrootcert=<that file>`
 * (node-postgres reads that parameter too; or pass the PEM itself as `ssl.ca`).
 */
import { ALTERNATING_ROLES, MONITOR_ROLE } from "./database";
import { invalid } from "./messages";

/**
 * The login roles whose clients connect through PgBouncer: the applications' three, and the
 * monitoring role. Not PgBouncer's own lookup role (its console only) nor the restore drill's
 * (refused by PgBouncer, its consumer is the stack's drill container).
 */
export const POOLED_ROLES = [...ALTERNATING_ROLES, MONITOR_ROLE] as const;

export interface Endpoint {
  host: string;
  port: number;
  database: string;
}

export interface Login {
  user: string;
  password: string;
}

export interface Connections {
  /** Per pooled role, its current login user (a twin after an odd rotation) through PgBouncer. */
  pgbouncer: Record<string, string>;
  /** The superuser straight to PostgreSQL: the admin path, never for an application. */
  admin: string;
  /** The stack CA's certificate (PEM), for sslrootcert. */
  caCertificate: string;
}

/** What the URIs are built from: the stack's own `endpoints`, `credentials` and `caCertificate` outputs. */
export interface ConnectionSources {
  endpoints: { postgres: Endpoint; pgbouncer: Endpoint };
  credentials: { postgres: Login; logins: Readonly<Record<string, Login>> };
  caCertificate: string;
}

/** `postgresql://user:password@host:port/database?sslmode=verify-full`, every part percent-encoded. Pure. */
export function libpqUri(endpoint: Endpoint, login: Login): string {
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) {
    throw new Error(invalid(`port of ${endpoint.host}`, endpoint.port, "a whole number from 1 to 65535"));
  }
  const e = encodeURIComponent;
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  return `postgresql://${e(login.user)}:${e(login.password)}@${host}:${endpoint.port}/${e(endpoint.database)}?sslmode=verify-full`;
}

/** The `connections` output. Pure. */
export function stackConnections(s: ConnectionSources): Connections {
  const pgbouncer: Record<string, string> = {};
  for (const role of POOLED_ROLES) {
    const login = s.credentials.logins[role];
    if (!login) throw new Error(`connections: no login for ${role} in credentials.logins (has: ${Object.keys(s.credentials.logins).join(", ")})`);
    pgbouncer[role] = libpqUri(s.endpoints.pgbouncer, login);
  }
  return { pgbouncer, admin: libpqUri(s.endpoints.postgres, s.credentials.postgres), caCertificate: s.caCertificate };
}
