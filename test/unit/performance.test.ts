import { describe, expect, it } from "vitest";
import { KEY_LOOKUPS, compareSettings, expectedSettings, judgePlan, parsePgbench, sameSetting, scans } from "../../checks/performance";
import { GiB } from "../../model/size";
import { tunePostgres } from "../../model/tuning";

describe("expected settings", () => {
  it("are the tuning function's for the container's limits, with the overrides on top", () => {
    const e = expectedSettings(GiB, 2, "ssd", { work_mem: "8MB" });
    expect(e.shared_buffers).toBe(tunePostgres({ memoryBytes: GiB, cpus: 2, storage: "ssd" }).shared_buffers);
    expect(e.work_mem).toBe("8MB");
  });
  it("compare with SHOW's spelling: sizes in bytes, numbers as numbers, text without case", () => {
    expect(sameSetting("1GB", "1024MB")).toBe(true);
    expect(sameSetting("256MB", "256MB")).toBe(true);
    expect(sameSetting("16MB", "8MB")).toBe(false);
    expect(sameSetting("0.9", "0.90")).toBe(true);
    expect(sameSetting("scram-sha-256", "SCRAM-SHA-256")).toBe(true);
    // A unitless time in the parameter's own unit, as pg_settings.setting gives it.
    expect(sameSetting("500", "500ms", "500")).toBe(true);
    expect(sameSetting("500", "1s", "1000")).toBe(false);
    const rows = compareSettings({ shared_buffers: "256MB", work_mem: "4MB", jit: "off" }, { shared_buffers: "256MB", work_mem: "8MB" });
    expect(rows.map((r) => [r.check, r.ok])).toEqual([
      ["SHOW jit", false],
      ["SHOW shared_buffers", true],
      ["SHOW work_mem", false],
    ]);
    expect(rows[2].detail).toBe("expected 4MB, SHOW gives 8MB");
  });
});

describe("parsePgbench", () => {
  const out = `transaction type: /tmp/x/script.sql
scaling factor: 1
query mode: simple
number of clients: 1000
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 51234
number of failed transactions: 0 (0.000%)
latency average = 190.1 ms
initial connection time = 2012.345 ms
tps = 5123.456789 (without initial connection time)
`;
  it("reads clients, transactions, failures and tps", () => {
    expect(parsePgbench(out)).toEqual({ clients: 1000, processed: 51234, failed: 0, tps: 5123.456789 });
    expect(parsePgbench(out.replace("failed transactions: 0 (0.000%)", "failed transactions: 7 (0.01%)")).failed).toBe(7);
  });
  it("throws when there is no summary", () => {
    expect(() => parsePgbench("pgbench: error: connection to server failed")).toThrow(/no summary/);
  });
});

const node = (type: string, extra: Record<string, unknown> = {}, plans: unknown[] = []) => ({ "Node Type": type, ...extra, Plans: plans });
const sample = { user_id: "u", month_start: "a", month_end: "b", month_partition: "analytics.user_sessions_y2026m11", email: "e", keycloak_id: "k", company_id: "c" };

describe("judgePlan", () => {
  const byEmail = KEY_LOOKUPS.find((l) => l.name === "users by email")!;
  const sessions = KEY_LOOKUPS.find((l) => l.name === "sessions of a user within a month")!;
  it("passes an index scan on the lookup's index", () => {
    const plan = [{ Plan: node("Index Scan", { "Relation Name": "users", Schema: "auth", "Index Name": "users_email_key" }) }];
    expect(scans(plan)).toEqual([{ type: "Index Scan", relation: "auth.users", index: "users_email_key" }]);
    expect(judgePlan(byEmail, plan, sample).ok).toBe(true);
  });
  it("fails a sequential scan", () => {
    const r = judgePlan(byEmail, [{ Plan: node("Seq Scan", { "Relation Name": "users", Schema: "auth" }) }], sample);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/no index scan; a sequential scan/);
  });
  it("passes a bitmap scan of this month's partition only, and fails one that reads the default partition too", () => {
    const month = node("Bitmap Heap Scan", { "Relation Name": "user_sessions_y2026m11", Schema: "analytics" }, [
      node("Bitmap Index Scan", { "Index Name": "user_sessions_y2026m11_user_id_idx" }),
    ]);
    expect(judgePlan(sessions, [{ Plan: month }], sample).ok).toBe(true);
    const both = node("Append", {}, [month, node("Seq Scan", { "Relation Name": "user_sessions_default", Schema: "analytics" })]);
    const r = judgePlan(sessions, [{ Plan: both }], sample);
    expect(r.ok).toBe(false);
    expect(r.detail).toContain("not only analytics.user_sessions_y2026m11");
  });
});

describe("pgbenchExec", () => {
  it("hands the password and the script over on stdin, never on the command line", async () => {
    const { pgbenchExec } = await import("../../render/pgbench");
    const r = pgbenchExec("kryonix-dev-postgres", { host: "kryonix-dev-pgbouncer", port: 6432, user: "kryonix_app", password: "s3cr:et", database: "kryonix_saas" }, ["-n", "-c", "10"], "SELECT 1;\n");
    expect(r.args.slice(0, 6)).toEqual(["exec", "-i", "-u", "postgres", "kryonix-dev-postgres", "bash"]);
    expect(r.args.join(" ")).not.toContain("s3cr");
    expect(r.input).toBe("kryonix-dev-pgbouncer:6432:*:kryonix_app:s3cr\\:et\nSELECT 1;\n");
    expect(r.args[7]).toContain(`head -c ${Buffer.byteLength("kryonix-dev-pgbouncer:6432:*:kryonix_app:s3cr\\:et\n")}`);
    expect(r.args[7]).toMatch(/pgbench -h kryonix-dev-pgbouncer -p 6432 -U kryonix_app -n -c 10 -f "\$dir\/script.sql" kryonix_saas/);
    expect(() => pgbenchExec("c", { host: "h", port: 1, user: "u", password: "p", database: "d" }, ["; rm -rf /"])).toThrow(/pgbench argument/);
  });
});
