import * as pulumiRuntime from "@pulumi/pulumi/runtime";
import { describe, expect, it } from "vitest";
import { planningFlags } from "../../lib/guarded-run";
import {
  ALLOW_ENV,
  RULES,
  UNKNOWN,
  isAllowed,
  isStateful,
  leaves,
  parseAllowEnv,
  parseUrn,
  portViolations,
  privilegeViolations,
  secretViolations,
  statefulViolations,
} from "../../lib/policy";
import { grouped, kindOf, parsePreviewEvents, policyPlan, renderSummary } from "../../lib/preview-summary";

const urn = (type: string, name: string, parent = "") => `urn:pulumi:prod::kryonix-db::${parent ? `${parent}$` : ""}${type}::${name}`;
const VOLUME = urn("docker:index/volume:Volume", "postgres-data", "kryonix:db:Postgres");
const PG = urn("docker:index/container:Container", "postgres", "kryonix:db:Postgres");
const PGB = urn("docker:index/container:Container", "pgbouncer", "kryonix:db:Pgbouncer");
const secret = (value: unknown) => ({ [pulumiRuntime.specialSigKey]: pulumiRuntime.specialSecretSig, value });

describe("policy rules (lib/policy.ts)", () => {
  it("parses URNs and tells stateful resources: volumes, the PostgreSQL container, the database", () => {
    expect(parseUrn(VOLUME)).toMatchObject({ stack: "prod", type: "docker:index/volume:Volume", name: "postgres-data" });
    expect(isStateful(VOLUME)).toBe(true);
    expect(isStateful(urn("docker:index/volume:Volume", "minio-data", "kryonix:db:Minio"))).toBe(true);
    expect(isStateful(PG)).toBe(true);
    expect(isStateful(urn("postgresql:index/database:Database", "database-kryonix_saas", "kryonix:db:Database"))).toBe(true);
    expect(isStateful(PGB)).toBe(false);
    expect(isStateful(urn("postgresql:index/grant:Grant", "g"))).toBe(false);
  });

  it("stateful-resources-kept: replace or delete of a stateful resource fails in a protected stack only, unless allowed", () => {
    const plan = { stack: "prod", protectedStack: true, steps: [
      { urn: VOLUME, op: "delete" },
      { urn: PG, op: "create-replacement" },
      { urn: PG, op: "replace" },
      { urn: PG, op: "delete-replaced" },
      { urn: PGB, op: "replace" },
      { urn: urn("docker:index/volume:Volume", "minio-data"), op: "update" },
    ] };
    const v = statefulViolations(plan);
    expect(v.map((x) => x.urn)).toEqual([VOLUME, PG]);
    expect(v[0].message).toContain("would delete postgres-data");
    expect(v[0].message).toContain(`${ALLOW_ENV}=stateful-resources-kept=postgres-data`);
    expect(v[0].message).toContain("policy/allow.prod.json");
    expect(v[1].message).toContain("would replace postgres");
    expect(statefulViolations({ ...plan, protectedStack: false })).toEqual([]);
    expect(statefulViolations(plan, ["postgres-data", PG]).length).toBe(0);
  });

  it("ports-on-loopback: a port without an address or on 0.0.0.0 fails", () => {
    expect(portViolations(PGB, { name: "kryonix-dev-pgbouncer", ports: [{ internal: 6432, external: 16432, ip: "127.0.0.1" }] }, "dev")).toEqual([]);
    const v = portViolations(PGB, { name: "kryonix-dev-pgbouncer", ports: [{ internal: 6432, external: 16432, ip: "0.0.0.0" }, { internal: 1, external: 2 }] }, "dev");
    expect(v).toHaveLength(2);
    expect(v[0]).toContain("publishes port 16432 on 0.0.0.0");
    expect(v[1]).toContain("every address");
    expect(v[0]).toContain("ports-on-loopback=kryonix-dev-pgbouncer");
  });

  it("no-privileged-or-host-network: privileged, host network, host PID or IPC fail", () => {
    expect(privilegeViolations(PGB, { name: "x", privileged: false, networkMode: "bridge" }, "dev")).toEqual([]);
    const v = privilegeViolations(PGB, { name: "x", privileged: true, networkMode: "host", pidMode: "host", ipcMode: "host" }, "dev");
    expect(v).toHaveLength(4);
    expect(v[0]).toMatch(/runs privileged.*no-privileged-or-host-network=x/);
  });

  it("secrets-stay-secret: reads the secret markers of the raw properties", () => {
    expect(leaves({ a: secret("s"), b: ["x", secret({ c: "y" })] })).toEqual([
      { path: ["a"], value: "s", secret: true },
      { path: ["b", 0], value: "x", secret: false },
      { path: ["b", 1, "c"], value: "y", secret: true },
    ]);
    expect(secretViolations("postgresql:index/role:Role", { name: "r", password: secret("p") })).toEqual([]);
    expect(secretViolations("postgresql:index/role:Role", { name: "r", password: "p" })).toEqual(["password is not a secret"]);
    // Unknown during a preview, or a setting that is not a secret: no violation.
    expect(secretViolations("postgresql:index/role:Role", { password: UNKNOWN })).toEqual([]);
    expect(secretViolations("random:index/randomPassword:RandomPassword", { length: 32, overrideSpecial: "_-" })).toEqual([]);
    expect(secretViolations("tls:index/locallySignedCert:LocallySignedCert", { caPrivateKeyPem: "-----BEGIN" })).toEqual(["caPrivateKeyPem is not a secret"]);
    const container = "docker:index/container:Container";
    expect(secretViolations(container, { uploads: [{ file: "/run/kryonix/tls/server.key", content: "k" }, { file: "/etc/postgresql/postgresql.conf", content: "x=1" }] })).toEqual([
      "uploads.0.content (the file /run/kryonix/tls/server.key) is not a secret",
    ]);
    expect(secretViolations(container, { uploads: secret([{ file: "/run/kryonix/tls/server.key", content: "k" }]) })).toEqual([]);
    expect(secretViolations(container, { envs: ["PGADMIN_DEFAULT_EMAIL=a@b.c", "POSTGRES_PASSWORD=hunter2"] })).toEqual([
      "envs.1 (environment POSTGRES_PASSWORD) holds a secret in clear: upload it as a file, a Pulumi secret",
    ]);
  });

  it("allows on purpose: KRYONIX_POLICY_ALLOW for one run, by URN, URN name or Docker name", () => {
    expect(parseAllowEnv("stateful-resources-kept=postgres-data, ports-on-loopback=kryonix-prod-proxy")).toEqual({
      allow: { [RULES.statefulKept]: ["postgres-data"], [RULES.loopbackPorts]: ["kryonix-prod-proxy"] },
      problems: [],
    });
    expect(parseAllowEnv("everything").problems[0]).toContain("is not rule=resource");
    expect(parseAllowEnv(undefined)).toEqual({ allow: {}, problems: [] });
    expect(isAllowed(["postgres-data"], VOLUME)).toBe(true);
    expect(isAllowed([VOLUME], VOLUME)).toBe(true);
    expect(isAllowed(["kryonix-prod-proxy"], PGB, "kryonix-prod-proxy")).toBe(true);
    expect(isAllowed(["minio-data"], VOLUME)).toBe(false);
    expect(isAllowed(undefined, VOLUME)).toBe(false);
  });
});

const ev = (o: object) => JSON.stringify(o);
const pre = (op: string, u: string, extra: object = {}) => ev({ resourcePreEvent: { metadata: { op, urn: u, type: parseUrn(u).type, ...extra } } });
const EVENTS = [
  "not json",
  pre("same", urn("docker:index/network:Network", "kryonix-prod-net")),
  pre("create", urn("postgresql:index/grant:Grant", "g1")),
  pre("update", PGB, { diffs: ["envs"], detailedDiff: { "envs[0]": { kind: "update" } } }),
  pre("create-replacement", PG, { detailedDiff: { image: { kind: "update-replace" } } }),
  pre("replace", PG, { detailedDiff: { image: { kind: "update-replace" } } }),
  pre("delete-replaced", PG),
  pre("delete", VOLUME, { old: { protect: true } }),
  ev({ policyEvent: { resourceUrn: PGB, message: "desc\nkryonix-prod-pgbouncer publishes port 1 on 0.0.0.0", policyName: "ports-on-loopback", policyPackName: "kryonix", policyPackVersion: "0.1.0", enforcementLevel: "mandatory" } }),
  ev({ policyAnalyzeSummaryEvent: { resourceUrn: PGB, policyPackName: "kryonix", policyPackVersion: "0.1.0", passed: ["secrets-stay-secret"], failed: ["ports-on-loopback"] } }),
  ev({ policyAnalyzeSummaryEvent: { resourceUrn: PG, policyPackName: "kryonix", policyPackVersion: "0.1.0", passed: ["secrets-stay-secret", "ports-on-loopback"] } }),
  ev({ diagnosticEvent: { message: "preview failed\n", severity: "error" } }),
  ev({ summaryEvent: { resourceChanges: { create: 1, update: 1, replace: 1, delete: 1, same: 1 }, result: "failed" } }),
].join("\n");

describe("preview summary (lib/preview-summary.ts)", () => {
  const report = parsePreviewEvents("prod", EVENTS);

  it("one step per resource, a replacement counted once, stateful and protected marked", () => {
    expect(kindOf("delete-replaced")).toBe("replace");
    expect(kindOf("same")).toBeUndefined();
    const g = grouped(report);
    expect(g.replace.map((s) => s.name)).toEqual(["postgres"]);
    expect(g.replace[0].replaceKeys).toEqual(["image"]);
    expect(g.delete.map((s) => [s.name, s.stateful, s.protect])).toEqual([["postgres-data", true, true]]);
    expect(g.update[0].diffs).toEqual(["envs"]);
    expect(report.result).toBe("failed");
  });

  it("a policy passed when no resource failed it", () => {
    expect(report.policies).toEqual([
      { pack: "kryonix", version: "0.1.0", passed: ["secrets-stay-secret"], failed: [expect.objectContaining({ policy: "ports-on-loopback", level: "mandatory", urn: PGB })] },
    ]);
  });

  it("the plan for the pack: changing steps only, protected when a resource is", () => {
    const plan = policyPlan(report);
    expect(plan.protectedStack).toBe(true);
    expect(plan.steps.map((s) => s.op)).toEqual(["create", "update", "create-replacement", "delete"]);
    expect(statefulViolations(plan).map((v) => parseUrn(v.urn).name)).toEqual(["postgres", "postgres-data"]);
  });

  it("renders stateful replacements and deletions first, then each kind, then the policies", () => {
    const text = renderSummary(report, "text");
    expect(text).toContain("1 to create, 1 to update, 1 to replace, 1 to delete; preview failed.");
    const stateful = text.indexOf("Stateful resources");
    expect(stateful).toBeGreaterThan(0);
    expect(text.indexOf("REPLACE postgres (docker:index/container:Container) — replaced because of: image")).toBeGreaterThan(stateful);
    expect(text.indexOf("DELETE postgres-data")).toBeLessThan(text.indexOf("== Replace"));
    expect(text).toContain("FAILED ports-on-loopback [mandatory] on pgbouncer: kryonix-prod-pgbouncer publishes port 1 on 0.0.0.0");
    const md = renderSummary(report, "markdown");
    expect(md).toContain("## Pulumi preview: stack `prod`");
    expect(md).toContain("- **DELETE** `postgres-data (docker:index/volume:Volume)` (protected)");
    expect(md).toContain("passed `secrets-stay-secret`");
    const many = parsePreviewEvents("dev", Array.from({ length: 20 }, (_, i) => pre("create", urn("postgresql:index/grant:Grant", `g${i}`))).join("\n"));
    expect(renderSummary(many, "markdown")).toMatch(/### Create \(20\)\n<details><summary>the list<\/summary>\n\n- `g0/);
    expect(renderSummary(many, "text")).not.toContain("<details>");
  });

  it("the plan's preview takes the up flags that change what is planned", () => {
    expect(planningFlags(["--target", "u1", "--yes", "--replace=u2", "--skip-preview", "--refresh", "-t", "u3"])).toEqual(["--target", "u1", "--replace=u2", "--refresh", "-t", "u3"]);
  });
});
