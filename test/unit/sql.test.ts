import { describe, expect, it } from "vitest";
import { planMigrations } from "../../model/migrations";
import { loadMigrationFiles } from "../../io/migrations-fs";

/**
 * Static checks of sql/: what the migrations may and may not contain, and what
 * the spec (part 02) asks of the schema. Whether the SQL runs is checked on a
 * real server, not here.
 */

const files = loadMigrationFiles();

/** Drops `--` comments (sql/ has no string literal holding `--`), so that prose in comments is not checked as SQL. */
const stripComments = (sql: string) => sql.replace(/--.*$/gm, "");
const code = files.map((f) => ({ name: f.name, sql: stripComments(f.sql) }));
const all = code.map((f) => f.sql).join("\n");

const SCHEMAS = ["auth", "core", "analytics", "audit", "integration"];
const SEED_TABLES = [
  "auth.users",
  "auth.companies",
  "core.projects",
  "core.automations",
  "analytics.user_sessions",
  "analytics.system_metrics",
  "audit.activity_logs",
];
const SEED_INDEXES = [
  "idx_users_company_id",
  "idx_projects_company_id",
  "idx_automations_project_id",
  "idx_sessions_user_id",
  "idx_audit_user_id",
  "idx_audit_created_at",
];

/** `CREATE TABLE schema.name ( ... ) [tail]`: the column list and what follows it up to the `;`. */
function createTables(sql: string): Map<string, { body: string; tail: string }> {
  const tables = new Map<string, { body: string; tail: string }>();
  const re = /CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\s*\(/gi;
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    let depth = 1;
    let i = re.lastIndex;
    for (; i < sql.length && depth > 0; i++) {
      if (sql[i] === "(") depth++;
      else if (sql[i] === ")") depth--;
    }
    const end = sql.indexOf(";", i);
    tables.set(m[1].toLowerCase(), { body: sql.slice(re.lastIndex, i - 1), tail: sql.slice(i, end === -1 ? undefined : end) });
  }
  return tables;
}

const tables = createTables(all);

describe("sql/ files", () => {
  it("are the numbered files the runner expects, in a valid plan", () => {
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        "001_extensions.sql",
        "002_tables.sql",
        "003_indexes.sql",
        "004_partitions.sql",
        "005_triggers.sql",
        "006_monitoring.sql",
      ]),
    );
    expect(() => planMigrations(files, [])).not.toThrow();
  });

  it.each(files.map((f) => f.name))("%s leaves roles, schemas, privileges and secrets to the stack", (name) => {
    const sql = code.find((f) => f.name === name)!.sql;
    expect(sql).not.toMatch(/\bGRANT\b/i);
    expect(sql).not.toMatch(/\b(CREATE|ALTER|DROP)\s+(ROLE|USER|GROUP)\b/i);
    expect(sql).not.toMatch(/PASSWORD/i);
    expect(sql).not.toMatch(/\bCREATE\s+SCHEMA\b/i);
    expect(sql).not.toMatch(/\b(SET\s+(LOCAL\s+|SESSION\s+)?ROLE|RESET\s+ROLE|SESSION\s+AUTHORIZATION)\b/i);
    // and the unstripped file too: no password may sit in a comment either
    expect(files.find((f) => f.name === name)!.sql).not.toMatch(/PASSWORD\s*['=]/i);
  });

  it.each(files.map((f) => f.name))("%s runs inside the one transaction the runner opens", (name) => {
    const sql = code.find((f) => f.name === name)!.sql;
    expect(sql).not.toMatch(/\bCONCURRENTLY\b/i);
    expect(sql).not.toMatch(/\bVACUUM\b/i);
    expect(sql).not.toMatch(/^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|ABORT)\s*;/im);
    expect(sql).not.toMatch(/\bCREATE\s+DATABASE\b/i);
  });

  it("does not create pgcrypto (gen_random_uuid is in core since PostgreSQL 13) but does create pg_stat_statements", () => {
    expect(all).not.toMatch(/pgcrypto/i);
    expect(all).toMatch(/CREATE\s+EXTENSION\s+IF\s+NOT\s+EXISTS\s+pg_stat_statements\s*;/i);
  });

  it("creates every table of the seed, and objects only in the five schemas", () => {
    for (const t of SEED_TABLES) expect([...tables.keys()]).toContain(t);
    const qualified = /CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|FUNCTION|PROCEDURE|SEQUENCE|TYPE)\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)\.[a-z_]/gi;
    const used = new Set([...all.matchAll(qualified)].map((m) => m[1].toLowerCase()));
    expect([...used].filter((s) => !SCHEMAS.includes(s))).toEqual([]);
    expect(all).not.toMatch(/CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|FUNCTION)\s+(?:IF\s+NOT\s+EXISTS\s+)?[a-z_][a-z0-9_]*\s*\(/i);
  });

  it("has at least one table in schema integration", () => {
    expect([...tables.keys()].some((t) => t.startsWith("integration."))).toBe(true);
  });

  it("stores points in time as timestamptz, never timestamp without time zone", () => {
    for (const [name, { body }] of tables) {
      expect(body, name).not.toMatch(/\btimestamp\b(?!\s+with\s+time\s+zone)/i);
      expect(body, name).not.toMatch(/\bwithout\s+time\s+zone\b/i);
    }
  });

  it("links auth.users.company_id to auth.companies", () => {
    expect(tables.get("auth.users")!.body).toMatch(/\bcompany_id\s+uuid\b[^,]*\bREFERENCES\s+auth\.companies\s*\(\s*id\s*\)/i);
  });

  it("partitions analytics.user_sessions by range of session_start, with the partition key in the primary key", () => {
    const { body, tail } = tables.get("analytics.user_sessions")!;
    expect(tail).toMatch(/^\s*PARTITION\s+BY\s+RANGE\s*\(\s*session_start\s*\)\s*$/i);
    expect(body).toMatch(/\bsession_start\s+timestamptz\s+NOT\s+NULL\s+DEFAULT\s+now\(\)/i);
    expect(body).toMatch(/PRIMARY\s+KEY\s*\(\s*id\s*,\s*session_start\s*\)/i);
    expect(body).not.toMatch(/\bid\s+uuid\s+PRIMARY\s+KEY\b/i);
  });

  it("makes partitions only of tables declared PARTITION BY", () => {
    const parents = [...all.matchAll(/PARTITION\s+OF\s+([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)/gi)].map((m) => m[1].toLowerCase());
    expect(parents.length).toBeGreaterThan(0);
    for (const p of parents) expect(tables.get(p)?.tail ?? "", p).toMatch(/PARTITION\s+BY/i);
  });

  it("gives analytics.user_sessions a default partition and a partition-keeping function, called once", () => {
    expect(all).toMatch(/PARTITION\s+OF\s+analytics\.user_sessions\s+DEFAULT\b/i);
    expect(all).toMatch(
      /CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+analytics\.ensure_user_sessions_partitions\s*\(\s*months_ahead\s+int(?:eger)?\s+DEFAULT\s+3\s*\)/i,
    );
    expect(all).toContain("user_sessions_y%sm%s");
    expect(all.match(/SELECT\s+analytics\.ensure_user_sessions_partitions\s*\(\s*\)\s*;/gi)).toHaveLength(1);
    // the seed's hard-coded January 2025 partition is gone
    expect(all).not.toMatch(/user_sessions_y2025m01/i);
  });

  it("creates every index the seed names", () => {
    for (const idx of SEED_INDEXES) expect(all).toMatch(new RegExp(`CREATE\\s+INDEX\\s+${idx}\\s+ON\\b`, "i"));
  });

  it("does not duplicate the UNIQUE constraints on email and keycloak_id with plain indexes, and says why", () => {
    expect(all).not.toMatch(/idx_users_email|idx_users_keycloak_id/i);
    expect(all).not.toMatch(/CREATE\s+(UNIQUE\s+)?INDEX\s+\w*\s*ON\s+auth\.users\s*(USING\s+\w+\s*)?\(\s*(email|keycloak_id)\s*\)/i);
    const indexes = files.find((f) => f.name === "003_indexes.sql")!.sql;
    expect(indexes).toMatch(/idx_users_email/);
    expect(indexes).toMatch(/UNIQUE/);
  });

  it("keeps updated_at with a trigger on every table that has the column", () => {
    expect(all).toMatch(/CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+core\.set_updated_at\s*\(\s*\)\s+RETURNS\s+trigger/i);
    const withUpdatedAt = [...tables].filter(([, t]) => /\bupdated_at\b/i.test(t.body)).map(([name]) => name);
    expect(withUpdatedAt).toEqual(expect.arrayContaining(["auth.users", "auth.companies", "core.projects", "core.automations"]));
    for (const t of withUpdatedAt) {
      const trigger = new RegExp(
        `CREATE\\s+TRIGGER\\s+\\w+\\s+BEFORE\\s+UPDATE\\s+ON\\s+${t.replace(".", "\\.")}\\s+FOR\\s+EACH\\s+ROW\\b[^;]*EXECUTE\\s+(FUNCTION|PROCEDURE)\\s+core\\.set_updated_at\\s*\\(\\s*\\)`,
        "i",
      );
      expect(all, t).toMatch(trigger);
    }
  });

  it("turns the seed's four monitoring queries into views in schema audit", () => {
    for (const v of ["active_connections", "slow_queries", "table_sizes", "unused_indexes"]) {
      expect(all).toMatch(new RegExp(`CREATE\\s+(OR\\s+REPLACE\\s+)?VIEW\\s+audit\\.monitoring_${v}\\s+AS\\b`, "i"));
    }
    // pg_stat_user_indexes has relname/indexrelname, not the seed's tablename/indexname
    expect(all).toMatch(/s\.indexrelname\s+AS\s+indexname/i);
  });
});
