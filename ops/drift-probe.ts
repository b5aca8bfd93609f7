/**
 * What `npm run drift` reads from a running stack that the providers cannot see: the database's
 * catalogs (as the superuser, over 127.0.0.1) and the stack's containers (docker inspect). The
 * findings are made from these by checks/drift.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runDocker } from "../io/docker-cli";
import type { AppliedMigration } from "../model/migrations";
import { LEDGER_TABLE } from "../model/migrations";
import type { ContainerState, DbSnapshot, EngineEvent } from "../checks/drift";
import { stackCli } from "./stack-run";

/**
 * `pulumi refresh --preview-only --expect-no-changes --json`, and the engine's events of the same
 * run (`--event-log`, which the CLI offers only with PULUMI_DEBUG_COMMANDS, as the Automation API
 * runs it): only the events name a change that a provider's read found without a detailed diff.
 * The log (secrets masked by the engine) is written to a private directory and removed.
 */
export function refreshPreview(stack: string): { code: number; stdout: string; stderr: string; events: EngineEvent[] } {
  const cli = stackCli(stack, { ...process.env, PULUMI_DEBUG_COMMANDS: "true" });
  const dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-drift-events-"));
  const log = path.join(dir, "events.jsonl");
  try {
    const r = cli.capture(["refresh", "--preview-only", "--expect-no-changes", "--json", "--non-interactive", "--stack", stack, "--event-log", log]);
    let events: EngineEvent[] = [];
    try {
      events = readFileSync(log, "utf8")
        .split("\n")
        .filter((line) => line.trim())
        .map((line) => JSON.parse(line) as EngineEvent);
    } catch {
      // No log (the CLI failed before the engine ran): the JSON and the exit code say why.
    }
    return { ...r, events };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

const PRIVILEGE_KIND: Record<string, "table" | "sequence"> = { r: "table", p: "table", v: "table", m: "table", f: "table", S: "sequence" };
const KIND_NAME: Record<string, string> = { r: "table", p: "partitioned table", v: "view", m: "materialized view", f: "foreign table", S: "sequence" };

/** Reads what checks/drift.ts databaseFindings and settingFindings compare, for the given managed schemas. */
export async function readDbSnapshot(c: Queryable, schemas: string[]): Promise<DbSnapshot> {
  const roles = (
    await c.query(
      `SELECT rolname AS name, rolsuper AS superuser, rolcreatedb AS createdb, rolcreaterole AS createrole,
              rolreplication AS replication, rolbypassrls AS bypassrls, rolcanlogin AS login
         FROM pg_roles ORDER BY rolname`,
    )
  ).rows;
  const memberships = (
    await c.query(
      `SELECT m.rolname AS role, g.rolname AS "memberOf"
         FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member JOIN pg_roles g ON g.oid = am.roleid`,
    )
  ).rows;
  const relations = (
    await c.query(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, pg_get_userbyid(c.relowner) AS owner,
              (SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                 JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid LIMIT 1) AS "partitionOf",
              (SELECT dn.nspname || '.' || dc.relname FROM pg_depend d JOIN pg_class dc ON dc.oid = d.refobjid
                 JOIN pg_namespace dn ON dn.oid = dc.relnamespace
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                  AND d.deptype IN ('a', 'i') LIMIT 1) AS "ownedBy",
              EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS extension
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        ORDER BY 1, 2`,
      [schemas],
    )
  ).rows.map((r) => ({ ...r, kind: KIND_NAME[r.kind] ?? r.kind, partitionOf: r.partitionOf ?? undefined, ownedBy: r.ownedBy ?? undefined }));
  const relationAcl = (
    await c.query(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, pg_get_userbyid(c.relowner) AS owner,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
        WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relacl IS NOT NULL`,
      [schemas],
    )
  ).rows.map((r) => ({ ...r, kind: PRIVILEGE_KIND[r.kind] ?? "table" }));
  const schemaAcl = (
    await c.query(
      `SELECT n.nspname AS schema, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege
         FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = ANY($1) AND n.nspacl IS NOT NULL`,
      [schemas],
    )
  ).rows;
  const defaultAcl = (
    await c.query(
      `SELECT pg_get_userbyid(d.defaclrole) AS owner, n.nspname AS schema, d.defaclobjtype AS objtype,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege
         FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
        WHERE d.defaclobjtype IN ('r', 'S')`,
    )
  ).rows.map((r) => ({ owner: r.owner, schema: r.schema, objectType: r.objtype === "S" ? "sequence" : "table", grantee: r.grantee, privilege: r.privilege }) as DbSnapshot["defaultAcl"][number]);
  const extensions = (await c.query(`SELECT extname FROM pg_extension ORDER BY 1`)).rows.map((r) => String(r.extname));
  const indexes = (
    await c.query(
      `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relkind IN ('i', 'I')`,
      [schemas],
    )
  ).rows.map((r) => String(r.name));
  let ledger: AppliedMigration[] | undefined;
  if ((await c.query(`SELECT to_regclass('${LEDGER_TABLE}') IS NOT NULL AS present`)).rows[0]?.present) {
    ledger = (await c.query(`SELECT name, checksum FROM ${LEDGER_TABLE} ORDER BY name`)).rows.map((r) => ({ name: String(r.name), checksum: String(r.checksum) }));
  }
  const autoConf = (
    await c.query(`SELECT name, setting, applied FROM pg_file_settings WHERE sourcefile LIKE '%/postgresql.auto.conf' AND error IS NULL ORDER BY seqno`)
  ).rows.map((r) => ({ name: String(r.name), setting: String(r.setting), applied: Boolean(r.applied) }));
  const pendingRestart = (await c.query(`SELECT name FROM pg_settings WHERE pending_restart ORDER BY 1`)).rows.map((r) => String(r.name));
  const fileErrors = (await c.query(`SELECT coalesce(name, '') AS name, coalesce(sourcefile, '') AS sourcefile, error FROM pg_file_settings WHERE error IS NOT NULL`)).rows;
  const roleSettings = (
    await c.query(
      `SELECT coalesce(pg_get_userbyid(NULLIF(s.setrole, 0)), '') AS role, coalesce(d.datname, '') AS database, s.setconfig AS settings
         FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase`,
    )
  ).rows.map((r) => ({ role: r.role, database: r.database, settings: r.settings ?? [] }));
  return { roles, memberships, relations, relationAcl, schemaAcl, defaultAcl, extensions, indexes, ledger, autoConf, pendingRestart, fileErrors, roleSettings };
}

/** The containers' state on the engine (docker inspect), one per name; `env` pins DOCKER_HOST. */
export function inspectContainers(names: string[], env: NodeJS.ProcessEnv): ContainerState[] {
  return names.map((name) => {
    const r = runDocker(["inspect", "--type", "container", "--format", "{{json .State}}|{{.Image}}", name], { env, timeoutMs: 60_000 });
    if (r.code !== 0) return { name, exists: false, running: false };
    const [state, image] = r.stdout.trim().split("|");
    const s = JSON.parse(state) as { Running?: boolean; Health?: { Status?: string } };
    return { name, exists: true, running: Boolean(s.Running), health: s.Health?.Status, image };
  });
}
