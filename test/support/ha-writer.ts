/**
 * The fault tests' writer: numbered single-row INSERTs in autocommit, one after another, through
 * whatever door the test gives (HAProxy's write port, PgBouncer). An id is recorded only once its
 * INSERT returned (in autocommit: its COMMIT); every attempt takes a fresh id, because an INSERT
 * whose answer was lost in flight may have committed anyway. Any error (a refused or cut connection,
 * a timeout, "cannot execute INSERT in a read-only transaction" from a node still starting as a
 * replica) is recorded and the connection dropped; the next attempt connects again.
 *
 * Losses are judged with lostAcked against ids acked before the verifying SELECT was sent: an id
 * acked after the snapshot is not missing, only later.
 */
import pg from "pg";

export interface WriterConnection {
  /** 127.0.0.1: the host reaches the cluster only through ports published there. */
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
  /** false, or TLS verified against `ca` (and `servername` when the certificate names another host than `host`). */
  ssl: false | { ca: string; servername?: string };
}

export interface WriterOptions {
  connection: WriterConnection;
  /** A plain identifier, [a-z_][a-z0-9_]*, optionally schema-qualified (schema.table). */
  table: string;
  /** CREATE TABLE IF NOT EXISTS first (id bigint primary key, at timestamptz, server inet). */
  create?: boolean;
  /** The first id; the next writer on the same table starts after the last one's. Default 1. */
  firstId?: number;
  /** Pause between two attempts; default 20 ms (some 30-40 writes/s with the round trips). */
  pauseMs?: number;
  /** Extra pause after an error, before connecting again; default 100 ms (the resolution of the outage measured). */
  errorPauseMs?: number;
  /** Connect timeout; short, so a dead door is retried soon. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** How long a write may take: the client gives up a second later (query_timeout). Default 5000 ms. */
  statementTimeoutMs?: number;
}

export interface Ack {
  id: number;
  /** Date.now() when the INSERT returned. */
  at: number;
  /** The address of the server that acknowledged it (inet_server_addr()). */
  server: string;
}

export interface WriteError {
  at: number;
  message: string;
}

export interface WriterResult {
  acked: Ack[];
  errors: WriteError[];
  attempts: number;
  /** The next id a writer on the same table may start with. */
  nextId: number;
}

export interface Writer {
  /** Stops after the attempt in flight; the whole record. */
  stop(): Promise<WriterResult>;
  /** Ids acknowledged at or after `t` (Date.now()), in order; ackedSince(0) for all. */
  ackedSince(t: number): number[];
  /** The first acknowledgement after `t`, optionally from a server other than `notServer`. */
  firstAckAfter(t: number, notServer?: string): Ack | undefined;
  /** The first error after `t`. */
  firstErrorAfter(t: number): WriteError | undefined;
  /** The longest time between two acknowledgements (or from `from` to the first one) within [from, to]. */
  longestGap(from: number, to: number): number;
  /** Resolves with the first acknowledgement after `t` (from a server other than `notServer`), or rejects after `deadlineMs`. */
  waitForAckAfter(t: number, deadlineMs: number, notServer?: string): Promise<Ack>;
  readonly record: Readonly<WriterResult>;
}

const TABLE = /^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts writing; resolves once the table exists (when `create`) and the loop has begun. */
export async function startWriter(opts: WriterOptions): Promise<Writer> {
  if (!TABLE.test(opts.table)) throw new Error(`writer table: ${JSON.stringify(opts.table)} is invalid: a plain identifier, [a-z_][a-z0-9_]*, optionally schema-qualified`);
  const statementTimeout = opts.statementTimeoutMs ?? 5000;
  const newClient = () => {
    const c = opts.connection;
    const client = new pg.Client({
      host: c.host,
      port: c.port,
      user: c.user,
      password: c.password,
      database: c.database ?? "postgres",
      ssl: c.ssl === false ? false : { ca: c.ssl.ca, servername: c.ssl.servername, rejectUnauthorized: true },
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000,
      // Not as a startup parameter: PgBouncer refuses statement_timeout there ("unsupported startup
      // parameter"); the client's own timeout bounds a write stuck on a dying server.
      query_timeout: statementTimeout + 1000,
      application_name: "kryonix-ha-writer",
    });
    // A cut session emits 'error' on an idle client: the next query fails and is recorded there.
    client.on("error", () => {});
    return client;
  };

  if (opts.create) {
    const c = newClient();
    await c.connect();
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS ${opts.table} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), server inet DEFAULT inet_server_addr())`);
    } finally {
      await c.end().catch(() => {});
    }
  }

  const record: WriterResult = { acked: [], errors: [], attempts: 0, nextId: opts.firstId ?? 1 };
  let running = true;
  let client: pg.Client | undefined;
  const waiters = new Set<() => void>();
  const drop = () => {
    const c = client;
    client = undefined;
    // end() on a broken connection can hang until its timeout: not awaited.
    c?.end().catch(() => {});
  };

  const loop = (async () => {
    while (running) {
      const id = record.nextId++;
      record.attempts++;
      try {
        if (!client) {
          client = newClient();
          await client.connect();
        }
        const r = await client.query<{ server: string }>(`INSERT INTO ${opts.table} (id) VALUES ($1) RETURNING host(inet_server_addr()) AS server`, [id]);
        record.acked.push({ id, at: Date.now(), server: r.rows[0]?.server ?? "" });
        for (const w of waiters) w();
      } catch (err) {
        record.errors.push({ at: Date.now(), message: (err as Error).message });
        drop();
        // A refused connection fails at once: without a pause the writer would spin.
        await sleep(opts.errorPauseMs ?? 100);
      }
      await sleep(opts.pauseMs ?? 20);
    }
    drop();
  })();

  const firstAckAfter = (t: number, notServer?: string) => record.acked.find((a) => a.at > t && (notServer === undefined || a.server !== notServer));
  return {
    record,
    async stop() {
      running = false;
      await loop;
      return record;
    },
    ackedSince: (t) => record.acked.filter((a) => a.at >= t).map((a) => a.id),
    firstAckAfter,
    firstErrorAfter: (t) => record.errors.find((e) => e.at > t),
    longestGap(from, to) {
      let last = from;
      let gap = 0;
      for (const a of record.acked) {
        if (a.at < from || a.at > to) continue;
        gap = Math.max(gap, a.at - last);
        last = a.at;
      }
      return Math.max(gap, to - last);
    },
    waitForAckAfter(t, deadlineMs, notServer) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const a = firstAckAfter(t, notServer);
          if (!a) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(a);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const last = record.errors.at(-1);
          reject(new Error(`no write acknowledged${notServer ? ` by a server other than ${notServer}` : ""} within ${deadlineMs} ms; last error: ${last ? last.message : "none"}`));
        }, deadlineMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** The ids of `acked` not among `present`: acknowledged writes lost. `acked` must be a snapshot taken before the SELECT of `present`. */
export function lostAcked(acked: readonly number[], present: Iterable<number | string>): number[] {
  const seen = new Set<number>();
  for (const id of present) seen.add(Number(id));
  return acked.filter((id) => !seen.has(id));
}
