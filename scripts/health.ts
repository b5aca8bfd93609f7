/**
 * `npm run health [-- --stack NAME] [--json] [--threshold NAME=VALUE ...]`: reads the monitoring
 * views (sql/006, sql/007) as kryonix_monitor, straight to PostgreSQL on 127.0.0.1 (so a stopped
 * PgBouncer does not hide the server), and judges them (checks/health.ts) by the stack's thresholds
 * (kryonix:healthThresholds, the same its Prometheus alerts on), with any --threshold over them.
 *
 * Exit code: 0 healthy or warnings only, 1 a critical finding, 2 the stack could not be read or
 * reached (or bad arguments).
 */
import { Client } from "pg";
import { pgSsl } from "../model/tls";
import { MONITOR_ROLE } from "../model/database";
import { HEALTH_QUERIES, buildReport, healthExitCode, renderHealth, snapshotFromRows } from "../checks/health";
import { DEFAULT_THRESHOLDS, mergeThresholds, type Thresholds } from "../model/thresholds";
import { runMain } from "../ops/cli";
import { readConnectionTarget, readOutputs } from "../ops/stack-run";
import { parseHealthArgs } from "./args";

async function main(): Promise<number> {
  const options = parseHealthArgs(process.argv.slice(2));
  let client: Client | undefined;
  try {
    // The stack's thresholds (the ones its Prometheus rules alert on), then the flags over them.
    const stackThresholds = ((readOutputs(options.stack) as { monitoringSettings?: { thresholds?: Thresholds } }).monitoringSettings?.thresholds ?? DEFAULT_THRESHOLDS) as Thresholds;
    const merged = mergeThresholds(stackThresholds, options.thresholdFlags, (key) => `--threshold ${key}`);
    if (merged.problems.length) {
      process.stderr.write(`health: ${merged.problems.join("\nhealth: ")}\n`);
      return 2;
    }
    const thresholds = merged.thresholds;
    const target = await readConnectionTarget(options.stack);
    client = new Client({
      ...target.postgres,
      user: MONITOR_ROLE,
      password: target.roles[MONITOR_ROLE],
      // TLS only, verify-full against the stack CA.
      ssl: pgSsl(target.caCertificate, target.postgres.host),
      application_name: "kryonix-health",
      connectionTimeoutMillis: 15_000,
    });
    await client.connect();
    const rows = {} as Record<keyof typeof HEALTH_QUERIES, Record<string, unknown>[]>;
    for (const [key, sql] of Object.entries(HEALTH_QUERIES) as [keyof typeof HEALTH_QUERIES, string][]) rows[key] = (await client.query(sql)).rows;
    const at = (await client.query("SELECT now()::text AS at")).rows[0].at as string;
    const report = buildReport(snapshotFromRows(options.stack, at, rows), thresholds);
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderHealth(report));
    return healthExitCode(report);
  } catch (err) {
    process.stderr.write(`health: stack ${options.stack}: ${(err as Error).message}\n`);
    return 2;
  } finally {
    await client?.end().catch(() => undefined);
  }
}

runMain("health", main);
