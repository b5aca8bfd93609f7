/**
 * `npm run test:db:performance [-- --stack NAME] [--json] [--transactions N]`: checks a running stack
 * (dev by default), with no timing threshold:
 *
 * 1. the tuned settings are active: SHOW gives what model/tuning.ts computes for the postgres
 *    container's real memory and CPU limits (docker inspect) with the stack's overrides;
 * 2. ten times max_connections clients run pgbench through PgBouncer (from inside the postgres
 *    container, to PgBouncer by name on the stack network) with zero errors;
 * 3. EXPLAIN of the seed's key lookups uses index scans and partition pruning, on sample rows
 *    written and ANALYZEd in a transaction that is rolled back.
 *
 * Prints a table and `N passed, M failed` (or JSON). Exit code: 0 all passed, 1 any failed, 2 the
 * stack could not be read or reached. No password is printed.
 */
import { runDocker } from "../io/docker-cli";
import { Client } from "pg";
import { APP_ROLE, DATABASE_NAME, PGBOUNCER_PORT } from "../model/database";
import { resourceName } from "../model/config";
import { pgbenchExec } from "../render/pgbench";
import {
  type CheckRow,
  KEY_LOOKUPS,
  PGBENCH_SCRIPT,
  SAMPLE_DATA_SQL,
  SAMPLE_SQL,
  compareSettings,
  expectedSettings,
  judgePlan,
  parsePgbench,
} from "../checks/performance";
import { runMain } from "../ops/cli";
import { parsePerformanceArgs } from "./args";
import { readOutputs, stackCli } from "../ops/stack-run";
import { pgSsl, postgresTlsParameters } from "../model/tls";
import { containerParameters, type Storage } from "../model/tuning";

async function main(): Promise<number> {
  const options = parsePerformanceArgs(process.argv.slice(2));
  const { stack } = options;
  let o: any;
  let env: NodeJS.ProcessEnv;
  try {
    o = readOutputs(stack);
    env = stackCli(stack).env;
    if (!o.tuning) throw new Error(`stack ${stack} has no tuning output: run \`npm run up -- --stack ${stack}\` with this version first`);
  } catch (err) {
    process.stderr.write(`test:db:performance: ${(err as Error).message}\n`);
    return 2;
  }
  const pgContainer = resourceName(stack, "postgres");
  const rows: CheckRow[] = [];
  const superuser = new Client({ ...o.endpoints.postgres, user: o.credentials.postgres.user, password: o.credentials.postgres.password, ssl: pgSsl(o.caCertificate, o.endpoints.postgres.host), application_name: "kryonix-test-performance", connectionTimeoutMillis: 15_000 });
  try {
    await superuser.connect();
  } catch (err) {
    process.stderr.write(`test:db:performance: cannot connect to stack ${stack}: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    // 1. Settings.
    const inspect = runDocker(["inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", pgContainer], { env });
    const [memoryBytes, nanoCpus] = inspect.stdout.trim().split(" ").map(Number);
    if (inspect.code !== 0 || !(memoryBytes > 0) || !(nanoCpus > 0)) {
      rows.push({ check: "container limits", ok: false, detail: `docker inspect ${pgContainer}: ${(inspect.stderr || inspect.stdout).trim()}` });
    } else {
      // As components/postgres.ts writes postgresql.conf: the tuning, the container's listen addresses, TLS.
      const expected = {
        ...expectedSettings(memoryBytes, nanoCpus / 1e9, o.tuning.storage as Storage, o.tuning.overrides ?? {}),
        ...containerParameters(pgContainer),
        ...postgresTlsParameters(),
      };
      const shown: Record<string, string> = {};
      const raw: Record<string, string> = {};
      for (const name of Object.keys(expected)) {
        const r = (await superuser.query("SELECT current_setting($1) AS v, (SELECT setting FROM pg_settings WHERE name = $1) AS raw", [name])).rows[0];
        shown[name] = r.v;
        raw[name] = r.raw;
      }
      rows.push({ check: "container limits", ok: true, detail: `${memoryBytes / 1024 / 1024} MiB, ${nanoCpus / 1e9} CPUs, storage ${o.tuning.storage}` });
      rows.push(...compareSettings(expected, shown, raw));
    }

    // 3. Plans, on sample rows that are rolled back.
    await superuser.query("BEGIN");
    try {
      await superuser.query(SAMPLE_DATA_SQL);
      const sample = (await superuser.query(SAMPLE_SQL)).rows[0] as Record<string, string>;
      for (const lookup of KEY_LOOKUPS) {
        const plan = (await superuser.query(`EXPLAIN (VERBOSE, FORMAT JSON) ${lookup.sql}`, lookup.params(sample))).rows[0]["QUERY PLAN"];
        rows.push(judgePlan(lookup, plan, sample));
      }
    } finally {
      await superuser.query("ROLLBACK");
    }

    // 2. pgbench through PgBouncer, 10x max_connections clients.
    const maxConnections = Number((await superuser.query("SHOW max_connections")).rows[0].max_connections);
    const clients = maxConnections * options.clientsFactor;
    const bouncer = resourceName(stack, "pgbouncer");
    const run = pgbenchExec(
      pgContainer,
      { host: bouncer, port: PGBOUNCER_PORT, user: APP_ROLE, password: o.credentials.roles[APP_ROLE], database: DATABASE_NAME },
      ["-n", "-c", String(clients), "-j", "4", "-t", String(options.transactions)],
      PGBENCH_SCRIPT,
    );
    const bench = runDocker(run.args, { env, input: run.input, timeoutMs: 900_000 });
    const out = bench.out;
    try {
      const s = parsePgbench(out);
      const errors = out.split("\n").filter((l) => /error|FATAL|aborted/i.test(l));
      const ok = bench.code === 0 && s.failed === 0 && s.clients === clients && errors.length === 0 && s.processed === clients * options.transactions;
      rows.push({
        check: `pgbench through PgBouncer, ${clients} clients (${options.clientsFactor}x max_connections ${maxConnections}), ${options.transactions} transactions each`,
        ok,
        detail: `${s.processed} transactions, ${s.failed} failed, ${s.tps.toFixed(0)} tps, exit ${bench.code}${errors.length ? `; ${errors.slice(0, 3).join(" | ")}` : ""}`,
      });
    } catch (err) {
      rows.push({ check: `pgbench through PgBouncer, ${clients} clients`, ok: false, detail: (err as Error).message.slice(0, 500) });
    }
  } catch (err) {
    rows.push({ check: "run", ok: false, detail: (err as Error).message });
  } finally {
    await superuser.end().catch(() => undefined);
  }

  const passed = rows.filter((r) => r.ok).length;
  const failed = rows.length - passed;
  const secrets = [o.credentials.postgres.password, ...Object.values(o.credentials.roles as Record<string, string>)];
  let text = options.json
    ? `${JSON.stringify({ stack, results: rows, passed, failed }, null, 2)}\n`
    : `${rows.map((r) => `${r.ok ? "PASS" : "FAIL"}  ${r.check.padEnd(60)}  ${r.detail}`).join("\n")}\n\n${passed} passed, ${failed} failed\n`;
  for (const s of secrets) if (s) text = text.split(s).join("***");
  process.stdout.write(text);
  return failed === 0 ? 0 : 1;
}

runMain("test:db:performance", main);
