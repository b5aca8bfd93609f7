import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATION_LOCK_KEY, quoteIdent, type SqlClient } from "../../io/migration-runner";
import { checksum, LEDGER_TABLE_SQL, planMigrations, type AppliedMigration, type MigrationFile } from "../../model/migrations";
import { loadMigrationFiles, SQL_DIR } from "../../io/migrations-fs";

const f = (name: string, sql = `-- ${name}\nSELECT 1;\n`): MigrationFile => ({ name, sql });
const done = (file: MigrationFile): AppliedMigration => ({ name: file.name, checksum: checksum(file.sql) });

const a = f("001_extensions.sql");
const b = f("002_tables.sql");
const c = f("003_indexes.sql");

describe("checksum", () => {
  it("is the sha256 hex of the exact content", () => {
    expect(checksum("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(checksum("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("changes with any byte, whitespace and line endings included", () => {
    expect(checksum("SELECT 1;\n")).not.toBe(checksum("SELECT 1;"));
    expect(checksum("SELECT 1;\r\n")).not.toBe(checksum("SELECT 1;\n"));
  });
});

describe("planMigrations", () => {
  it("plans every file, in number order, on a fresh database", () => {
    expect(planMigrations([c, a, b], []).toApply.map((x) => x.name)).toEqual([a.name, b.name, c.name]);
  });

  it("plans only what the ledger does not list", () => {
    expect(planMigrations([a, b, c], [done(a)]).toApply).toEqual([b, c]);
    expect(planMigrations([a, b, c], [done(a), done(b), done(c)]).toApply).toEqual([]);
  });

  it("rejects an applied file whose content changed, with both checksums", () => {
    const edited = { ...b, sql: b.sql + "ALTER TABLE auth.users ADD COLUMN phone text;\n" };
    expect(() => planMigrations([a, edited, c], [done(a), done(b)])).toThrow(
      `sql/002_tables.sql was applied with checksum ${checksum(b.sql)} but now has ${checksum(edited.sql)}: ` +
        "applied migrations are immutable; add a new numbered file instead",
    );
  });

  it("rejects an applied file that is missing from sql/", () => {
    expect(() => planMigrations([a, c], [done(a), done(b)])).toThrow(
      /^sql\/002_tables\.sql was applied \(checksum [0-9a-f]{64}\) but is missing from sql\//,
    );
  });

  it.each(["1_tables.sql", "0001_tables.sql", "002-tables.sql", "002_Tables.sql", "002_.sql", "002_tables.SQL", "tables.sql", "002_tables.sql.bak"])(
    "rejects the file name %s",
    (name) => {
      expect(() => planMigrations([a, f(name)], [])).toThrow(`sql/${name}: migration files must be named NNN_words.sql`);
    },
  );

  it("accepts multi-word names with digits", () => {
    expect(planMigrations([f("010_add_users_2fa.sql")], []).toApply).toHaveLength(1);
  });

  it("rejects two files with the same number", () => {
    expect(() => planMigrations([a, b, f("002_more_tables.sql")], [])).toThrow(
      "sql/002_tables.sql and sql/002_more_tables.sql share the number 002",
    );
  });

  it("rejects a new file numbered below the last applied one", () => {
    expect(() => planMigrations([a, b, c], [done(a), done(c)])).toThrow(
      "sql/002_tables.sql is not applied but is numbered below sql/003_indexes.sql, which is",
    );
  });

  it("accepts a gap in the numbers when the new file comes after the last applied one", () => {
    const j = f("010_views.sql");
    expect(planMigrations([a, c, j], [done(a), done(c)]).toApply).toEqual([j]);
  });
});

describe("LEDGER_TABLE_SQL", () => {
  it("creates audit.schema_migrations if missing, with the ledger's columns", () => {
    const sql = LEDGER_TABLE_SQL.replace(/\s+/g, " ");
    expect(sql).toMatch(/^CREATE TABLE IF NOT EXISTS audit\.schema_migrations \(/);
    expect(sql).toContain("name text PRIMARY KEY");
    expect(sql).toContain("checksum text NOT NULL");
    expect(sql).toContain("applied_at timestamptz NOT NULL DEFAULT now()");
    expect(sql).toContain("applied_by text NOT NULL DEFAULT current_user");
  });
});

describe("loadMigrationFiles", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("reads the *.sql files of a folder, sorted, content untouched", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kryonix-sql-"));
    dirs.push(dir);
    writeFileSync(path.join(dir, "002_b.sql"), "SELECT 2;\r\n");
    writeFileSync(path.join(dir, "001_a.sql"), "\uFEFFSELECT 1;\n");
    writeFileSync(path.join(dir, "README.md"), "not sql");
    mkdirSync(path.join(dir, "999_folder.sql"));
    expect(loadMigrationFiles(dir)).toEqual([
      { name: "001_a.sql", sql: "\uFEFFSELECT 1;\n" },
      { name: "002_b.sql", sql: "SELECT 2;\r\n" },
    ]);
  });

  it("finds the repository's sql/ folder, which plans cleanly", () => {
    const files = loadMigrationFiles();
    expect(SQL_DIR).toBe(path.resolve(__dirname, "..", "..", "sql"));
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(planMigrations(files, []).toApply).toEqual(files);
  });
});

/**
 * A stand-in for a node-postgres client: records every query and keeps the
 * ledger, with transactional semantics (rows inserted in a transaction appear
 * on COMMIT and vanish on ROLLBACK).
 */
class FakeClient implements SqlClient {
  queries: { sql: string; params?: unknown[] }[] = [];
  ledger: { name: string; checksum: string; applied_by: string }[] = [];
  private pending: typeof this.ledger = [];
  private inTx = false;
  /** Runs before each query; throw from it to make that query fail. */
  beforeQuery: (sql: string, client: FakeClient) => void = () => {};

  async query(sql: string, params?: unknown[]): Promise<{ rows: any[] }> {
    this.queries.push(params === undefined ? { sql } : { sql, params });
    this.beforeQuery(sql, this);
    if (sql === "BEGIN") {
      if (this.inTx) throw new Error("already in a transaction");
      this.inTx = true;
      this.pending = [];
    } else if (sql === "COMMIT") {
      this.ledger.push(...this.pending);
      this.pending = [];
      this.inTx = false;
    } else if (sql === "ROLLBACK") {
      this.pending = [];
      this.inTx = false;
    } else if (sql.startsWith("SELECT name, checksum FROM audit.schema_migrations")) {
      return { rows: [...this.ledger, ...this.pending].map(({ name, checksum }) => ({ name, checksum })) };
    } else if (sql.startsWith("INSERT INTO audit.schema_migrations")) {
      if (!this.inTx) throw new Error("ledger insert outside a transaction");
      const [name, sum] = params as [string, string];
      this.pending.push({ name, checksum: sum, applied_by: "postgres" });
    }
    return { rows: [] };
  }

  /** The statements, with each migration's SQL shown as <name>. */
  script(files: MigrationFile[]): string[] {
    return this.queries.map(({ sql }) => {
      const file = files.find((x) => x.sql === sql);
      if (file) return `<${file.name}>`;
      if (sql === LEDGER_TABLE_SQL) return "<ledger>";
      return sql.split(" (")[0];
    });
  }
}

describe("applyMigrations", () => {
  const files = [a, b, c];
  const txFor = (name: string) => [
    "BEGIN",
    "SELECT pg_advisory_xact_lock($1)",
    'SET LOCAL ROLE "kryonix_owner"',
    "<ledger>",
    "SELECT name, checksum FROM audit.schema_migrations ORDER BY name",
    `<${name}>`,
    "INSERT INTO audit.schema_migrations",
    "COMMIT",
  ];
  const finalTx = [
    "BEGIN",
    "SELECT pg_advisory_xact_lock($1)",
    'SET LOCAL ROLE "kryonix_owner"',
    "<ledger>",
    "SELECT name, checksum FROM audit.schema_migrations ORDER BY name",
    "COMMIT",
  ];

  it("applies every file on a fresh database, one transaction each, locked and as the role", async () => {
    const client = new FakeClient();
    await expect(applyMigrations(client, [c, b, a], { role: "kryonix_owner" })).resolves.toEqual([a.name, b.name, c.name]);
    expect(client.script(files)).toEqual([...txFor(a.name), ...txFor(b.name), ...txFor(c.name), ...finalTx]);
    expect(client.ledger).toEqual(files.map((x) => ({ ...done(x), applied_by: "postgres" })));
    for (const q of client.queries.filter((q) => q.sql.startsWith("SELECT pg_advisory_xact_lock"))) {
      expect(q.params).toEqual([MIGRATION_LOCK_KEY]);
    }
    const insert = client.queries.find((q) => q.sql.startsWith("INSERT INTO audit.schema_migrations"))!;
    expect(insert.sql).toBe("INSERT INTO audit.schema_migrations (name, checksum, applied_by) VALUES ($1, $2, session_user)");
    expect(insert.params).toEqual([a.name, checksum(a.sql)]);
  });

  it("applies nothing when the ledger is up to date, and only new files otherwise", async () => {
    const client = new FakeClient();
    await applyMigrations(client, [a, b], { role: "kryonix_owner" });
    client.queries = [];
    await expect(applyMigrations(client, [a, b], { role: "kryonix_owner" })).resolves.toEqual([]);
    expect(client.script(files)).toEqual(finalTx);
    client.queries = [];
    await expect(applyMigrations(client, files, { role: "kryonix_owner" })).resolves.toEqual([c.name]);
    expect(client.script(files)).toEqual([...txFor(c.name), ...finalTx]);
  });

  it("re-reads the ledger under the lock before each file, so a file another runner applied is skipped", async () => {
    const client = new FakeClient();
    let begins = 0;
    client.beforeQuery = (sql, self) => {
      // Another runner committed 002 between this one's first and second transactions.
      if (sql === "BEGIN" && ++begins === 2) self.ledger.push({ ...done(b), applied_by: "other" });
    };
    await expect(applyMigrations(client, files, { role: "kryonix_owner" })).resolves.toEqual([a.name, c.name]);
    expect(client.ledger.map((r) => r.name)).toEqual([a.name, b.name, c.name]);
  });

  it("stops on a file that fails, rolls it back, names it, and keeps the files before it", async () => {
    const client = new FakeClient();
    const pgError = Object.assign(new Error('relation "companies" already exists'), { position: String(b.sql.indexOf("SELECT") + 1) });
    client.beforeQuery = (sql) => {
      if (sql === b.sql) throw pgError;
    };
    const run = applyMigrations(client, files, { role: "kryonix_owner" });
    await expect(run).rejects.toThrow('sql/002_tables.sql failed and was rolled back at line 2: relation "companies" already exists');
    await run.catch((err: Error) => expect(err.cause).toBe(pgError));
    expect(client.script(files).slice(-3)).toEqual([
      "SELECT name, checksum FROM audit.schema_migrations ORDER BY name",
      `<${b.name}>`,
      "ROLLBACK",
    ]);
    expect(client.ledger.map((r) => r.name)).toEqual([a.name]);
    expect(client.script(files)).not.toContain(`<${c.name}>`);
  });

  it("names the file when its ledger row or its COMMIT fails", async () => {
    const client = new FakeClient();
    client.beforeQuery = (sql) => {
      if (sql.startsWith("INSERT INTO audit.schema_migrations")) throw new Error("disk full");
    };
    await expect(applyMigrations(client, files, { role: "kryonix_owner" })).rejects.toThrow("sql/001_extensions.sql failed and was rolled back: disk full");
    expect(client.queries.at(-1)?.sql).toBe("ROLLBACK");
    expect(client.ledger).toEqual([]);
  });

  it("applies nothing when the plan fails, and rolls back", async () => {
    const client = new FakeClient();
    await applyMigrations(client, [a, b], { role: "kryonix_owner" });
    client.queries = [];
    const edited = { ...a, sql: a.sql + "-- edited\n" };
    await expect(applyMigrations(client, [edited, b, c], { role: "kryonix_owner" })).rejects.toThrow(
      /^sql\/001_extensions\.sql was applied with checksum [0-9a-f]{64} but now has [0-9a-f]{64}: applied migrations are immutable/,
    );
    expect(client.script(files)).toEqual([...finalTx.slice(0, -1), "ROLLBACK"]);
    expect(client.ledger.map((r) => r.name)).toEqual([a.name, b.name]);
  });

  it("reports the original error when ROLLBACK itself fails", async () => {
    const client = new FakeClient();
    client.beforeQuery = (sql) => {
      if (sql === a.sql) throw new Error("connection terminated");
      if (sql === "ROLLBACK") throw new Error("not connected");
    };
    await expect(applyMigrations(client, files, { role: "kryonix_owner" })).rejects.toThrow(
      "sql/001_extensions.sql failed and was rolled back: connection terminated",
    );
  });

  it("quotes the role as an identifier", async () => {
    expect(quoteIdent("kryonix_owner")).toBe('"kryonix_owner"');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(() => quoteIdent("")).toThrow("invalid role name");
    const client = new FakeClient();
    await applyMigrations(client, [], { role: "Owner Role" });
    expect(client.queries.map((q) => q.sql)).toContain('SET LOCAL ROLE "Owner Role"');
  });
});
