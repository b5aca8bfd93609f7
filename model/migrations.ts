import { createHash } from "node:crypto";

/**
 * Planning of the numbered DDL files in sql/ against the ledger of applied
 * ones. Pure: no file or database access (see migrations-fs.ts and
 * migration-runner.ts for those).
 */

/** One file of sql/: its base name (`NNN_words.sql`) and its exact content. */
export interface MigrationFile {
  name: string;
  sql: string;
}

/** One row of the ledger, audit.schema_migrations. */
export interface AppliedMigration {
  name: string;
  checksum: string;
}

export interface MigrationPlan {
  /** Files not yet applied, in the order to apply them. */
  toApply: MigrationFile[];
}

/** The ledger. Lives in schema audit (the stack creates the schema), owned by the role migrations run as. */
export const LEDGER_TABLE = "audit.schema_migrations";

export const LEDGER_TABLE_SQL = `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
    name       text        PRIMARY KEY,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text        NOT NULL DEFAULT current_user
)`;

/** `NNN_words.sql`: three digits, then lower-case words joined by underscores. */
export const MIGRATION_NAME = /^(\d{3})_[a-z0-9]+(?:_[a-z0-9]+)*\.sql$/;

/** sha256 of the file content exactly as given (UTF-8), as lower-case hex. */
export function checksum(sql: string): string {
  return createHash("sha256").update(sql, "utf8").digest("hex");
}

function migrationNumber(name: string): number {
  const m = MIGRATION_NAME.exec(name);
  if (!m) {
    throw new Error(
      `sql/${name}: migration files must be named NNN_words.sql (three digits, an underscore, lower-case words joined by underscores)`,
    );
  }
  return Number(m[1]);
}

/**
 * Which files still have to be applied. Throws, and plans nothing, when:
 * a file name is not `NNN_words.sql` or two files share a number; an applied
 * file is no longer in sql/; an applied file's content changed; or a pending
 * file is numbered below the last applied one.
 */
export function planMigrations(files: MigrationFile[], applied: AppliedMigration[]): MigrationPlan {
  const byNumber = new Map<number, string>();
  for (const f of files) {
    const n = migrationNumber(f.name);
    const other = byNumber.get(n);
    if (other !== undefined) {
      throw new Error(
        other === f.name
          ? `sql/${f.name} is listed twice`
          : `sql/${other} and sql/${f.name} share the number ${f.name.slice(0, 3)}: each migration needs its own number`,
      );
    }
    byNumber.set(n, f.name);
  }
  const sorted = [...files].sort((a, b) => migrationNumber(a.name) - migrationNumber(b.name));
  const byName = new Map(sorted.map((f) => [f.name, f]));

  let lastApplied = -1;
  let lastAppliedName = "";
  for (const a of applied) {
    const file = byName.get(a.name);
    if (!file) {
      throw new Error(
        `sql/${a.name} was applied (checksum ${a.checksum}) but is missing from sql/: applied migrations must stay in the repository`,
      );
    }
    const now = checksum(file.sql);
    if (now !== a.checksum) {
      throw new Error(
        `sql/${a.name} was applied with checksum ${a.checksum} but now has ${now}: applied migrations are immutable; add a new numbered file instead`,
      );
    }
    const n = migrationNumber(a.name);
    if (n > lastApplied) {
      lastApplied = n;
      lastAppliedName = a.name;
    }
  }

  const appliedNames = new Set(applied.map((a) => a.name));
  const toApply = sorted.filter((f) => !appliedNames.has(f.name));
  for (const f of toApply) {
    if (migrationNumber(f.name) < lastApplied) {
      throw new Error(
        `sql/${f.name} is not applied but is numbered below sql/${lastAppliedName}, which is: ` +
          `new migrations must be numbered after the last applied one; renumber it`,
      );
    }
  }
  return { toApply };
}
