import type { SqlClient } from "./migration-runner";
import { pgSsl } from "../model/tls";
import { ADMIN_SESSION_OPTIONS } from "../model/tuning";

/** The role initdb creates, the only superuser. */
const SUPERUSER = "postgres";

/** How a dynamic provider reaches PostgreSQL. The password is a Pulumi secret in the resource's inputs. */
export interface PgConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /**
   * The stack CA (PEM, stack output caCertificate). Every connection is TLS, verify-full: the
   * server's certificate must chain to it and name `host`. The servers accept nothing else.
   */
  ca: string;
}

/** A connected client: the SqlClient the runner uses, plus end(). */
export interface PgSession extends SqlClient {
  end(): Promise<void>;
}

/** Opens a connection; the provider ends it. The providers take one (tests inject a fake). */
export type Connect = (connection: PgConnection) => Promise<PgSession>;

export const PG_MISSING =
  "the PostgreSQL client package `pg` (node-postgres) is not installed: add it to versions.json and package.json " +
  "(npm install pg), then run the command again";

/**
 * Opens a node-postgres connection. `pg` is loaded here, when a dynamic
 * provider first needs it, so the program and its tests load without it and
 * the error says what to install.
 */
export async function connectPg(connection: PgConnection, applicationName = "kryonix-pulumi"): Promise<PgSession> {
  let pg: { Client: new (config: object) => PgSession & { connect(): Promise<void> } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    pg = require("pg");
  } catch {
    throw new Error(PG_MISSING);
  }
  const client = new pg.Client({
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: connection.password,
    ssl: pgSsl(connection.ca, connection.host),
    application_name: applicationName,
    // Always explicit, so PGOPTIONS (set for the postgresql provider, toolchain/pulumi-env.ts) is
    // not read: its parameters are the superuser's to set, and another role's login would fail.
    options: connection.user === SUPERUSER ? ADMIN_SESSION_OPTIONS : "-c application_name=" + applicationName,
    // TLS and SCRAM on a loaded 2-core machine took over 15 s (an up failed on "timeout expired");
    // a server that is down is refused at once, so a long wait only ever waits on a slow one.
    connectionTimeoutMillis: 60_000,
  });
  await client.connect();
  return client;
}

/** Runs `work` on a fresh connection and always closes it. */
export async function withPg<T>(connection: PgConnection, work: (client: PgSession) => Promise<T>): Promise<T> {
  const client = await connectPg(connection);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
