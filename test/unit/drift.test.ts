import { describe, expect, it } from "vitest";
import {
  EXIT,
  containerFindings,
  databaseFindings,
  exitCode,
  masked,
  migrationFindings,
  refreshFindings,
  refreshStepsFromEvents,
  changedProperties,
  tlsFileFindings,
  renderDrift,
  settingFindings,
  sqlObjects,
  statements,
  type DbSnapshot,
  type Declared,
} from "../../checks/drift";
import { declaredDatabase } from "../../checks/drift-declared";
import { checksum } from "../../model/migrations";
import { loadMigrationFiles } from "../../io/migrations-fs";

const declared: Declared = {
  database: "kryonix_saas",
  superuser: "postgres",
  owner: "kryonix_owner",
  roles: { kryonix_owner: { login: false, memberOf: [] }, kryonix_app: { login: true, memberOf: [] }, metabase_readonly: { login: true, memberOf: [] }, kryonix_monitor: { login: true, memberOf: ["pg_monitor"] } },
  schemas: ["core"],
  grants: [
    { role: "kryonix_app", schema: "core", objectType: "table", privileges: ["SELECT", "INSERT"], defaults: true },
    { role: "metabase_readonly", schema: "core", objectType: "table", privileges: ["SELECT"], defaults: true },
    { role: "kryonix_app", schema: "core", objectType: "sequence", privileges: ["USAGE"], defaults: true },
  ],
  extensions: ["pg_stat_statements", "plpgsql"],
  relations: ["core.projects"],
  indexes: { "core.idx_projects_company_id": "CREATE INDEX idx_projects_company_id ON core.projects (company_id);" },
  ledgerTable: "audit.schema_migrations",
};

const role = (name: string, extra: Partial<DbSnapshot["roles"][number]> = {}) => ({ name, superuser: false, createdb: false, createrole: false, replication: false, bypassrls: false, login: true, ...extra });
const acl = (name: string, grantee: string, privilege: string, kind: "table" | "sequence" = "table") => ({ schema: "core", name, kind, owner: "kryonix_owner", grantee, privilege });
const clean = (): DbSnapshot => ({
  roles: [role("postgres", { superuser: true }), role("pg_monitor", { login: false }), role("kryonix_owner", { login: false }), role("kryonix_app"), role("metabase_readonly"), role("kryonix_monitor")],
  memberships: [{ role: "kryonix_monitor", memberOf: "pg_monitor" }],
  relations: [
    { schema: "core", name: "projects", kind: "table", owner: "kryonix_owner", extension: false },
    { schema: "core", name: "projects_id_seq", kind: "sequence", owner: "kryonix_owner", ownedBy: "core.projects", extension: false },
  ],
  relationAcl: [acl("projects", "kryonix_owner", "SELECT"), acl("projects", "kryonix_app", "SELECT"), acl("projects", "kryonix_app", "INSERT"), acl("projects", "metabase_readonly", "SELECT"), acl("projects_id_seq", "kryonix_app", "USAGE", "sequence")],
  schemaAcl: [{ schema: "core", grantee: "kryonix_owner", privilege: "CREATE" }, { schema: "core", grantee: "kryonix_app", privilege: "USAGE" }, { schema: "core", grantee: "metabase_readonly", privilege: "USAGE" }],
  defaultAcl: [
    { owner: "kryonix_owner", schema: "core", objectType: "table", grantee: "kryonix_app", privilege: "SELECT" },
    { owner: "kryonix_owner", schema: "core", objectType: "table", grantee: "kryonix_app", privilege: "INSERT" },
    { owner: "kryonix_owner", schema: "core", objectType: "table", grantee: "metabase_readonly", privilege: "SELECT" },
    { owner: "kryonix_owner", schema: "core", objectType: "sequence", grantee: "kryonix_app", privilege: "USAGE" },
  ],
  extensions: ["pg_stat_statements", "plpgsql"],
  indexes: ["core.idx_projects_company_id", "core.projects_pkey"],
  ledger: [],
  autoConf: [],
  pendingRestart: [],
  fileErrors: [],
  roleSettings: [],
});

describe("drift: the database against what the stack declares (checks/drift.ts)", () => {
  it("a database as declared has no finding", () => {
    expect(databaseFindings("dev", declared, clean())).toEqual([]);
    expect(settingFindings("dev", "kryonix-dev-postgres", clean())).toEqual([]);
  });

  it("a revoked grant on metabase_readonly: repaired by up", () => {
    const db = clean();
    db.relationAcl = db.relationAcl.filter((a) => a.grantee !== "metabase_readonly");
    expect(databaseFindings("dev", declared, db)).toEqual([
      expect.objectContaining({ kind: "grant", subject: "metabase_readonly on core.projects", detail: "revoked: SELECT", repair: "up", action: "npm run up -- --stack dev" }),
    ]);
  });

  it("a role given CREATEDB or SUPERUSER: repaired by up; an undeclared role: manual", () => {
    const db = clean();
    db.roles = db.roles.map((r) => (r.name === "kryonix_app" ? { ...r, createdb: true, superuser: true } : r));
    db.roles.push(role("intruder"));
    const f = databaseFindings("dev", declared, db);
    expect(f).toEqual([
      expect.objectContaining({ kind: "role", subject: "kryonix_app", detail: "attributes changed: superuser true, createdb true", repair: "up" }),
      expect.objectContaining({ kind: "role", subject: "intruder", repair: "manual" }),
    ]);
  });

  it("an extra membership, an undeclared grant, default privilege and extension", () => {
    const db = clean();
    db.memberships.push({ role: "kryonix_app", memberOf: "kryonix_owner" });
    db.relationAcl.push(acl("projects", "metabase_readonly", "DELETE"));
    db.defaultAcl.push({ owner: "kryonix_owner", schema: "core", objectType: "table", grantee: "metabase_readonly", privilege: "UPDATE" });
    db.schemaAcl.push({ schema: "core", grantee: "PUBLIC", privilege: "CREATE" });
    db.extensions.push("hstore");
    const f = databaseFindings("dev", declared, db).map((x) => [x.kind, x.subject, x.repair]);
    expect(f).toEqual([
      ["membership", "kryonix_app", "up"],
      ["grant", "metabase_readonly on core.projects", "manual"],
      ["grant", "PUBLIC on schema core", "manual"],
      ["default-privilege", "metabase_readonly on new tables in core", "manual"],
      ["extension", "hstore", "manual"],
    ]);
  });

  it("an unmanaged table is reported, not repaired; partitions, owned sequences and extension objects are not", () => {
    const db = clean();
    db.relations.push({ schema: "core", name: "rogue", kind: "table", owner: "postgres", extension: false });
    db.relations.push({ schema: "core", name: "projects_2026", kind: "table", owner: "kryonix_owner", partitionOf: "core.projects", extension: false });
    db.relations.push({ schema: "public", name: "pg_stat_statements", kind: "view", owner: "postgres", extension: true });
    const f = databaseFindings("dev", declared, db);
    expect(f.map((x) => [x.kind, x.subject, x.repair])).toEqual([["relation", "core.rogue", "manual"], ["grant", "kryonix_app on core.projects_2026", "up"], ["grant", "metabase_readonly on core.projects_2026", "up"]]);
    expect(f[0].action).toContain("does not drop data");
  });

  it("a dropped index of sql/: repaired by up, with its statement", () => {
    const db = clean();
    db.indexes = ["core.projects_pkey"];
    expect(databaseFindings("dev", declared, db)).toEqual([expect.objectContaining({ kind: "index", subject: "core.idx_projects_company_id", repair: "up", detail: expect.stringContaining("CREATE INDEX idx_projects_company_id") })]);
  });

  it("ALTER SYSTEM: repaired by up; a pending restart and ALTER ROLE SET: manual", () => {
    const f = settingFindings("dev", "kryonix-dev-postgres", {
      autoConf: [{ name: "work_mem", setting: "77MB", applied: true }],
      pendingRestart: ["shared_buffers"],
      fileErrors: [],
      roleSettings: [{ role: "kryonix_app", database: "", settings: ["work_mem=1GB"] }],
    });
    expect(f.map((x) => [x.subject, x.repair])).toEqual([["work_mem", "up"], ["shared_buffers", "manual"], ["role kryonix_app", "manual"]]);
    expect(f[0].detail).toContain("ALTER SYSTEM to 77MB");
    expect(f[1].action).toBe("docker restart kryonix-dev-postgres (a short outage), then check again");
  });

  it("a twin's own SET role is declared, anything else set on it is still drift", () => {
    const settings = (settings: string[]) => ({ autoConf: [], pendingRestart: [], fileErrors: [], roleSettings: [{ role: "kryonix_app_b", database: "", settings }] });
    const d = declaredDatabase([]);
    expect(settingFindings("dev", "c", settings(["role=kryonix_app"]), d)).toEqual([]);
    const f = settingFindings("dev", "c", settings(["role=kryonix_app", "work_mem=1GB"]), d);
    expect(f.map((x) => [x.subject, x.detail])).toEqual([["role kryonix_app_b", expect.stringContaining("work_mem=1GB")]]);
    expect(f[0].detail).not.toContain("role=kryonix_app");
    // Not declared for the role itself, nor in one database only.
    expect(settingFindings("dev", "c", { ...settings([]), roleSettings: [{ role: "kryonix_app", database: "", settings: ["role=kryonix_app"] }] }, d)).toHaveLength(1);
    expect(settingFindings("dev", "c", { ...settings([]), roleSettings: [{ role: "kryonix_app_b", database: "kryonix_saas", settings: ["role=kryonix_app"] }] }, d)).toHaveLength(1);
  });

  it("the migration ledger against sql/: an edited applied file is manual, a pending one is repaired by up", () => {
    const files = [{ name: "001_a.sql", sql: "A" }, { name: "002_b.sql", sql: "B edited" }, { name: "003_c.sql", sql: "C" }];
    const ledger = [{ name: "001_a.sql", checksum: checksum("A") }, { name: "002_b.sql", checksum: checksum("B") }];
    const f = migrationFindings("dev", files, ledger);
    expect(f.map((x) => [x.subject, x.repair])).toEqual([["sql/002_b.sql", "manual"], ["sql/003_c.sql", "up"]]);
    expect(f[0].action).toContain("git checkout -- sql/002_b.sql");
    expect(migrationFindings("dev", files.slice(0, 1), ledger.slice(0, 1))).toEqual([]);
  });

  it("containers gone, stopped, unhealthy or on another image", () => {
    const declaredContainers = [{ name: "a" }, { name: "b" }, { name: "c" }, { name: "d", image: "sha256:1" }, { name: "e" }];
    const f = containerFindings("dev", declaredContainers, [
      { name: "b", exists: true, running: false },
      { name: "c", exists: true, running: true, health: "unhealthy" },
      { name: "d", exists: true, running: true, health: "healthy", image: "sha256:2" },
      { name: "e", exists: true, running: true, health: "healthy" },
    ]);
    expect(f.map((x) => [x.subject, x.detail, x.repair])).toEqual([["a", "removed", "up"], ["b", "stopped", "up"], ["c", "running but unhealthy", "manual"], ["d", "runs another image than the stack's", "up"]]);
  });
});

describe("drift: the refresh and the report", () => {
  const u = (t: string, n: string) => `urn:pulumi:dev::kryonix-db::kryonix:db:X$${t}::${n}`;
  it("turns refresh steps into per-property changes, secrets masked", () => {
    const f = refreshFindings("dev", {
      steps: [
        { op: "same", urn: u("docker:index/network:Network", "net") },
        { op: "update", urn: u("postgresql:index/role:Role", "database-kryonix_app"), oldState: { outputs: { createDatabase: false, password: "[secret]" } }, newState: { outputs: { createDatabase: true, password: "[secret]" } }, detailedDiff: { createDatabase: { kind: "update" }, password: { kind: "update" }, __pulumi_raw_state_delta: { kind: "update" } } },
        { op: "update", urn: u("docker:index/container:Container", "pgadmin"), oldState: { outputs: { mustRun: true, ports: [{ external: 1 }] } }, newState: { outputs: { mustRun: false, ports: [] } }, detailedDiff: { mustRun: { kind: "update" }, ports: { kind: "delete-replace" } } },
        { op: "update", urn: u("postgresql:index/grant:Grant", "g"), oldState: { outputs: {} }, newState: { outputs: {} }, detailedDiff: {} },
      ],
    });
    expect(f).toHaveLength(2);
    expect(f[0]).toMatchObject({ subject: "database-kryonix_app (postgresql:index/role:Role)", repair: "up", changes: [{ property: "createDatabase", old: false, new: true }, { property: "password", old: "[secret]", new: "[secret]" }] });
    expect(f[1].detail).toBe("container stopped");
    expect(masked("uploads[0].content", "hunter2")).toBe("[secret]");
    expect(masked("memory", 512)).toBe(512);
  });

  it("a change only the engine's events show (a dynamic provider's read, no detailed diff) is named with the outputs that differ", () => {
    const repair = u("pulumi-nodejs:dynamic/kryonix:DatabaseRepair", "database-repair");
    const state = { outputs: { alteredSettings: [], missingIndexes: [], indexes: { b: 1, a: 2 }, connection: { ciphertext: "[secret]" } } };
    // What `--json` shows for it: op "refresh", the same state on both sides.
    const json = { steps: [{ op: "refresh", urn: repair, oldState: state, newState: state, detailedDiff: null }] };
    expect(refreshFindings("dev", json)).toEqual([]);
    const events = [
      { resOutputsEvent: { metadata: { op: "same", urn: u("docker:index/network:Network", "net") } } },
      // Key order alone is no change; secrets stay masked.
      { resOutputsEvent: { metadata: { op: "update", urn: repair, old: state, new: { outputs: { ...state.outputs, indexes: { a: 2, b: 1 }, alteredSettings: ["work_mem"] } } } } },
      {},
    ];
    expect(refreshStepsFromEvents(events).map((s) => [s.op, s.urn])).toEqual([["update", repair]]);
    expect(refreshFindings("dev", json, events)).toEqual([
      {
        kind: "resource",
        subject: "database-repair (pulumi-nodejs:dynamic/kryonix:DatabaseRepair)",
        detail: "changed outside Pulumi: alteredSettings",
        changes: [{ property: "alteredSettings", old: [], new: ["work_mem"] }],
        repair: "up",
        action: "npm run up -- --stack dev",
      },
    ]);
    // A resource the steps already name is not named twice; one deleted outside Pulumi is.
    const pgadmin = u("docker:index/container:Container", "pgadmin");
    const stopped = { op: "update", urn: pgadmin, oldState: { outputs: { mustRun: true } }, newState: { outputs: { mustRun: false } }, detailedDiff: { mustRun: { kind: "update" } } };
    const twice = refreshFindings("dev", { steps: [stopped] }, [
      { resOutputsEvent: { metadata: { op: "update", urn: pgadmin, old: stopped.oldState, new: stopped.newState } } },
      { resOutputsEvent: { metadata: { op: "delete", urn: u("docker:index/volume:Volume", "data"), old: { outputs: {} }, new: null } } },
      // A TLS volume's files are named by tlsFileFindings, file by file: not again as a resource.
      { resOutputsEvent: { metadata: { op: "update", urn: u("pulumi-nodejs:dynamic/kryonix:TlsFiles", "postgres-tls"), old: { outputs: { digests: { "ca.crt": "a" } } }, new: { outputs: { digests: { "ca.crt": "b" } } } } } },
    ]);
    expect(twice.map((f) => [f.subject, f.detail])).toEqual([
      ["pgadmin (docker:index/container:Container)", "container stopped"],
      ["data (docker:index/volume:Volume)", "deleted outside Pulumi"],
    ]);
    expect(changedProperties({ detailedDiff: { __meta: { kind: "update" } }, oldState: { outputs: { a: 1 } }, newState: { outputs: { a: 1 } } })).toEqual([]);
  });

  it("TLS files changed or removed by hand are named, file by file; an unreadable volume is an error", () => {
    const { findings, errors } = tlsFileFindings("dev", [
      { volume: "kryonix-dev-postgres-tls", expected: { "server.crt": "a", "ca.crt": "b", "server.key": "c" }, found: { "server.crt": "a", "ca.crt": "x", "server.key": "" } },
      { volume: "kryonix-dev-pgbouncer-tls", expected: { "server.crt": "d" }, found: { "server.crt": "d" } },
      { volume: "kryonix-dev-gone-tls", expected: { "server.crt": "e" }, found: undefined },
    ]);
    expect(findings.map((f) => [f.subject, f.detail])).toEqual([
      ["kryonix-dev-postgres-tls: ca.crt", "differs from what the stack wrote (changed outside Pulumi)"],
      ["kryonix-dev-postgres-tls: server.key", "missing (removed outside Pulumi)"],
    ]);
    expect(findings.every((f) => f.repair === "up" && f.action.startsWith("npm run up -- --stack dev"))).toBe(true);
    expect(errors).toEqual(["cannot read the TLS files in volume kryonix-dev-gone-tls"]);
  });

  it("exit codes: 0 clean, 1 drift, 2 error; the report separates what up repairs", () => {
    const finding = { kind: "index" as const, subject: "core.i", detail: "dropped", repair: "up" as const, action: "npm run up -- --stack dev" };
    const manual = { kind: "relation" as const, subject: "core.rogue", detail: "unmanaged", repair: "manual" as const, action: "drop it" };
    expect(exitCode({ findings: [], errors: [] })).toBe(EXIT.clean);
    expect(exitCode({ findings: [finding], errors: [] })).toBe(EXIT.drift);
    expect(exitCode({ findings: [finding], errors: ["refresh failed"] })).toBe(EXIT.error);
    const report = { stack: "dev", checkedAt: "2026-11-29T00:00:00Z", durationSeconds: 3, findings: [finding, manual], errors: [] };
    const text = renderDrift(report, "text");
    expect(text).toContain("2 drift finding(s)");
    expect(text.indexOf("Repaired by npm run up")).toBeLessThan(text.indexOf("Not repaired by npm run up"));
    expect(text).toContain("[relation] core.rogue: unmanaged");
    expect(renderDrift(report, "markdown")).toContain("### Not repaired by `npm run up`: do this");
    expect(renderDrift({ ...report, findings: [] }, "text")).toContain("no drift");
  });
});

describe("drift: what the stack declares, from its own data", () => {
  it("splits SQL into statements, dollar-quoted bodies whole, and finds relations, indexes and extensions", () => {
    expect(statements("CREATE TABLE a.b (x int); -- c;\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; CREATE INDEX i ON a.b (x)")).toHaveLength(3);
    const o = sqlObjects([{ name: "001_x.sql", sql: "CREATE EXTENSION IF NOT EXISTS pg_trgm;\nCREATE TABLE core.t (id int);\nCREATE UNIQUE INDEX idx_t ON core.t (id);\nCREATE OR REPLACE VIEW audit.v AS SELECT 1;" }]);
    expect(o).toEqual({ relations: ["audit.v", "core.t"], indexes: { "core.idx_t": "CREATE UNIQUE INDEX idx_t ON core.t (id);" }, extensions: ["pg_trgm"] });
  });

  it("the repository's sql/ and components/database.ts: the seed's tables, indexes, roles and grants", () => {
    const d = declaredDatabase(loadMigrationFiles());
    expect(d.relations).toEqual(expect.arrayContaining(["auth.users", "core.projects", "analytics.user_sessions", "audit.activity_logs", "audit.monitoring_slow_queries"]));
    expect(Object.keys(d.indexes)).toEqual(expect.arrayContaining(["core.idx_projects_company_id", "audit.idx_audit_created_at"]));
    expect(d.extensions).toEqual(expect.arrayContaining(["pg_stat_statements", "plpgsql"]));
    // The partitions job's scheduler is the stack's own, not drift.
    expect(d.extensions).toContain("pg_cron");
    expect(d.roles.kryonix_migrator.memberOf).toEqual(["kryonix_owner"]);
    expect(d.roles.kryonix_monitor.memberOf).toEqual(["pg_monitor"]);
    expect(d.roles.kryonix_app_b).toEqual({ login: true, memberOf: ["kryonix_app"], settings: ["role=kryonix_app"] });
    expect(d.roles.kryonix_monitor_b).toBeUndefined();
    expect(d.grants).toEqual(expect.arrayContaining([expect.objectContaining({ role: "metabase_readonly", schema: "core", objectType: "table", privileges: ["SELECT"] })]));
  });
});
