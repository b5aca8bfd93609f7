/**
 * Monitoring for real, on a stack of its own ("montest": containers kryonix-montest-*, ports picked
 * free on 127.0.0.1, its own file backend and passphrase): `npm run up`, then `npm run health`
 * (ok on the backup `up` made, critical on a lowered threshold, ok after `npm run backup`, and a session really held idle in
 * transaction found with lowered thresholds), then everything removed. Each step prints how long
 * it took.
 */
import { writeFileSync } from "node:fs";
import { Client } from "pg";
import { caFilePath } from "../../io/ca-file";
import { pgSsl } from "../../model/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HealthReport } from "../../checks/health";
import { dockerLeftovers, sh, waitFor } from "../support/process";
import { prometheusGet, prometheusQuery } from "../support/prometheus";
import { openTestStack, testStackName, type TestStack } from "../support/stack";

const STACK = testStackName("montest");
const PREFIX = `kryonix-${STACK}-`;

let t: TestStack;
const timed = <T>(step: string, fn: () => Promise<T> | T) => t.timed(step, fn);

function health(...args: string[]): { code: number; report: HealthReport; out: string } {
  const r = t.npm("health", "--json", ...args);
  let report: HealthReport;
  try {
    report = JSON.parse(r.stdout) as HealthReport;
  } catch {
    throw new Error(`npm run health printed no JSON (exit ${r.code}): ${r.out}`);
  }
  return { code: r.code, report, out: r.out };
}
const finding = (report: HealthReport, check: string) => report.findings.find((f) => f.check === check)!;

const prometheus = async (pathAndQuery: string, auth = true) => prometheusGet(await t.outputs(), pathAndQuery, auth);
const instant = async (query: string) => prometheusQuery(await t.outputs(), query);

beforeAll(async () => {
  t = await openTestStack(STACK, "monitoring test");
});

afterAll(() => {
  t?.dispose();
});

describe.sequential("monitoring, for real", () => {
  it("1. `npm run up` from empty", async () => {
    const up = await timed("npm run up (from empty)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
  });

  it("2. Prometheus on 127.0.0.1 behind basic auth: both exporters' targets up, a real metric from each, the first backup's age recorded and no backup alert", async () => {
    const o = await t.outputs();
    expect(o.endpoints.prometheus.host).toBe("127.0.0.1");
    expect((await prometheus("/api/v1/targets", false)).status).toBe(401);
    let targets: any[] = [];
    await timed("every Prometheus target up", () =>
      waitFor("both targets up", 120_000, async () => {
        targets = (await prometheus("/api/v1/targets")).body.data.activeTargets;
        return targets.length === 2 && targets.every((x) => x.health === "up");
      }),
    );
    expect(targets.map((x) => x.labels.job).sort()).toEqual(["pgbouncer", "postgres"]);
    // postgres_exporter, as kryonix_monitor: PostgreSQL is up, and the custom health query's numbers are there.
    expect((await instant("pg_up"))[0].value[1]).toBe("1");
    expect(Number((await instant("pg_settings_max_connections"))[0].value[1])).toBe(100);
    expect((await instant("kryonix_health_archive_mode_on"))[0].value[1]).toBe("1");
    // The server log's files (kryonix:serverLog = file, the default), read through pg_ls_logdir().
    expect(Number((await instant("kryonix_health_server_log_bytes"))[0].value[1])).toBeGreaterThan(0);
    // pgbouncer_exporter, as kryonix_monitor on the console: PgBouncer's own settings.
    expect((await instant("pgbouncer_up"))[0].value[1]).toBe("1");
    expect(Number((await instant("pgbouncer_config_max_client_connections"))[0].value[1])).toBe(1020);
    // The rules run: `up` made the first full backup (issue 19), so the recorded age turns from -1 (none
    // yet, if Prometheus scraped before the stanza's backup finished) to minutes, and the backup alert is
    // not firing. Its firing at a lowered threshold is step 6.
    let age = Number.NaN;
    await timed("the first backup's age recorded, KryonixBackupTooOld not firing", () =>
      waitFor("a recorded backup age >= 0 and no backup alert", 120_000, async () => {
        const recorded = await instant("kryonix:pg_last_backup_age:seconds");
        age = recorded.length ? Number(recorded[0].value[1]) : Number.NaN;
        const alerts = (await prometheus("/api/v1/alerts")).body?.data?.alerts as { labels: Record<string, string>; state: string }[] | undefined;
        return age >= 0 && !!alerts && !alerts.some((a) => a.labels.alertname === "KryonixBackupTooOld" && a.state === "firing");
      }),
    );
    expect(age).toBeLessThan(1800);
    // The monitoring role's password reaches the exporters as files only, and Prometheus only as a bcrypt hash.
    const secrets = [o.credentials.roles.kryonix_monitor, o.credentials.prometheus.password];
    for (const c of ["postgres-exporter", "pgbouncer-exporter", "prometheus"]) {
      const inspect = sh("docker", ["inspect", `${PREFIX}${c}`]);
      const logs = sh("docker", ["logs", `${PREFIX}${c}`]);
      for (const secret of secrets) {
        expect(inspect.out.includes(secret), `${c} inspect`).toBe(false);
        expect(logs.out.includes(secret), `${c} logs`).toBe(false);
      }
    }
  });

  it("3. `npm run health`: ok on the backup `up` made, critical on a lowered backup threshold (exit 1), ok again after `npm run backup`", async () => {
    const first = await timed("npm run health (the backup made by up)", () => health());
    expect(first.code, first.out).toBe(0);
    expect(first.report.status).toBe("ok");
    expect(finding(first.report, "last backup").severity).toBe("ok");
    expect(finding(first.report, "WAL archiving").severity).toBe("ok");
    expect(first.report.snapshot.connections.max).toBeGreaterThan(0);
    const firstFile = first.report.snapshot.lastBackup.file;
    expect(firstFile).toMatch(/^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/);
    // A backup older than 0.36 s is too old: critical, exit 1.
    const strict = health("--threshold", "backupMaxAgeHours=0.0001");
    expect(strict.code, strict.out).toBe(1);
    expect(strict.report.status).toBe("critical");
    expect(finding(strict.report, "last backup")).toMatchObject({ severity: "critical" });

    const backup = await timed("npm run backup", () => t.npm("backup"));
    expect(backup.code, backup.out).toBe(0);
    const after = await timed("npm run health (after the backup)", () => health());
    expect(after.code, after.out).toBe(0);
    expect(finding(after.report, "last backup").severity).toBe("ok");
    expect(after.report.snapshot.lastBackup.ageSeconds).toBeLessThan(600);
    expect(after.report.snapshot.lastBackup.file).toMatch(/^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/);
    expect(after.report.snapshot.lastBackup.file, "the new backup's history file").not.toBe(firstFile);
    // The log volume's size, under its cap.
    expect(finding(after.report, "server log")).toMatchObject({ severity: "ok", message: expect.stringMatching(/MiB in \d+ file\(s\) in \/var\/log\/postgresql, cap 2048\.0 MiB/) });
    expect(after.report.snapshot.serverLog.bytes).toBeGreaterThan(0);
    // The readable form says the same.
    const text = t.npm("health");
    expect(text.code, text.out).toBe(0);
    expect(text.stdout).toMatch(/^ok\s+last backup\s+finished/m);
    expect(text.stdout).not.toMatch(/SCRAM-SHA-256\$/);
  });

  it("4. a session held idle in transaction through PgBouncer is found (thresholds lowered), then gone", async () => {
    const o = await t.outputs();
    const app = new Client({
      host: "127.0.0.1",
      port: o.endpoints.pgbouncer.port,
      database: o.endpoints.pgbouncer.database,
      user: "kryonix_app",
      password: o.credentials.roles.kryonix_app,
      ssl: pgSsl(o.caCertificate, "127.0.0.1"),
      application_name: "montest-idle",
      connectionTimeoutMillis: 15_000,
    });
    await app.connect();
    try {
      await app.query("BEGIN");
      await app.query("SELECT count(*) FROM core.projects");
      const lowered = ["--threshold", "idleInTransactionWarnSeconds=1", "--threshold", "idleInTransactionCriticalSeconds=2"];
      // The server's own clock decides: poll until the session is older than the lowered threshold.
      let found: ReturnType<typeof health> | undefined;
      await timed("health sees the idle transaction", async () => {
        const end = Date.now() + 60_000;
        while (Date.now() < end) {
          found = health(...lowered);
          if (finding(found.report, "idle in transaction").severity === "critical") return;
        }
        throw new Error(`no critical idle-in-transaction finding within 60 s: ${found?.out}`);
      });
      expect(found!.code).toBe(1);
      expect(finding(found!.report, "idle in transaction").message).toMatch(/kryonix_app, montest-idle\) idle in transaction for/);
      // At the default 5 minutes the same session is not a finding.
      expect(finding(health().report, "idle in transaction").severity).toBe("ok");
    } finally {
      await app.query("ROLLBACK").catch(() => undefined);
      await app.end();
    }
    const clean = health("--threshold", "idleInTransactionWarnSeconds=1", "--threshold", "idleInTransactionCriticalSeconds=2");
    expect(finding(clean.report, "idle in transaction").severity, clean.out).toBe("ok");
  });

  it("5. `npm run test:db:performance`: SHOW matches the tuning, 10x max_connections pgbench clients through PgBouncer with 0 errors, index scans and pruning", async () => {
    const r = await timed("npm run test:db:performance", () => t.npm("test-db-performance", "--json"));
    expect(r.code, r.out).toBe(0);
    const report = JSON.parse(r.stdout) as { results: { check: string; ok: boolean; detail: string }[]; failed: number };
    expect(report.failed).toBe(0);
    const checks = report.results.map((x) => x.check);
    expect(checks).toContain("SHOW shared_buffers");
    expect(checks).toContain("EXPLAIN sessions of a user within a month");
    const bench = report.results.find((x) => x.check.startsWith("pgbench through PgBouncer"))!;
    expect(bench.check).toContain("1000 clients (10x max_connections 100)");
    expect(bench.detail).toMatch(/^10000 transactions, 0 failed/);
  });

  it("6. kryonix:healthThresholds: health and Prometheus' rules judge by the stack's thresholds; Prometheus' samples outlive its replaced container", async () => {
    // One range start for both reads: query_range aligns its points to start + k * step.
    const rangeStart = Math.floor(Date.now() / 1000) - 3600;
    const firstSample = async () => {
      const r = await prometheus(`/api/v1/query_range?query=pg_up&start=${rangeStart}&end=${Math.floor(Date.now() / 1000)}&step=5`);
      const values = (r.body.data.result[0]?.values ?? []) as [number, string][];
      return values.length ? values[0][0] : Number.POSITIVE_INFINITY;
    };
    const before = await firstSample();
    expect(Number.isFinite(before), "pg_up has samples before the change").toBe(true);
    const oldId = sh("docker", ["inspect", "-f", "{{.Id}}", `${PREFIX}prometheus`]).stdout.trim();
    // A backup older than ~4 s is too old for this stack: the last one (step 3) is minutes old.
    // And any server log is over a ten-millionth of its cap.
    await t.stack.setConfig("kryonix:healthThresholds", { value: JSON.stringify({ backupMaxAgeHours: 0.001, serverLogWarnRatio: 0.0000001 }) });
    // A clobbered CA file (what the provider's sslrootcert points at) is put back from the stack's output, not fatal to the refresh.
    writeFileSync(caFilePath(STACK), "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
    const up = await timed("npm run up (kryonix:healthThresholds set)", () => t.npm("up"));
    expect(up.code, up.out).toBe(0);
    expect(up.out).toContain("the stack CA file was missing or unreadable: written again");
    expect(sh("docker", ["inspect", "-f", "{{.Id}}", `${PREFIX}prometheus`]).stdout.trim(), "Prometheus replaced with the new rules").not.toBe(oldId);
    expect((await t.outputs()).monitoringSettings.thresholds.backupMaxAgeHours).toBe(0.001);

    const judged = health();
    expect(judged.code, judged.out).toBe(1);
    expect(judged.report.thresholds.backupMaxAgeHours).toBe(0.001);
    expect(finding(judged.report, "last backup").severity).toBe("critical");
    expect(finding(judged.report, "server log").severity).toBe("warning");
    // A flag still wins over the stack's value.
    const flagged = health("--threshold", "backupMaxAgeHours=26");
    expect(flagged.code, flagged.out).toBe(0);
    // Prometheus alerts on the same threshold, and kept the samples from before its replacement.
    await timed("KryonixBackupTooOld firing at the stack's threshold", () =>
      waitFor("the backup alert at 3.6 s", 120_000, async () => {
        const alerts = (await prometheus("/api/v1/alerts")).body?.data?.alerts as { labels: Record<string, string>; state: string }[] | undefined;
        return !!alerts?.some((a) => a.labels.alertname === "KryonixBackupTooOld" && a.state === "firing");
      }),
    );
    await timed("KryonixServerLogFilling firing at the stack's ratio", () =>
      waitFor("the server log alert", 120_000, async () => {
        const alerts = (await prometheus("/api/v1/alerts")).body?.data?.alerts as { labels: Record<string, string>; state: string }[] | undefined;
        return !!alerts?.some((a) => a.labels.alertname === "KryonixServerLogFilling" && a.state === "firing");
      }),
    );
    expect(await firstSample()).toBeLessThanOrEqual(before);
    expect(sh("docker", ["volume", "inspect", `${PREFIX}prometheus`]).code).toBe(0);
  });

  it("7. `npm run destroy -- --including-data` leaves nothing named like the stack", async () => {
    const destroy = await timed("npm run destroy -- --including-data", () => t.npm("destroy", "--including-data"));
    expect(destroy.code, destroy.out).toBe(0);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
