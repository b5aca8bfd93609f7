import * as yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLDS } from "../../model/thresholds";
import {
  spokenDuration,
  HEALTH_METRIC,
  PROMETHEUS_RULES_FILE,
  pgbouncerExporterDsn,
  prometheusRules,
  renderExporterQueries,
  renderPrometheusRules,
  renderPrometheusWebConfig,
  renderPrometheusYml,
} from "../../render/prometheus";

const HASH = `$2a$10$${"a".repeat(53)}`;

describe("prometheus.yml", () => {
  it("scrapes the two exporters by name with the stack as a label, and loads the rules", () => {
    const c = yaml.load(renderPrometheusYml({ stack: "dev", postgresExporter: "kryonix-dev-postgres-exporter:9187", pgbouncerExporter: "kryonix-dev-pgbouncer-exporter:9127" })) as any;
    expect(c.rule_files).toEqual([PROMETHEUS_RULES_FILE]);
    expect(c.scrape_configs.map((s: any) => [s.job_name, s.static_configs[0].targets, s.static_configs[0].labels.stack])).toEqual([
      ["postgres", ["kryonix-dev-postgres-exporter:9187"], "dev"],
      ["pgbouncer", ["kryonix-dev-pgbouncer-exporter:9127"], "dev"],
    ]);
    expect(c.global.scrape_interval).toBe("15s");
  });
  it("refuses a target that is not host:port, or a bad interval", () => {
    expect(() => renderPrometheusYml({ stack: "dev", postgresExporter: "http://x:1", pgbouncerExporter: "a:1" })).toThrow(/postgresExporter/);
    expect(() => renderPrometheusYml({ stack: "dev", postgresExporter: "a:1", pgbouncerExporter: "a:1", scrapeIntervalSeconds: 0 })).toThrow(/scrape interval/);
  });
});

describe("web configuration", () => {
  it("holds the user and the bcrypt hash only", () => {
    const text = renderPrometheusWebConfig("kryonix", HASH);
    expect((yaml.load(text) as any).basic_auth_users).toEqual({ kryonix: HASH });
  });
  it("refuses anything but a bcrypt hash, without echoing it", () => {
    expect(() => renderPrometheusWebConfig("kryonix", "plain-password")).toThrow(/not a bcrypt hash \(value not shown\)/);
    expect(() => renderPrometheusWebConfig("kryonix", "plain-password")).not.toThrow(/plain-password/);
    expect(() => renderPrometheusWebConfig("Bad User", HASH)).toThrow(/prometheus web user/);
  });
});

describe("rules", () => {
  it("alert at health's thresholds", () => {
    const rules = prometheusRules().groups.flatMap((g) => g.rules);
    const expr = (alert: string) => rules.find((r) => r.alert === alert)!.expr;
    expect(expr("KryonixConnectionsHigh")).toContain(`> ${DEFAULT_THRESHOLDS.connectionsWarnRatio}`);
    expect(expr("KryonixConnectionsCritical")).toContain("> 0.95");
    expect(expr("KryonixCacheHitRatioLow")).toContain("< 0.99");
    expect(expr("KryonixIdleInTransaction")).toContain("> 300");
    expect(expr("KryonixBackupTooOld")).toContain(`> ${26 * 3600}`);
    expect(expr("KryonixBackupTooOld")).toContain("< 0");
    for (const r of rules.filter((x) => x.alert)) expect(["warning", "critical"]).toContain(r.labels!.severity);
    expect(rules.filter((r) => r.record).every((r) => r.record!.startsWith("kryonix:"))).toBe(true);
  });
  it("follow lowered thresholds", () => {
    const rules = prometheusRules({ ...DEFAULT_THRESHOLDS, idleInTransactionWarnSeconds: 7 }).groups.flatMap((g) => g.rules);
    expect(rules.find((r) => r.alert === "KryonixIdleInTransaction")!.expr).toContain("> 7");
  });
  it("render as YAML that reads back the same", () => {
    expect(yaml.load(renderPrometheusRules())).toEqual(prometheusRules());
  });
});

describe("exporter queries", () => {
  it("name one GAUGE per column of the health query, read from the monitoring views", () => {
    const q = (yaml.load(renderExporterQueries()) as any)[HEALTH_METRIC];
    expect(q.master).toBe(true);
    const columns = q.metrics.map((m: object) => Object.keys(m)[0]);
    for (const c of columns) expect(q.query).toContain(` AS ${c}`);
    expect(columns).toContain("last_backup_age_seconds");
    expect(q.metrics.every((m: any) => Object.values(m).every((v: any) => v.usage === "GAUGE"))).toBe(true);
    // Every metric the rules use exists.
    const used = [...renderPrometheusRules().matchAll(new RegExp(`${HEALTH_METRIC}_([a-z_]+)`, "g"))].map((m) => m[1]);
    for (const u of used) expect(columns).toContain(u);
  });
});

describe("pgbouncer exporter DSN", () => {
  it("names the console database and no password", () => {
    expect(pgbouncerExporterDsn("kryonix-dev-pgbouncer", 6432, "kryonix_monitor")).toBe("postgres://kryonix_monitor@kryonix-dev-pgbouncer:6432/pgbouncer?sslmode=verify-full&sslrootcert=/etc/kryonix/tls/ca.crt");
    expect(() => pgbouncerExporterDsn("bad host", 6432, "m")).toThrow(/host:port/);
  });
});

describe("alert summaries follow the thresholds", () => {
  it("say durations as a person would", () => {
    expect([300, 1800, 60, 3600, 93_600, 3.6, 90].map(spokenDuration)).toEqual(["5 minutes", "30 minutes", "a minute", "an hour", "26 hours", "3.6 seconds", "90 seconds"]);
  });
  it("name the stack's own values, not the defaults", () => {
    const text = renderPrometheusRules({ ...DEFAULT_THRESHOLDS, connectionsWarnRatio: 0.7, backupMaxAgeHours: 50 });
    expect(text).toContain("Client connections above 70% of max_connections");
    expect(text).toContain("No backup finished in the last 50 hours (or none ever)");
    expect(text).toContain("kryonix:pg_last_backup_age:seconds > 180000");
  });
});
