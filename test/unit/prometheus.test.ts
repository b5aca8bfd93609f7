import * as yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { DEFAULT_THRESHOLDS } from "../../model/thresholds";
import { clusterMembers } from "../../model/cluster";
import {
  CLUSTER_JOBS,
  clusterTargets,
  patroniSlotName,
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

describe("prometheus.yml on ha", () => {
  const members = clusterMembers("dev");
  const render = (cluster = clusterTargets(members)) =>
    renderPrometheusYml({ stack: "dev", postgresExporter: "kryonix-dev-postgres-exporter:9187", pgbouncerExporter: "kryonix-dev-pgbouncer-exporter:9127", cluster });
  it("scrapes every node's Patroni REST API and every etcd member by container name, one target each with its member's name", () => {
    const c = yaml.load(render()) as any;
    expect(c.scrape_configs.map((s: any) => s.job_name)).toEqual(["postgres", "pgbouncer", CLUSTER_JOBS.patroni, CLUSTER_JOBS.etcd]);
    const targets = (job: string) => c.scrape_configs.find((s: any) => s.job_name === job).static_configs.map((s: any) => [s.targets, s.labels]);
    expect(targets("patroni")).toEqual([1, 2, 3].map((n) => [[`kryonix-dev-postgres-${n}:8008`], { stack: "dev", member: `node-${n}` }]));
    expect(targets("etcd")).toEqual([1, 2, 3].map((n) => [[`kryonix-dev-etcd-${n}:2379`], { stack: "dev", member: `etcd-${n}` }]));
    // The default path: Patroni and etcd both serve /metrics, without authentication, over plain HTTP on the stack network.
    for (const s of c.scrape_configs) expect([s.metrics_path, s.scheme, s.basic_auth]).toEqual([undefined, undefined, undefined]);
  });
  it("renders a single stack's file unchanged without a cluster", () => {
    const single = renderPrometheusYml({ stack: "dev", postgresExporter: "kryonix-dev-postgres-exporter:9187", pgbouncerExporter: "kryonix-dev-pgbouncer-exporter:9127" });
    expect(render()).toContain(single.replace(/\n$/, ""));
    expect(single).not.toMatch(/patroni|etcd|member/);
  });
  it("refuses a cluster without members or with a target that is not host:port", () => {
    const good = clusterTargets(members);
    expect(() => render({ ...good, etcd: [] })).toThrow(/cluster\.etcd: \[\] is invalid: at least one member/);
    expect(() => render({ ...good, patroni: [{ member: "node-1", target: "http://x:8008" }] })).toThrow(/cluster\.patroni\[0\]\.target/);
    expect(() => render({ ...good, patroni: [{ member: "Node 1", target: "x:8008" }] })).toThrow(/cluster\.patroni\[0\]\.member/);
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

describe("rules on ha", () => {
  const cluster = { nodes: ["node-1", "node-2", "node-3"], replicaLagBoundBytes: 1048576 };
  const rules = prometheusRules(DEFAULT_THRESHOLDS, cluster).groups.flatMap((g) => g.rules);
  const rule = (name: string) => rules.find((r) => r.alert === name || r.record === name)!;
  it("alert on no leader, a lagging replica, a member down and etcd without a leader", () => {
    expect([rule("KryonixClusterNoLeader").expr, rule("KryonixClusterNoLeader").for, rule("KryonixClusterNoLeader").labels]).toEqual(["kryonix:patroni_leaders:count == 0", "30s", { severity: "critical" }]);
    // No series at all (every node's target down) counts as no leader.
    expect(rule("kryonix:patroni_leaders:count").expr).toBe("count(patroni_primary == 1) or vector(0)");
    expect([rule("KryonixReplicaLagging").expr, rule("KryonixReplicaLagging").for, rule("KryonixReplicaLagging").labels!.severity]).toEqual(["kryonix:pg_replica_lag:bytes > 1048576", "1m", "warning"]);
    expect(rule("KryonixReplicaLagging").annotations!.summary).toContain("over the 1.0 MiB bound (kryonix:replicaLagBound)");
    expect([rule("KryonixClusterMemberDown").expr, rule("KryonixClusterMemberDown").for, rule("KryonixClusterMemberDown").labels!.severity]).toEqual(['up{job=~"patroni|etcd"} == 0', "1m", "critical"]);
    expect([rule("KryonixEtcdNoLeader").expr, rule("KryonixEtcdNoLeader").labels!.severity]).toEqual(["etcd_server_has_leader == 0", "critical"]);
    for (const name of ["KryonixClusterNoLeader", "KryonixReplicaLagging", "KryonixClusterMemberDown", "KryonixEtcdNoLeader"]) expect(rule(name).annotations!.description).toBeTruthy();
  });
  it("read each replica's lag from its slot on the leader, named by member", () => {
    expect(patroniSlotName("node-2")).toBe("node_2");
    const lag = rule("kryonix:pg_replica_lag:bytes").expr;
    for (const n of [1, 2, 3]) expect(lag).toContain(`pg_replication_slots_pg_wal_lsn_diff{slot_name="node_${n}"}, "member", "node-${n}"`);
    expect(lag).toMatch(/^max by \(stack, member\) \(/);
  });
  it("leave the members to their own alert, not the generic target-down one", () => {
    expect(rule("KryonixScrapeTargetDown").expr).toBe('up{job!~"patroni|etcd"} == 0');
  });
  it("follow the lag bound", () => {
    const r = prometheusRules(DEFAULT_THRESHOLDS, { ...cluster, replicaLagBoundBytes: 16 * 1048576 }).groups.flatMap((g) => g.rules);
    expect(r.find((x) => x.alert === "KryonixReplicaLagging")!.expr).toBe("kryonix:pg_replica_lag:bytes > 16777216");
  });
  it("are the single stack's rules plus the cluster's, and a single stack's are unchanged", () => {
    const single = prometheusRules().groups.flatMap((g) => g.rules);
    expect(single.map((r) => r.alert ?? r.record).filter((n) => /Cluster|Replica|Etcd|patroni|replica/.test(n!))).toEqual([]);
    expect(single.find((r) => r.alert === "KryonixScrapeTargetDown")!.expr).toBe("up == 0");
    const names = (list: typeof rules) => list.map((r) => r.alert ?? r.record);
    expect(names(rules).filter((n) => !names(single).includes(n))).toEqual([
      "kryonix:patroni_leaders:count",
      "kryonix:pg_replica_lag:bytes",
      "KryonixClusterNoLeader",
      "KryonixReplicaLagging",
      "KryonixClusterMemberDown",
      "KryonixEtcdNoLeader",
    ]);
    expect(yaml.load(renderPrometheusRules(DEFAULT_THRESHOLDS, cluster))).toEqual(prometheusRules(DEFAULT_THRESHOLDS, cluster));
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
