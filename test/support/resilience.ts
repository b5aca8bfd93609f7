/**
 * Fault injection for the resilience tests: writers that record every acknowledged commit through
 * PgBouncer (and reconnect after a failure), pgbench writing beside them, SIGKILL of the
 * PostgreSQL container's main process (a crash: Docker's restart policy brings it back, no
 * `docker kill`, which Docker counts as a manual stop), and the check that every acknowledged
 * commit is still there.
 */
import { randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { Client } from "pg";
import { pgSsl } from "../../model/tls";
import { caFilePath } from "../../io/ca-file";
import { sh, sleep, waitFor } from "./process";

export interface Target {
  pgbouncer: { host: string; port: number; database: string };
  postgres: { host: string; port: number; database: string };
  app: { user: string; password: string };
  superuser: { user: string; password: string };
  ca: string;
  /** The CA as a file, for pgbench (libpq). */
  caFile: string;
  postgresContainer: string;
  pgbouncerContainer: string;
}

/** The Target of a test stack from its outputs (secrets shown). */
export function targetFromOutputs(stack: string, o: Record<string, any>): Target {
  const prefix = `kryonix-${stack}-`;
  return {
    pgbouncer: o.endpoints.pgbouncer,
    postgres: o.endpoints.postgres,
    app: { user: "kryonix_app", password: o.credentials.roles.kryonix_app },
    superuser: o.credentials.postgres,
    ca: o.caCertificate,
    caFile: caFilePath(stack),
    postgresContainer: `${prefix}postgres`,
    pgbouncerContainer: `${prefix}pgbouncer`,
  };
}

const client = (t: Target, path: "pgbouncer" | "postgres", who: { user: string; password: string }) =>
  new Client({ ...t[path], ...who, ssl: pgSsl(t.ca, t[path].host), connectionTimeoutMillis: 5_000, query_timeout: 10_000, application_name: "kryonix-resilience" });

/** The table the writers and pgbench write to, writable by the application role. */
export async function prepare(t: Target): Promise<void> {
  const c = client(t, "postgres", t.superuser);
  await c.connect();
  try {
    await c.query(`CREATE SCHEMA IF NOT EXISTS resilience;
      CREATE TABLE IF NOT EXISTS resilience.acks (id uuid PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE TABLE IF NOT EXISTS resilience.bench (n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v double precision);
      GRANT USAGE ON SCHEMA resilience TO ${t.app.user};
      GRANT SELECT, INSERT ON resilience.acks, resilience.bench TO ${t.app.user};`);
  } finally {
    await c.end();
  }
}

/** Writers through PgBouncer: each commit acknowledged to the client is recorded in `acked`. */
export class Writers {
  readonly acked: string[] = [];
  readonly errors: string[] = [];
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly t: Target, private readonly count = 4) {}

  start(): void {
    for (let i = 0; i < this.count; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const c = client(this.t, "pgbouncer", this.t.app);
      c.on("error", () => undefined);
      try {
        await c.connect();
        while (!this.stopped) {
          const id = randomUUID();
          await c.query("INSERT INTO resilience.acks (id) VALUES ($1)", [id]);
          this.acked.push(id);
          await sleep(5);
        }
      } catch (err) {
        this.errors.push((err as Error).message);
        await sleep(200);
      } finally {
        await c.end().catch(() => undefined);
      }
    }
  }

  /** Waits until `n` more commits were acknowledged than now. */
  async progress(n: number, deadlineMs: number): Promise<void> {
    const from = this.acked.length;
    try {
      await waitFor(`${n} more acknowledged commits`, deadlineMs, () => this.acked.length >= from + n);
    } catch (err) {
      throw new Error(`${(err as Error).message}; ${this.acked.length - from} came; last writer errors: ${this.errors.slice(-3).join(" | ")}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

/** pgbench through PgBouncer (verify-full) for `seconds`, or until the server goes away; resolves with the transactions it reported as processed. */
export function pgbench(t: Target, seconds: number): Promise<{ processed: number; out: string }> {
  return new Promise((resolve) => {
    const script = "INSERT INTO resilience.bench (v) VALUES (random());\n";
    const child = spawn(
      "bash",
      ["-c", `f=$(mktemp); printf '%s' "$SCRIPT" > "$f"; pgbench -n -c 2 -j 1 -T ${seconds} -f "$f" -h ${t.pgbouncer.host} -p ${t.pgbouncer.port} -U ${t.app.user} ${t.pgbouncer.database}; rc=$?; rm -f "$f"; exit $rc`],
      { env: { ...process.env, SCRIPT: script, PGPASSWORD: t.app.password, PGSSLMODE: "verify-full", PGSSLROOTCERT: t.caFile, PGCONNECT_TIMEOUT: "10" } },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", () => {
      const m = /number of transactions actually processed: (\d+)/.exec(out);
      resolve({ processed: m ? Number(m[1]) : 0, out });
    });
  });
}

function health(container: string): string {
  return sh("docker", ["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} {{.RestartCount}} {{.State.Pid}}", container]).stdout.trim();
}

/**
 * SIGKILL to the container's main process (PostgreSQL's postmaster) from the host, then the time
 * until Docker reports it healthy again and a write through PgBouncer is acknowledged.
 */
export async function crashPostgres(t: Target, writers: Writers, deadlineMs = 180_000): Promise<{ healthySeconds: number; writableSeconds: number; restarts: number }> {
  const [, , restartsBefore, pid] = health(t.postgresContainer).split(" ");
  const t0 = Date.now();
  process.kill(Number(pid), "SIGKILL");
  await waitFor(`${t.postgresContainer} restarted`, deadlineMs, () => Number(health(t.postgresContainer).split(" ")[2]) > Number(restartsBefore));
  await waitFor(`${t.postgresContainer} healthy`, deadlineMs, () => health(t.postgresContainer).startsWith("running healthy"));
  const healthySeconds = (Date.now() - t0) / 1000;
  await writers.progress(1, deadlineMs);
  return { healthySeconds, writableSeconds: (Date.now() - t0) / 1000, restarts: Number(health(t.postgresContainer).split(" ")[2]) };
}

/** How many of `ids` are in resilience.acks. */
export async function countPresent(t: Target, ids: readonly string[]): Promise<number> {
  const c = client(t, "postgres", t.superuser);
  await c.connect();
  try {
    let found = 0;
    for (let i = 0; i < ids.length; i += 5000) {
      const { rows } = await c.query("SELECT count(*)::int AS n FROM resilience.acks WHERE id = ANY($1::uuid[])", [ids.slice(i, i + 5000)]);
      found += rows[0].n;
    }
    return found;
  } finally {
    await c.end();
  }
}

export async function benchRows(t: Target): Promise<number> {
  const c = client(t, "postgres", t.superuser);
  await c.connect();
  try {
    return (await c.query("SELECT count(*)::int AS n FROM resilience.bench")).rows[0].n;
  } finally {
    await c.end();
  }
}

export interface KillReport {
  kills: number;
  acknowledged: number;
  found: number;
  pgbenchProcessed: number;
  pgbenchRows: number;
  healthySeconds: number[];
  writableSeconds: number[];
  writerErrors: number;
}

/** `kills` crashes of PostgreSQL while the writers and pgbench write through PgBouncer. */
export async function killLoop(t: Target, kills: number, log: (line: string) => void): Promise<KillReport> {
  await prepare(t);
  const writers = new Writers(t);
  writers.start();
  const healthy: number[] = [];
  const writable: number[] = [];
  let processed = 0;
  try {
    for (let i = 1; i <= kills; i++) {
      await writers.progress(50, 120_000);
      const bench = pgbench(t, 20);
      // pgbench has connected and is writing: the crash comes in the middle of its transactions.
      await sleep(2_000);
      const r = await crashPostgres(t, writers);
      healthy.push(r.healthySeconds);
      writable.push(r.writableSeconds);
      const b = await bench;
      processed += b.processed;
      log(`kill ${i}/${kills}: healthy after ${r.healthySeconds.toFixed(1)} s, writes acknowledged again after ${r.writableSeconds.toFixed(1)} s; pgbench processed ${b.processed} before the crash; ${writers.acked.length} acknowledged so far`);
    }
    await writers.progress(20, 120_000);
  } finally {
    await writers.stop();
  }
  return {
    kills,
    acknowledged: writers.acked.length,
    found: await countPresent(t, writers.acked),
    pgbenchProcessed: processed,
    pgbenchRows: await benchRows(t),
    healthySeconds: healthy,
    writableSeconds: writable,
    writerErrors: writers.errors.length,
  };
}

/** PgBouncer restarted (`docker restart`, its safe SIGINT shutdown) under load: the writers reconnect and keep committing. */
export async function restartPgbouncer(t: Target): Promise<{ acknowledged: number; found: number; seconds: number; writerErrors: number }> {
  await prepare(t);
  const writers = new Writers(t);
  writers.start();
  let seconds = 0;
  try {
    await writers.progress(50, 120_000);
    const t0 = Date.now();
    const r = sh("docker", ["restart", "-t", "30", t.pgbouncerContainer]);
    if (r.code !== 0) throw new Error(`docker restart ${t.pgbouncerContainer}: ${r.out}`);
    await writers.progress(50, 120_000);
    seconds = (Date.now() - t0) / 1000;
  } finally {
    await writers.stop();
  }
  return { acknowledged: writers.acked.length, found: await countPresent(t, writers.acked), seconds, writerErrors: writers.errors.length };
}
