/**
 * An application's own stack beside kryonix-db. It takes the database stack's `connections`
 * output through a StackReference and connects as an application does: the libpq URI of its role
 * as it is (PgBouncer on 127.0.0.1, sslmode=verify-full), with sslrootcert naming a file that
 * holds the stack CA, since libpq reads the CA only from a file. `session` shows what it saw.
 *
 * It reads the database stack's secrets, so it runs with the same backend and passphrase:
 *
 *   cd examples/app
 *   export PULUMI_BACKEND_URL=file://$PWD/../../.pulumi-state PULUMI_CONFIG_PASSPHRASE_FILE=$PWD/../../.secrets/dev.passphrase
 *   pulumi stack init app-dev && pulumi config set databaseStack organization/kryonix-db/dev
 *   pulumi up && pulumi stack output session
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import type { TLSSocket } from "node:tls";

interface SessionInputs {
  /** libpq URI (a secret: it holds the password). */
  uri: string;
  caCertificate: string;
}

/** What the application's session is, seen from both ends. */
interface Session {
  currentUser: string;
  sessionUser: string;
  database: string;
  /** The address PostgreSQL sees the session come from: PgBouncer's on the stack network, not this host. */
  /** inet_client_addr() as PostgreSQL sees it: null through PgBouncer (its leg is a Unix socket). */
  serverSeesClient: string | null;
  tls: { protocol: string; verified: boolean; serverName: string; issuer: string };
  /** The Node the connection ran on (this program's dynamic provider). */
  node: string;
}

async function openSession(inputs: SessionInputs): Promise<Session> {
  // libpq and node-postgres take the CA as a file (sslrootcert); only this process may read it.
  const dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-app-"));
  const caFile = path.join(dir, "ca.pem");
  writeFileSync(caFile, inputs.caCertificate, { mode: 0o600 });
  const client = new Client({ connectionString: `${inputs.uri}&sslrootcert=${encodeURIComponent(caFile)}`, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    const { rows } = await client.query(
      "SELECT current_user AS current_user, session_user AS session_user, current_database() AS database, host(inet_client_addr()) AS client",
    );
    const socket = (client as unknown as { connection: { stream: TLSSocket } }).connection.stream;
    const peer = socket.getPeerCertificate();
    return {
      currentUser: rows[0].current_user,
      sessionUser: rows[0].session_user,
      database: rows[0].database,
      serverSeesClient: rows[0].client,
      tls: { protocol: socket.getProtocol() ?? "none", verified: socket.authorized, serverName: String(peer.subject?.CN), issuer: String(peer.issuer?.CN) },
      node: process.versions.node,
    };
  } finally {
    await client.end().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Connects on create and whenever the URI or the CA changes (a rotation, a renewed CA). */
const sessionProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: SessionInputs) {
    const session = await openSession(inputs);
    return { id: `${session.sessionUser}/${session.database}`, outs: { session } };
  },
  async update(_id: string, _olds: SessionInputs, news: SessionInputs) {
    return { outs: { session: await openSession(news) } };
  },
};

class DatabaseSession extends pulumi.dynamic.Resource {
  declare public readonly session: pulumi.Output<Session>;
  constructor(name: string, args: { uri: pulumi.Input<string>; caCertificate: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(sessionProvider, name, { ...args, session: undefined }, opts, "app", "DatabaseSession");
  }
}

const config = new pulumi.Config();
const role = config.get("role") ?? "kryonix_app";
const database = new pulumi.StackReference(config.require("databaseStack"));
const connections = database.requireOutput("connections") as pulumi.Output<{ pgbouncer: Record<string, string>; caCertificate: string }>;

const app = new DatabaseSession("database", {
  uri: pulumi.secret(
    connections.apply((c) => {
      const uri = c.pgbouncer[role];
      if (!uri) throw new Error(`kryonix-app:role: "${role}" is not a pooled role of ${config.require("databaseStack")} (connections.pgbouncer has: ${Object.keys(c.pgbouncer).join(", ")})`);
      return uri;
    }),
  ),
  caCertificate: connections.apply((c) => c.caCertificate),
});

export const session = app.session;
/** The Node that ran this program (the language host's). */
export const programNode = process.versions.node;
