/**
 * The Prometheus files the stack renders (render/prometheus.ts), checked by the promtool of our
 * prometheus image: the configuration with its rules, the web configuration, and rule unit tests
 * (`promtool test rules`) that make the alerts fire, or not, at health's thresholds.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImageTags } from "../../toolchain/image-tags";
import { renderPrometheusRules, renderPrometheusWebConfig, renderPrometheusYml } from "../../render/prometheus";
import { sh } from "../support/process";

let dir: string;
let image: string;
const promtool = (...args: string[]) => sh("docker", ["run", "--rm", "--network", "none", "-v", `${dir}:/etc/kryonix:ro`, image, "promtool", ...args]);

beforeAll(() => {
  image = readImageTags().prometheus;
  dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-promtool-"));
  writeFileSync(path.join(dir, "prometheus.yml"), renderPrometheusYml({ stack: "smoke", postgresExporter: "kryonix-smoke-postgres-exporter:9187", pgbouncerExporter: "kryonix-smoke-pgbouncer-exporter:9127" }));
  writeFileSync(path.join(dir, "rules.yml"), renderPrometheusRules());
  writeFileSync(path.join(dir, "web.yml"), renderPrometheusWebConfig("kryonix", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"));
  const series = (name: string, values: string) => ({ series: `${name}{job="postgres",stack="smoke"}`, values });
  const tests = {
    rule_files: ["rules.yml"],
    evaluation_interval: "15s",
    // Without it promtool evaluates the groups in map order, which changes from run to run: when the
    // alerts went first they saw the recorded series one evaluation late, and the test failed at random.
    group_eval_order: ["kryonix-recording", "kryonix-alerts"],
    tests: [
      {
        interval: "15s",
        input_series: [
          series("kryonix_health_idle_in_transaction_max_seconds", "0 400 2000"),
          series("kryonix_health_last_backup_age_seconds", "-1 600 100000"),
          series("kryonix_health_connections_used_ratio", "0.5x30"),
          series("kryonix_health_cache_hit_ratio", "0.9x100"),
          series("kryonix_health_cache_blocks", "50000x100"),
        ],
        alert_rule_test: [
          { eval_time: "0s", alertname: "KryonixIdleInTransaction", exp_alerts: [] },
          { eval_time: "15s", alertname: "KryonixIdleInTransaction", exp_alerts: [{ exp_labels: { severity: "warning", stack: "smoke" }, exp_annotations: { summary: "A session is idle in a transaction for over 5 minutes" } }] },
          { eval_time: "30s", alertname: "KryonixIdleInTransactionCritical", exp_alerts: [{ exp_labels: { severity: "critical", stack: "smoke" }, exp_annotations: { summary: "A session is idle in a transaction for over 30 minutes" } }] },
          { eval_time: "0s", alertname: "KryonixBackupTooOld", exp_alerts: [{ exp_labels: { severity: "critical", stack: "smoke" }, exp_annotations: { summary: "No backup finished in the last 26 hours (or none ever)" } }] },
          { eval_time: "15s", alertname: "KryonixBackupTooOld", exp_alerts: [] },
          { eval_time: "30s", alertname: "KryonixBackupTooOld", exp_alerts: [{ exp_labels: { severity: "critical", stack: "smoke" }, exp_annotations: { summary: "No backup finished in the last 26 hours (or none ever)" } }] },
          { eval_time: "5m", alertname: "KryonixConnectionsHigh", exp_alerts: [] },
          { eval_time: "20m", alertname: "KryonixCacheHitRatioLow", exp_alerts: [{ exp_labels: { severity: "warning", stack: "smoke" }, exp_annotations: { summary: "Cache hit ratio below 0.99" } }] },
        ],
      },
    ],
  };
  writeFileSync(path.join(dir, "rules.test.yml"), JSON.stringify(tests));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("promtool on the rendered Prometheus files", () => {
  it("accepts the configuration and its rules", () => {
    const r = promtool("check", "config", "/etc/kryonix/prometheus.yml");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("accepts the web configuration (basic auth with a bcrypt hash)", () => {
    const r = promtool("check", "web-config", "/etc/kryonix/web.yml");
    expect(r.code, r.out).toBe(0);
  });

  it("fires the alerts at health's thresholds (promtool test rules)", () => {
    const r = promtool("test", "rules", "/etc/kryonix/rules.test.yml");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
  });
});
