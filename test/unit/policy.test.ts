import * as pulumiRuntime from "@pulumi/pulumi/runtime";
import { describe, expect, it } from "vitest";
import { planningFlags } from "../../ops/guarded-run";
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
  ruleConfig,
  secretViolations,
  statefulViolations,
} from "../../checks/policy";
import { grouped, kindOf, nothingToDo, parsePreviewEvents, policyPlan, renderSummary, withStatefulVerdict } from "../../checks/preview-summary";

const urn = (type: string, name: string, parent = "") => `urn:pulumi:prod::kryonix-db::${parent ? `${parent}$` : ""}${type}::${name}`;
const VOLUME = urn("docker:index/volume:Volume", "postgres-data", "kryonix:db:Postgres");
const PG = urn("docker:index/container:Container", "postgres", "kryonix:db:Postgres");
const PGB = urn("docker:index/container:Container", "pgbouncer", "kryonix:db:Pgbouncer");
const secret = (value: unknown) => ({ [pulumiRuntime.specialSigKey]: pulumiRuntime.specialSecretSig, value });

describe("policy rules (checks/policy.ts)", () => {
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
    // A setting named after passwords is not one: PostgreSQL's hashing method, in Patroni's DCS configuration.
    expect(secretViolations("pulumi-nodejs:dynamic/kryonix:PatroniConfig", { config: { postgresql: { parameters: { password_encryption: "scram-sha-256" } } } })).toEqual([]);
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

  it("reads a rule's level and allow list from a policy-pack config file as the CLI does", () => {
    expect(ruleConfig(undefined, RULES.statefulKept)).toEqual({ level: "mandatory", allow: [] });
    expect(ruleConfig({ "ports-on-loopback": { allow: ["kryonix-prod-proxy"] } }, RULES.statefulKept)).toEqual({ level: "mandatory", allow: [] });
    expect(ruleConfig({ "stateful-resources-kept": { allow: ["postgres-data", 3] } }, RULES.statefulKept)).toEqual({ level: "mandatory", allow: ["postgres-data"] });
    expect(ruleConfig({ "stateful-resources-kept": "disabled" }, RULES.statefulKept).level).toBe("disabled");
    expect(ruleConfig({ all: "advisory" }, RULES.statefulKept).level).toBe("advisory");
    expect(ruleConfig({ all: "advisory", "stateful-resources-kept": { enforcementLevel: "mandatory" } }, RULES.statefulKept).level).toBe("mandatory");
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

describe("preview summary (checks/preview-summary.ts)", () => {
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

  it("lists imports with the creates, marked, and counts them", () => {
    const role = (name: string) => urn("postgresql:index/role:Role", name);
    const note = "the data volume kryonix-dev-postgres outlived its container: its cluster is adopted; imported ...";
    const adopted = parsePreviewEvents(
      "dev",
      [
        ev({ diagnosticEvent: { message: `${note}\n`, severity: "info" } }),
        ev({ diagnosticEvent: { urn: PG, message: "a provider's own chatter\n", severity: "info" } }),
        pre("import", role("database-kryonix_app")),
        pre("update", role("database-kryonix_app"), { diffs: ["connectionLimit"] }),
        pre("create", role("database-kryonix_app_b")),
        pre("same", PG),
      ].join("\n"),
    );
    expect(adopted.notes).toEqual([note]);
    const text = renderSummary(adopted, "text");
    expect(text).toContain(`== Notes from the program\n  ${note}\n`);
    expect(text).toContain("2 to create (1 of them imported), 0 to update");
    expect(text).toContain("  database-kryonix_app (postgresql:index/role:Role) — imported: it exists already — changes: connectionLimit\n");
    expect(policyPlan(adopted).steps.map((st) => st.op)).toEqual(["import", "create"]);
    expect(text).toContain("  database-kryonix_app_b (postgresql:index/role:Role)\n");
    expect(renderSummary(report, "text")).not.toMatch(/imported|Notes/);
  });

  it("stateful-resources-kept decided on the preview's own steps: recorded as the pack records a violation", () => {
    // The pack ran in a preview whose steps the caller checks: it passed the rule on the stack resource.
    const passedAll = { ...report, result: "succeeded" as const, policies: [{ ...report.policies[0], passed: ["secrets-stay-secret", "stateful-resources-kept"], failed: [] }] };
    const v = statefulViolations(policyPlan(passedAll));
    const failed = withStatefulVerdict(passedAll, v, "mandatory");
    expect(failed.result).toBe("failed");
    expect(failed.policies[0].passed).toEqual(["secrets-stay-secret"]);
    expect(failed.policies[0].failed.map((f) => [f.policy, f.level, parseUrn(f.urn!).name])).toEqual([
      ["stateful-resources-kept", "mandatory", "postgres"],
      ["stateful-resources-kept", "mandatory", "postgres-data"],
    ]);
    expect(renderSummary(failed, "text")).toMatch(/FAILED stateful-resources-kept \[mandatory\] on postgres-data: this run would delete postgres-data \(docker:index\/volume:Volume\) in the protected stack prod/);
    expect(withStatefulVerdict(passedAll, v, "advisory").result).toBe("succeeded");
    expect(withStatefulVerdict(passedAll, v, "disabled")).toBe(passedAll);
    expect(withStatefulVerdict(passedAll, [], "mandatory")).toBe(passedAll);
  });

  it("nothing to do: every step same, nothing drifted on refresh, the same stack outputs", () => {
    const STACK_URN = urn("pulumi:pulumi:Stack", "kryonix-db-prod");
    const out = (op: string, u: string, extra: object = {}) => ev({ resOutputsEvent: { metadata: { op, urn: u, type: parseUrn(u).type, ...extra } } });
    const done = ev({ summaryEvent: { resourceChanges: { same: 3 }, result: "succeeded" } });
    const clean = [
      pre("refresh", PG),
      out("refresh", PG, { old: { outputs: { a: 1 } }, new: { outputs: { a: 1 } } }),
      pre("same", PG),
      pre("same", STACK_URN),
      out("same", STACK_URN, { old: { outputs: { x: 1, y: "s" } }, new: { outputs: { y: "s", x: 1 } } }),
      done,
    ];
    expect(nothingToDo(clean.join("\n"))).toBe(true);
    // A refresh that read back a difference (drift), or found the resource gone.
    expect(nothingToDo([out("refresh", PG, { diffs: ["mustRun"], detailedDiff: { mustRun: { kind: "update" } } }), ...clean].join("\n"))).toBe(false);
    expect(nothingToDo([out("refresh", PG, { old: { outputs: {} }, new: null }), ...clean].join("\n"))).toBe(false);
    // A step to apply, a stack output added or changed, a failed or empty preview.
    expect(nothingToDo([pre("update", PGB), ...clean].join("\n"))).toBe(false);
    expect(nothingToDo([...clean, out("same", STACK_URN, { old: { outputs: { x: 1 } }, new: { outputs: { x: 1, z: 2 } } })].join("\n"))).toBe(false);
    expect(nothingToDo([...clean, ev({ diagnosticEvent: { message: "boom", severity: "error" } })].join("\n"))).toBe(false);
    expect(nothingToDo(clean.slice(0, -1).concat(ev({ summaryEvent: { resourceChanges: { same: 3 }, result: "failed" } })).join("\n"))).toBe(false);
    expect(nothingToDo(done)).toBe(false);
  });

  it("the plan's preview takes the up flags that change what is planned", () => {
    expect(planningFlags(["--target", "u1", "--yes", "--replace=u2", "--skip-preview", "--refresh", "-t", "u3"])).toEqual(["--target", "u1", "--replace=u2", "--refresh", "-t", "u3"]);
  });
});
