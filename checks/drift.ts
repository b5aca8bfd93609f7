/**
 * `npm run drift`: what differs between a running stack and what it declares, as a report a person
 * or a scheduler can act on. Pure: the probes (refresh, database, docker) are in scripts/drift.ts and
 * ops/drift-probe.ts; this file turns what they saw into findings, each with whether `npm run up`
 * repairs it and what to do otherwise.
 */
import { checksum, type AppliedMigration, type MigrationFile } from "../model/migrations";
import { parseUrn } from "./policy";

/** Exit codes of `npm run drift` (README: "Drift detection"). */
export const EXIT = { clean: 0, drift: 1, error: 2 } as const;

export type FindingKind =
  | "resource"
  | "container"
  | "role"
  | "membership"
  | "grant"
  | "default-privilege"
  | "extension"
  | "relation"
  | "index"
  | "migration"
  | "setting";

export interface PropertyChange {
  property: string;
  /** What the stack's state holds. */
  old: unknown;
  /** What is there now. */
  new: unknown;
}

export interface Finding {
  kind: FindingKind;
  /** What drifted: a resource name, a role, schema.table, a setting. */
  subject: string;
  detail: string;
  changes?: PropertyChange[];
  /** `up`: `npm run up` brings it back; `manual`: it cannot, `action` says what to do. */
  repair: "up" | "manual";
  action: string;
}

export interface DriftReport {
  stack: string;
  checkedAt: string;
  durationSeconds: number;
  findings: Finding[];
  /** Checks that could not run: the report is incomplete (exit 2). */
  errors: string[];
}

export function exitCode(report: Pick<DriftReport, "findings" | "errors">): number {
  if (report.errors.length) return EXIT.error;
  return report.findings.length ? EXIT.drift : EXIT.clean;
}

// ---------------------------------------------------------------------------------------------
// What the stack declares.

export interface DeclaredGrant {
  role: string;
  schema: string;
  /** "table" covers tables, views and materialized views; "sequence"; "schema" is USAGE on the schema itself. */
  objectType: "table" | "sequence" | "schema";
  privileges: string[];
  /** Only these objects (names in the schema); every object of the type when absent. */
  objects?: readonly string[];
  /** Also as default privileges for objects the owner creates later. */
  defaults?: boolean;
}

export interface Declared {
  database: string;
  superuser: string;
  owner: string;
  /** Every role the stack creates, with whether it logs in, and the ALTER ROLE ... SET it makes (`name=value`, in every database). */
  roles: Record<string, { login: boolean; memberOf: string[]; settings?: string[] }>;
  /** Schemas whose tables the stack manages (sql/ creates them; the stack grants on them). */
  schemas: string[];
  grants: DeclaredGrant[];
  extensions: string[];
  /** `schema.name` of every table, view, materialized view and sequence sql/ creates. */
  relations: string[];
  /** `schema.name` → the CREATE INDEX statement of sql/ that makes it. */
  indexes: Record<string, string>;
  /** The migration ledger (a table the runner creates, not sql/). */
  ledgerTable: string;
}

const stripComments = (sql: string) => sql.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
/** Statements of a file, split on `;` outside dollar-quoted bodies (functions are skipped whole). Pure. */
export function statements(sql: string): string[] {
  const text = stripComments(sql);
  const out: string[] = [];
  let cur = "";
  let dollar: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const rest = text.slice(i);
    const tag = /^\$[a-zA-Z_]*\$/.exec(rest)?.[0];
    if (tag && (dollar === undefined || dollar === tag)) {
      dollar = dollar === undefined ? tag : undefined;
      cur += tag;
      i += tag.length - 1;
      continue;
    }
    if (text[i] === ";" && dollar === undefined) {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += text[i];
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const ident = String.raw`"?([a-zA-Z_][a-zA-Z0-9_]*)"?`;
const qualified = String.raw`${ident}\s*\.\s*${ident}`;
const CREATE_RELATION = new RegExp(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNLOGGED\s+)?(?:MATERIALIZED\s+)?(TABLE|VIEW|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?${qualified}`, "i");
const CREATE_INDEX = new RegExp(String.raw`^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?${ident}\s+ON\s+(?:ONLY\s+)?${qualified}`, "i");
const CREATE_EXTENSION = new RegExp(String.raw`^CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?${ident}`, "i");

/** The relations, indexes and extensions sql/ creates (top-level statements only). Pure. */
export function sqlObjects(files: readonly MigrationFile[]): { relations: string[]; indexes: Record<string, string>; extensions: string[] } {
  const relations: string[] = [];
  const indexes: Record<string, string> = {};
  const extensions: string[] = [];
  for (const f of files) {
    for (const s of statements(f.sql)) {
      const one = s.replace(/\s+/g, " ");
      let m = CREATE_RELATION.exec(one);
      if (m) {
        relations.push(`${m[2]}.${m[3]}`.toLowerCase());
        continue;
      }
      m = CREATE_INDEX.exec(one);
      if (m) {
        // An index lives in its table's schema.
        indexes[`${m[2]}.${m[1]}`.toLowerCase()] = `${one};`;
        continue;
      }
      m = CREATE_EXTENSION.exec(one);
      if (m) extensions.push(m[1].toLowerCase());
    }
  }
  return { relations: [...new Set(relations)].sort(), indexes, extensions: [...new Set(extensions)].sort() };
}

// ---------------------------------------------------------------------------------------------
// What the database holds (ops/drift-probe.ts reads it).

export interface DbSnapshot {
  roles: { name: string; superuser: boolean; createdb: boolean; createrole: boolean; replication: boolean; bypassrls: boolean; login: boolean }[];
  memberships: { role: string; memberOf: string }[];
  /** ACL entries on relations of the managed schemas; grantee "PUBLIC" for public. */
  relationAcl: { schema: string; name: string; kind: "table" | "sequence"; owner: string; grantee: string; privilege: string }[];
  /** Every relation (table, partitioned table, view, materialized view, foreign table, sequence) in the managed schemas. */
  relations: { schema: string; name: string; kind: string; owner: string; partitionOf?: string; ownedBy?: string; extension: boolean }[];
  schemaAcl: { schema: string; grantee: string; privilege: string }[];
  defaultAcl: { owner: string; schema: string; objectType: "table" | "sequence"; grantee: string; privilege: string }[];
  extensions: string[];
  /** `schema.name` of the indexes in the managed schemas. */
  indexes: string[];
  ledger: AppliedMigration[] | undefined;
  /** pg_file_settings rows from postgresql.auto.conf (ALTER SYSTEM), applied or not. */
  autoConf: { name: string; setting: string; applied: boolean }[];
  /** Settings whose file value waits for a restart. */
  pendingRestart: string[];
  /** Errors in the configuration files (pg_file_settings.error). */
  fileErrors: { name: string; sourcefile: string; error: string }[];
  /** ALTER ROLE/DATABASE ... SET (pg_db_role_setting). */
  roleSettings: { role: string; database: string; settings: string[] }[];
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

function expectedRelationPrivileges(declared: Declared, schema: string, name: string, kind: "table" | "sequence"): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const g of declared.grants) {
    if (g.schema !== schema || g.objectType !== kind) continue;
    if (g.objects && !g.objects.includes(name)) continue;
    const set = out.get(g.role) ?? new Set<string>();
    for (const p of g.privileges) set.add(p);
    out.set(g.role, set);
  }
  return out;
}

/** Findings about roles, memberships, grants, default privileges, extensions, relations and indexes. Pure. */
export function databaseFindings(stack: string, declared: Declared, db: DbSnapshot): Finding[] {
  const out: Finding[] = [];
  const up = `npm run up -- --stack ${stack}`;
  const psql = `npm run pulumi -- stack output --show-secrets credentials --stack ${stack} (the superuser), then psql -h 127.0.0.1`;

  // Roles: undeclared ones, and declared ones with other attributes.
  const builtin = (r: string) => r.startsWith("pg_") || r === declared.superuser;
  for (const r of db.roles) {
    if (builtin(r.name)) continue;
    const want = declared.roles[r.name];
    if (!want) {
      out.push({ kind: "role", subject: r.name, detail: "a role the stack does not declare", repair: "manual", action: `if nobody needs it: REASSIGN OWNED BY ${r.name} TO ${declared.owner}; DROP OWNED BY ${r.name}; DROP ROLE ${r.name} (${psql}); or declare it in components/database.ts` });
      continue;
    }
    const attrs: PropertyChange[] = [];
    for (const a of ["superuser", "createdb", "createrole", "replication", "bypassrls"] as const) if (r[a]) attrs.push({ property: a, old: false, new: true });
    if (r.login !== want.login) attrs.push({ property: "login", old: want.login, new: r.login });
    if (attrs.length) out.push({ kind: "role", subject: r.name, detail: `attributes changed: ${attrs.map((c) => `${c.property} ${c.new}`).join(", ")}`, changes: attrs, repair: "up", action: up });
  }
  for (const name of Object.keys(declared.roles)) {
    if (!db.roles.some((r) => r.name === name)) out.push({ kind: "role", subject: name, detail: "a declared role is missing", repair: "up", action: up });
  }
  // Memberships of declared roles.
  for (const [name, want] of Object.entries(declared.roles)) {
    const have = db.memberships.filter((m) => m.role === name).map((m) => m.memberOf);
    const extra = have.filter((g) => !want.memberOf.includes(g));
    const missing = want.memberOf.filter((g) => !have.includes(g));
    if (extra.length || missing.length) {
      out.push({
        kind: "membership",
        subject: name,
        detail: [extra.length ? `member of ${extra.join(", ")} (not declared)` : "", missing.length ? `no longer member of ${missing.join(", ")}` : ""].filter(Boolean).join("; "),
        changes: [{ property: "memberOf", old: sorted(want.memberOf), new: sorted(have) }],
        repair: "up",
        action: up,
      });
    }
  }

  // Relations: undeclared ones in the managed schemas.
  const declaredRelations = new Set([...declared.relations, declared.ledgerTable]);
  const isDeclared = (rel: DbSnapshot["relations"][number]) =>
    declaredRelations.has(`${rel.schema}.${rel.name}`) ||
    (rel.partitionOf !== undefined && declaredRelations.has(rel.partitionOf)) ||
    (rel.ownedBy !== undefined && declaredRelations.has(rel.ownedBy)) ||
    rel.extension;
  const unmanaged = new Set<string>();
  for (const rel of db.relations) {
    if (isDeclared(rel)) continue;
    const q = `${rel.schema}.${rel.name}`;
    unmanaged.add(q);
    out.push({
      kind: "relation",
      subject: q,
      detail: `a ${rel.kind} (owner ${rel.owner}) that no file of sql/ creates`,
      repair: "manual",
      action: `npm run up does not drop data: keep it by adding a migration to sql/ that creates it (CREATE ... IF NOT EXISTS), or, once you have checked what it holds, DROP it by hand (${psql})`,
    });
  }

  // Grants on the declared relations: declared privileges missing, undeclared ones held.
  const byRelation = new Map<string, DbSnapshot["relationAcl"]>();
  for (const a of db.relationAcl) byRelation.set(`${a.schema}.${a.name}`, [...(byRelation.get(`${a.schema}.${a.name}`) ?? []), a]);
  for (const rel of db.relations) {
    const q = `${rel.schema}.${rel.name}`;
    if (unmanaged.has(q) || rel.extension) continue;
    const kind = rel.kind === "sequence" ? "sequence" : "table";
    const expected = expectedRelationPrivileges(declared, rel.schema, rel.name, kind);
    const held = new Map<string, Set<string>>();
    for (const a of byRelation.get(q) ?? []) {
      if (a.grantee === a.owner || a.grantee === declared.owner || a.grantee === declared.superuser) continue;
      held.set(a.grantee, (held.get(a.grantee) ?? new Set<string>()).add(a.privilege));
    }
    for (const [role, privs] of expected) {
      const missing = [...privs].filter((p) => !held.get(role)?.has(p));
      if (missing.length) out.push({ kind: "grant", subject: `${role} on ${q}`, detail: `revoked: ${missing.join(", ")}`, changes: [{ property: "privileges", old: sorted(privs), new: sorted(held.get(role) ?? []) }], repair: "up", action: up });
    }
    for (const [role, privs] of held) {
      const extra = [...privs].filter((p) => !expected.get(role)?.has(p));
      if (extra.length) out.push({ kind: "grant", subject: `${role} on ${q}`, detail: `not declared: ${extra.join(", ")}`, changes: [{ property: "privileges", old: sorted(expected.get(role) ?? []), new: sorted(privs) }], repair: "manual", action: `REVOKE ${extra.join(", ")} ON ${q} FROM ${role === "PUBLIC" ? "PUBLIC" : role} (${psql}), or declare it (components/database.ts TABLE_GRANTS)` });
    }
  }

  // USAGE on the managed schemas.
  for (const schema of declared.schemas) {
    const want = new Set(declared.grants.filter((g) => g.schema === schema && (g.objectType === "schema" || g.objectType === "table")).map((g) => g.role));
    const have = new Map<string, Set<string>>();
    for (const a of db.schemaAcl.filter((x) => x.schema === schema)) {
      if (a.grantee === declared.owner || a.grantee === declared.superuser) continue;
      have.set(a.grantee, (have.get(a.grantee) ?? new Set<string>()).add(a.privilege));
    }
    for (const role of want) if (!have.get(role)?.has("USAGE")) out.push({ kind: "grant", subject: `${role} on schema ${schema}`, detail: "revoked: USAGE", repair: "up", action: up });
    for (const [role, privs] of have) {
      const extra = [...privs].filter((p) => !(p === "USAGE" && want.has(role)));
      if (extra.length) out.push({ kind: "grant", subject: `${role} on schema ${schema}`, detail: `not declared: ${extra.join(", ")}`, repair: "manual", action: `REVOKE ${extra.join(", ")} ON SCHEMA ${schema} FROM ${role} (${psql})` });
    }
  }

  // Default privileges of the owner.
  for (const schema of declared.schemas) {
    for (const objectType of ["table", "sequence"] as const) {
      const want = new Map<string, Set<string>>();
      for (const g of declared.grants) if (g.defaults && g.schema === schema && g.objectType === objectType) want.set(g.role, new Set(g.privileges));
      const have = new Map<string, Set<string>>();
      for (const a of db.defaultAcl) {
        if (a.owner !== declared.owner || a.schema !== schema || a.objectType !== objectType || a.grantee === declared.owner) continue;
        have.set(a.grantee, (have.get(a.grantee) ?? new Set<string>()).add(a.privilege));
      }
      for (const role of new Set([...want.keys(), ...have.keys()])) {
        const w = want.get(role) ?? new Set<string>();
        const h = have.get(role) ?? new Set<string>();
        const missing = [...w].filter((p) => !h.has(p));
        const extra = [...h].filter((p) => !w.has(p));
        if (!missing.length && !extra.length) continue;
        out.push({
          kind: "default-privilege",
          subject: `${role} on new ${objectType}s in ${schema}`,
          detail: [missing.length ? `revoked: ${missing.join(", ")}` : "", extra.length ? `not declared: ${extra.join(", ")}` : ""].filter(Boolean).join("; "),
          changes: [{ property: "privileges", old: sorted(w), new: sorted(h) }],
          repair: extra.length ? "manual" : "up",
          action: extra.length ? `ALTER DEFAULT PRIVILEGES FOR ROLE ${declared.owner} IN SCHEMA ${schema} REVOKE ${extra.join(", ")} ON ${objectType.toUpperCase()}S FROM ${role} (${psql})` : up,
        });
      }
    }
  }

  // Extensions.
  for (const e of db.extensions) {
    if (!declared.extensions.includes(e)) out.push({ kind: "extension", subject: e, detail: "an extension the stack does not declare", repair: "manual", action: `DROP EXTENSION ${e} if nothing uses it (${psql}), or declare it (components/database.ts EXTENSIONS)` });
  }
  for (const e of declared.extensions) if (!db.extensions.includes(e)) out.push({ kind: "extension", subject: e, detail: "a declared extension is missing", repair: "up", action: up });

  // Indexes sql/ creates.
  for (const [index, statement] of Object.entries(declared.indexes)) {
    if (!db.indexes.includes(index)) out.push({ kind: "index", subject: index, detail: `dropped; sql/ creates it with: ${statement}`, repair: "up", action: `${up} (re-creates the indexes of sql/ that are missing)` });
  }
  return out;
}

/** Findings about the migration ledger against sql/. Pure. */
export function migrationFindings(stack: string, files: readonly MigrationFile[], ledger: AppliedMigration[] | undefined): Finding[] {
  if (!ledger) return [{ kind: "migration", subject: "audit.schema_migrations", detail: "no migration ledger: sql/ was never applied", repair: "up", action: `npm run up -- --stack ${stack}` }];
  const out: Finding[] = [];
  for (const row of ledger) {
    const file = files.find((f) => f.name === row.name);
    if (!file) {
      out.push({ kind: "migration", subject: `sql/${row.name}`, detail: "applied, but no longer in sql/", repair: "manual", action: `restore sql/${row.name} from git (git log --diff-filter=D -- sql/${row.name}): an applied migration is never removed` });
    } else if (checksum(file.sql) !== row.checksum) {
      out.push({
        kind: "migration",
        subject: `sql/${row.name}`,
        detail: "edited after it was applied: its checksum no longer matches the ledger",
        changes: [{ property: "checksum", old: row.checksum, new: checksum(file.sql) }],
        repair: "manual",
        action: `npm run up refuses to run until sql/${row.name} is as it was applied: restore it (git checkout -- sql/${row.name}, or git log -p -- sql/${row.name}) and put the change in a new numbered file`,
      });
    }
  }
  for (const f of files) if (!ledger.some((r) => r.name === f.name)) out.push({ kind: "migration", subject: `sql/${f.name}`, detail: "not applied yet", repair: "up", action: `npm run up -- --stack ${stack}` });
  return out;
}

/**
 * Findings about the server's settings: ALTER SYSTEM, pending restarts, file errors, and ALTER
 * ROLE/DATABASE SET other than what `declared` roles set themselves. Pure.
 */
export function settingFindings(
  stack: string,
  container: string,
  db: Pick<DbSnapshot, "autoConf" | "pendingRestart" | "fileErrors" | "roleSettings">,
  declared: Pick<Declared, "roles"> = { roles: {} },
): Finding[] {
  const out: Finding[] = [];
  for (const s of db.autoConf) {
    out.push({
      kind: "setting",
      subject: s.name,
      detail: `set with ALTER SYSTEM to ${s.setting} (postgresql.auto.conf${s.applied ? ", in effect" : ", not in effect yet"}), over the stack's rendered postgresql.conf`,
      repair: "up",
      action: `npm run up -- --stack ${stack} (ALTER SYSTEM RESET ALL, then a reload)`,
    });
  }
  for (const name of db.pendingRestart) {
    out.push({ kind: "setting", subject: name, detail: "the running value differs from the configuration file, which needs a restart to apply", repair: "manual", action: `docker restart ${container} (a short outage), then check again` });
  }
  for (const e of db.fileErrors) out.push({ kind: "setting", subject: e.name || e.sourcefile, detail: `configuration file error in ${e.sourcefile}: ${e.error}`, repair: "manual", action: `npm run up -- --stack ${stack} after fixing what wrote it` });
  for (const row of db.roleSettings) {
    const own = row.role && !row.database ? (declared.roles[row.role]?.settings ?? []) : [];
    const r = { ...row, settings: row.settings.filter((s) => !own.includes(s)) };
    if (r.settings.length === 0) continue;
    const who = [r.role && `role ${r.role}`, r.database && `database ${r.database}`].filter(Boolean).join(" in ");
    out.push({ kind: "setting", subject: who, detail: `set at run time with ALTER ${r.role ? "ROLE" : "DATABASE"} ... SET: ${r.settings.join(", ")}`, repair: "manual", action: `ALTER ${r.role ? `ROLE ${r.role}${r.database ? ` IN DATABASE ${r.database}` : ""}` : `DATABASE ${r.database}`} RESET ALL, or declare it in the stack` });
  }
  return out;
}

export interface ContainerState {
  name: string;
  exists: boolean;
  running: boolean;
  health?: string;
  /** The image ID the container runs. */
  image?: string;
}

/** Findings about the stack's containers: gone, stopped, unhealthy, or on another image than the state's. Pure. */
export function containerFindings(stack: string, declared: { name: string; image?: string }[], seen: ContainerState[]): Finding[] {
  const out: Finding[] = [];
  const up = `npm run up -- --stack ${stack}`;
  for (const d of declared) {
    const c = seen.find((s) => s.name === d.name);
    if (!c?.exists) out.push({ kind: "container", subject: d.name, detail: "removed", repair: "up", action: up });
    else if (!c.running) out.push({ kind: "container", subject: d.name, detail: "stopped", repair: "up", action: up });
    else if (c.health === "unhealthy") out.push({ kind: "container", subject: d.name, detail: "running but unhealthy", repair: "manual", action: `docker logs ${d.name}; npm run up replaces it only if its settings changed` });
    else if (d.image && c.image && d.image !== c.image) out.push({ kind: "container", subject: d.name, detail: "runs another image than the stack's", changes: [{ property: "image", old: d.image, new: c.image }], repair: "up", action: up });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// `pulumi refresh --preview-only --json`

/** What the report prints in place of a secret (also what the CLI's JSON already shows for one). */
const MASK = "[secret]";
const SECRET_NAME = /(password|passphrase|secret|private_?key|token|content)/i;

/** A value as the report may print it: secrets and file contents masked, long values cut. Pure. */
export function masked(property: string, value: unknown): unknown {
  if (value === MASK) return MASK;
  if (SECRET_NAME.test(property) && value !== undefined && value !== null && value !== "") return MASK;
  const text = JSON.stringify(value);
  if (text !== undefined && text.length > 200) return `${text.slice(0, 197)}...`;
  return value;
}

function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split(/\.|\[|\]/).filter(Boolean)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[/^\d+$/.test(part) ? Number(part) : part];
  }
  return cur;
}

interface RefreshStep {
  op: string;
  urn: string;
  oldState?: { outputs?: Record<string, unknown> } | null;
  newState?: { outputs?: Record<string, unknown> } | null;
  detailedDiff?: Record<string, { kind: string }> | null;
}

/**
 * The properties a refresh step changes: the provider's detailed diff when it gives one; a dynamic
 * provider gives none (kryonix:DatabaseRepair's read finding ALTER SYSTEM, say), so then the
 * top-level outputs that differ between the state and what the read found. `__` keys are internal. Pure.
 */
export function changedProperties(s: Pick<RefreshStep, "detailedDiff" | "oldState" | "newState">): string[] {
  const detailed = Object.keys(s.detailedDiff ?? {}).filter((k) => !k.startsWith("__"));
  if (detailed.length) return detailed;
  const olds = s.oldState?.outputs ?? {};
  const news = s.newState?.outputs ?? {};
  return [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => !k.startsWith("__") && canonical(olds[k]) !== canonical(news[k])).sort();
}

/** JSON with object keys sorted, so that key order alone is no change. Pure. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/** The dynamic resource that writes a server's TLS volume (providers/tls-files.ts). */
export const TLS_FILES_TYPE = "pulumi-nodejs:dynamic/kryonix:TlsFiles";

/** One line of the engine's event log (`--event-log`): only what the refresh's outcome needs. */
export interface EngineEvent {
  resOutputsEvent?: {
    metadata?: {
      op?: string;
      urn?: string;
      old?: { outputs?: Record<string, unknown> } | null;
      new?: { outputs?: Record<string, unknown> } | null;
      detailedDiff?: Record<string, { kind: string }> | null;
    };
  };
}

/**
 * The refresh's outcome per resource, from the engine's events. The `--json` steps of a refresh
 * preview carry the state before the read on both sides (op "refresh"), so a change only a
 * provider's read sees, with no detailed diff, shows only in changeSummary; the events' resOutputs
 * carry the op the engine decided ("update", "delete") and the outputs the read found. Pure.
 */
export function refreshStepsFromEvents(events: readonly EngineEvent[]): RefreshStep[] {
  const steps: RefreshStep[] = [];
  for (const e of events) {
    const m = e.resOutputsEvent?.metadata;
    if (!m?.urn || !m.op || m.op === "same" || m.op === "refresh" || m.op === "read") continue;
    // Named file by file by tlsFileFindings (the volume read through its server), not once more here.
    if (parseUrn(m.urn).type === TLS_FILES_TYPE) continue;
    steps.push({ op: m.op, urn: m.urn, oldState: m.old ?? null, newState: m.new ?? null, detailedDiff: m.detailedDiff ?? null });
  }
  return steps;
}

/**
 * Findings from `pulumi refresh --preview-only`: each resource the providers see changed, from the
 * `--json` steps and, for what those cannot show, the engine's events (refreshStepsFromEvents). Pure.
 */
export function refreshFindings(stack: string, refreshJson: { steps?: RefreshStep[] }, events: readonly EngineEvent[] = []): Finding[] {
  const out: Finding[] = [];
  const named = new Set<string>();
  const up = `npm run up -- --stack ${stack}`;
  for (const s of [...(refreshJson.steps ?? []), ...refreshStepsFromEvents(events)]) {
    if (s.op === "same" || named.has(s.urn)) continue;
    const { name, type } = parseUrn(s.urn);
    if (s.op === "delete" || (s.oldState && s.newState === null)) {
      named.add(s.urn);
      out.push({ kind: "resource", subject: `${name} (${type})`, detail: "deleted outside Pulumi", repair: "up", action: up });
      continue;
    }
    const keys = changedProperties(s);
    if (!keys.length) continue;
    named.add(s.urn);
    const changes = keys.map((k) => ({ property: k, old: masked(k, at(s.oldState?.outputs, k)), new: masked(k, at(s.newState?.outputs, k)) }));
    const stopped = type === "docker:index/container:Container" && keys.includes("mustRun") && at(s.newState?.outputs, "mustRun") === false;
    out.push({ kind: "resource", subject: `${name} (${type})`, detail: stopped ? "container stopped" : `changed outside Pulumi: ${keys.join(", ")}`, changes, repair: "up", action: up });
  }
  return out;
}

/** What the state says a TLS volume holds (kryonix:TlsFiles' outputs), and what is in it now. */
export interface TlsVolumeCheck {
  volume: string;
  /** File name -> the digest the stack wrote. */
  expected: Record<string, string>;
  /** File name -> the digest found ("" missing); undefined when the volume could not be read. */
  found: Record<string, string> | undefined;
}

/**
 * Findings for TLS files changed or removed by hand. The refresh sees them too (kryonix:TlsFiles'
 * read), but its JSON cannot say which file: the outputs are secret. Pure.
 */
export function tlsFileFindings(stack: string, checks: readonly TlsVolumeCheck[]): { findings: Finding[]; errors: string[] } {
  const findings: Finding[] = [];
  const errors: string[] = [];
  for (const c of checks) {
    if (!c.found) {
      errors.push(`cannot read the TLS files in volume ${c.volume}`);
      continue;
    }
    for (const [file, digest] of Object.entries(c.expected)) {
      const now = c.found[file] ?? "";
      if (now === digest) continue;
      findings.push({
        kind: "resource",
        subject: `${c.volume}: ${file}`,
        detail: now === "" ? "missing (removed outside Pulumi)" : "differs from what the stack wrote (changed outside Pulumi)",
        repair: "up",
        action: `npm run up -- --stack ${stack} (writes it again and reloads the server, no restart)`,
      });
    }
  }
  return { findings, errors };
}

// ---------------------------------------------------------------------------------------------

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** The report as text (terminal, job log) or markdown (job summary). Pure. */
export function renderDrift(report: DriftReport, format: "text" | "markdown"): string {
  const md = format === "markdown";
  const lines: string[] = [];
  const code = exitCode(report);
  const verdict = code === EXIT.clean ? "no drift" : code === EXIT.drift ? `${report.findings.length} drift finding(s)` : "the check did not complete";
  lines.push(md ? `## Drift check: stack \`${report.stack}\`` : `Drift check of stack ${report.stack}`);
  lines.push(`${verdict} (${report.checkedAt}, ${report.durationSeconds.toFixed(1)} s); exit code ${code}.`);
  for (const e of report.errors) lines.push(md ? `- **error**: ${e}` : `  ERROR ${e}`);
  for (const [title, repair] of [
    ["Repaired by `npm run up`", "up"],
    ["Not repaired by `npm run up`: do this", "manual"],
  ] as const) {
    const items = report.findings.filter((f) => f.repair === repair);
    if (!items.length) continue;
    lines.push("");
    lines.push(md ? `### ${title}` : `== ${title.replace(/`/g, "")}`);
    for (const f of items) {
      lines.push(md ? `- **${f.kind}** \`${f.subject}\`: ${f.detail}` : `  [${f.kind}] ${f.subject}: ${f.detail}`);
      for (const c of f.changes ?? []) lines.push(md ? `  - \`${c.property}\`: \`${show(c.old)}\` → \`${show(c.new)}\`` : `      ${c.property}: ${show(c.old)} -> ${show(c.new)}`);
      lines.push(md ? `  - to do: ${f.action}` : `      to do: ${f.action}`);
    }
  }
  return lines.join("\n") + "\n";
}
