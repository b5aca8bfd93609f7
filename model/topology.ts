/**
 * Who reaches whom, by name: the names each server's certificate carries and the servers pgAdmin
 * registers. Containers are addressed by their name on the stack network (config.ts resourceName),
 * the host reaches published ports on 127.0.0.1 only. Pure.
 */
import { clusterMembers } from "./cluster";
import { resourceName, type StackConfig } from "./config";
import { LOOPBACK } from "./containers";
import { DATABASE_NAME, MONITOR_ROLE, PGBOUNCER_PORT, POSTGRES_PORT, SUPERUSER } from "./database";

/** The DNS names and IP addresses a server's certificate names. */
export interface ServerNames {
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * The servers the stack CA issues a certificate for: each by container name and alias on the
 * stack network and as localhost / 127.0.0.1 from the host; the proxy by its public name, unless
 * its certificate comes from config (kryonix:proxyCertificate).
 */
export function serverCertificateNames(config: Pick<StackConfig, "stack" | "pgadminHost" | "proxyCertificate"> & Partial<Pick<StackConfig, "topology">>): Record<string, ServerNames> {
  const onNetwork = (service: "minio" | "postgres" | "pgbouncer"): ServerNames => ({
    dnsNames: [resourceName(config.stack, service), service, "localhost"],
    ipAddresses: [LOOPBACK],
  });
  // ha: every node serves the one certificate, reached by its own name or through HAProxy's
  // (PgBouncer and the exporters verify the name they dialled: HAProxy passes TLS through).
  const cluster = config.topology === "ha" ? clusterMembers(config.stack) : undefined;
  return {
    minio: onNetwork("minio"),
    postgres: cluster
      ? { dnsNames: [cluster.haproxy, ...cluster.nodes.map((n) => n.container), "postgres", "localhost"], ipAddresses: [LOOPBACK] }
      : onNetwork("postgres"),
    pgbouncer: onNetwork("pgbouncer"),
    ...(config.proxyCertificate ? {} : { proxy: { dnsNames: [config.pgadminHost], ipAddresses: [] } }),
  };
}

/** A server pgAdmin shows in its tree. No password is ever in servers.json. */
export interface PgadminServer {
  name: string;
  host: string;
  port: number;
  database: string;
  username: string;
  /** Connect with the password from the uploaded pgpass (PassFile), without a prompt. Default false: pgAdmin asks. */
  passFile?: boolean;
}

/**
 * What pgAdmin registers: browsing, one click away, as the monitoring role (pg_monitor, no write
 * on any schema) through PgBouncer with its password in the pgpass file; and, for DBAs, the
 * superuser straight to PostgreSQL, never stored (pgAdmin asks for the password).
 */
export function pgadminServers(stack: string, server: { host: string; port: number } = { host: resourceName(stack, "postgres"), port: POSTGRES_PORT }): PgadminServer[] {
  return [
    { name: `kryonix ${stack} (PgBouncer)`, host: resourceName(stack, "pgbouncer"), port: PGBOUNCER_PORT, database: DATABASE_NAME, username: MONITOR_ROLE, passFile: true },
    { name: `kryonix ${stack} (PostgreSQL, DBA)`, host: server.host, port: server.port, database: DATABASE_NAME, username: SUPERUSER },
  ];
}
