/**
 * The Prometheus files the stack renders (render/prometheus.ts), checked by the promtool of our
 * prometheus image: the configuration with its rules, the web configuration, and rule unit tests
 * (`promtool test rules`) that make the alerts fire, or not, at health's thresholds; and the `ha`
 * topology's configuration and cluster alerts (no leader, a lagging replica, a member down, etcd
 * without a leader).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImageTags } from "../../toolchain/image-tags";
import { clusterMembers } from "../../model/cluster";
import { DEFAULT_THRESHOLDS } from "../../model/thresholds";
import { clusterTargets, prometheusRules, renderPrometheusRules, renderPrometheusWebConfig, renderPrometheusYml } from "../../render/prometheus";
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
  writeHaFiles();
});

/** The `ha` stack's prometheus.yml (rules in rules-ha.yml) and rule tests that drive each cluster alert. */
function writeHaFiles(): void {
  const members = clusterMembers("smoke");
  const cluster = { nodes: members.nodes.map((n) => n.name), replicaLagBoundBytes: 1048576 };
  writeFileSync(
    path.join(dir, "prometheus-ha.yml"),
    renderPrometheusYml({ stack: "smoke", postgresExporter: "kryonix-smoke-postgres-exporter:9187", pgbouncerExporter: "kryonix-smoke-pgbouncer-exporter:9127", cluster: clusterTargets(members) }).replace(
      "/etc/kryonix/rules.yml",
      "/etc/kryonix/rules-ha.yml",
    ),
  );
  writeFileSync(path.join(dir, "rules-ha.yml"), renderPrometheusRules(DEFAULT_THRESHOLDS, cluster));
  const description = (alert: string) => prometheusRules(DEFAULT_THRESHOLDS, cluster).groups.flatMap((g) => g.rules).find((r) => r.alert === alert)!.annotations!.description!;
  const quiet = (eval_time: string, alertname: string) => ({ eval_time, alertname, exp_alerts: [] });
  const fires = (eval_time: string, alertname: string, labels: Record<string, string>, summary: string) => ({
    eval_time,
    alertname,
    exp_alerts: [{ exp_labels: labels, exp_annotations: { summary, description: description(alertname) } }],
  });
  const noLeader = "No PostgreSQL node of the cluster is the leader: writes through PgBouncer and HAProxy's write port fail";
  const at = (job: string, member: string, instance: string) => `job="${job}",member="${member}",instance="${instance}",stack="smoke"`;
  const node = (n: number) => at("patroni", `node-${n}`, `kryonix-smoke-postgres-${n}:8008`);
  const etcd = (n: number) => at("etcd", `etcd-${n}`, `kryonix-smoke-etcd-${n}:2379`);
  const slot = (n: number) => `job="postgres",stack="smoke",instance="kryonix-smoke-postgres-exporter:9187",server="kryonix-smoke-haproxy:5000",database="",slot_name="node_${n}"`;
  const tests = {
    rule_files: ["rules-ha.yml"],
    evaluation_interval: "15s",
    group_eval_order: ["kryonix-recording", "kryonix-alerts"],
    tests: [
      {
        interval: "15s",
        input_series: [
          // node-1 leads, then no node does from 45 s to 1m45s, then node-2 does.
          { series: `patroni_primary{${node(1)}}`, values: "1 1 1 0 0 0 0 0 0 0 0 0" },
          { series: `patroni_primary{${node(2)}}`, values: "0 0 0 0 0 0 0 0 1 1 1 1" },
          { series: `patroni_primary{${node(3)}}`, values: "0x11" },
          // node-3's REST API stops answering at 15 s; etcd-2 loses its leader at 15 s.
          { series: `up{${node(1)}}`, values: "1x11" },
          { series: `up{${node(3)}}`, values: "1 0x10" },
          { series: `up{${etcd(1)}}`, values: "1x11" },
          { series: `etcd_server_has_leader{${etcd(1)}}`, values: "1x11" },
          { series: `etcd_server_has_leader{${etcd(2)}}`, values: "1 0x10" },
          // On the leader: node-2's slot 2,000,000 bytes behind from 15 s on, node-3's 100 bytes.
          { series: `pg_replication_slots_pg_wal_lsn_diff{${slot(2)}}`, values: "0 2000000x10" },
          { series: `pg_replication_slots_pg_wal_lsn_diff{${slot(3)}}`, values: "100x11" },
        ],
        alert_rule_test: [
          quiet("1m", "KryonixClusterNoLeader"),
          fires("1m30s", "KryonixClusterNoLeader", { severity: "critical" }, noLeader),
          quiet("2m30s", "KryonixClusterNoLeader"),
          quiet("1m", "KryonixReplicaLagging"),
          fires("1m30s", "KryonixReplicaLagging", { severity: "warning", stack: "smoke", member: "node-2" }, "Replica node-2 is 1.907MiB behind the leader, over the 1.0 MiB bound (kryonix:replicaLagBound)"),
          quiet("1m", "KryonixClusterMemberDown"),
          fires(
            "1m30s",
            "KryonixClusterMemberDown",
            { severity: "critical", job: "patroni", member: "node-3", instance: "kryonix-smoke-postgres-3:8008", stack: "smoke" },
            "Cluster member node-3 (kryonix-smoke-postgres-3:8008) does not answer",
          ),
          // The generic target-down alert leaves the members to theirs.
          quiet("2m45s", "KryonixScrapeTargetDown"),
          quiet("30s", "KryonixEtcdNoLeader"),
          fires("45s", "KryonixEtcdNoLeader", { severity: "critical", job: "etcd", member: "etcd-2", instance: "kryonix-smoke-etcd-2:2379", stack: "smoke" }, "etcd member etcd-2 sees no etcd leader"),
        ],
      },
      {
        // Every node's target down: no patroni_primary series at all is no leader too.
        interval: "15s",
        input_series: [{ series: `up{${node(1)}}`, values: "0x8" }],
        alert_rule_test: [fires("45s", "KryonixClusterNoLeader", { severity: "critical" }, noLeader)],
      },
    ],
  };
  writeFileSync(path.join(dir, "rules-ha.test.yml"), JSON.stringify(tests));
}

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("promtool on the rendered Prometheus files", () => {
  it("accepts the configuration and its rules", () => {
    const r = promtool("check", "config", "/etc/kryonix/prometheus.yml");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("accepts the ha configuration, with its Patroni and etcd targets and the cluster's rules", () => {
    const r = promtool("check", "config", "/etc/kryonix/prometheus-ha.yml");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("fires the cluster's alerts: no leader, a lagging replica, a member down, etcd without a leader (promtool test rules)", () => {
    const r = promtool("test", "rules", "/etc/kryonix/rules-ha.test.yml");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
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
