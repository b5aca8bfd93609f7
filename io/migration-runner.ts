import { checksum, LEDGER_TABLE, LEDGER_TABLE_SQL, planMigrations, type MigrationFile } from "../model/migrations";

/** The part of a node-postgres Client (or a single checked-out PoolClient) the runner uses. */
export interface SqlClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

export interface ApplyOptions {
  /** The schema owner role every migration runs as (SET LOCAL ROLE); the connected user must be able to assume it. */
  role: string;
}

/**
 * Key of the transaction-level advisory lock that serialises runners
 * (0x6b72796f, "kryo"). Any other use of this key in the database would wait
 * on, and hold up, migrations.
 */
export const MIGRATION_LOCK_KEY = 0x6b72796f;

/** A role name as a quoted SQL identifier (SET ROLE takes no bind parameter). */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes("\0")) throw new Error(`invalid role name ${JSON.stringify(name)}`);
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Applies the files of sql/ that the ledger does not list yet, each in its own
 * transaction, and returns their names in the order applied.
 *
 * A transaction-level advisory lock is released at COMMIT, so it is taken
 * again at the start of every transaction, and the ledger is read and the plan
 * made again under it: a second runner working at the same time waits, then
 * finds the file recorded and moves on, and no file is ever applied twice.
 * Each transaction is:
 *
 *   BEGIN; SELECT pg_advisory_xact_lock(key); SET LOCAL ROLE <role>;
 *   CREATE TABLE IF NOT EXISTS audit.schema_migrations (...);
 *   SELECT name, checksum FROM audit.schema_migrations; -- then planMigrations
 *   <the next file's sql>; INSERT INTO audit.schema_migrations ...; COMMIT
 *
 * and the last one, with nothing left to apply, commits after the plan. The
 * ledger is created under the role too, so that the role owns it and can write
 * it; applied_by records session_user, the login that ran the migration.
 *
 * On any error the transaction is rolled back and the error rethrown; an error
 * inside a file's SQL, its ledger row or its COMMIT names the file. A plan
 * error (changed checksum, missing file, bad name, out of order) applies
 * nothing at all.
 */
export async function applyMigrations(client: SqlClient, files: MigrationFile[], options: ApplyOptions): Promise<string[]> {
  const setRole = `SET LOCAL ROLE ${quoteIdent(options.role)}`;
  const applied: string[] = [];
  for (;;) {
    let current: MigrationFile | undefined;
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
      await client.query(setRole);
      await client.query(LEDGER_TABLE_SQL);
      const { rows } = await client.query(`SELECT name, checksum FROM ${LEDGER_TABLE} ORDER BY name`);
      const { toApply } = planMigrations(
        files,
        rows.map((r) => ({ name: String(r.name), checksum: String(r.checksum) })),
      );
      current = toApply[0];
      if (!current) {
        await client.query("COMMIT");
        return applied;
      }
      await client.query(current.sql);
      await client.query(`INSERT INTO ${LEDGER_TABLE} (name, checksum, applied_by) VALUES ($1, $2, session_user)`, [
        current.name,
        checksum(current.sql),
      ]);
      await client.query("COMMIT");
      applied.push(current.name);
    } catch (err) {
      await rollbackQuietly(client);
      if (!current) throw err;
      throw new Error(`sql/${current.name} failed and was rolled back${errorLine(current.sql, err)}: ${errorText(err)}`, {
        cause: err,
      });
    }
  }
}

async function rollbackQuietly(client: SqlClient): Promise<void> {
  try {
    await client.query("ROLLBACK");
  } catch {
    // The connection may be gone; the error that got us here is the one to report.
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { detail?: unknown; hint?: unknown };
  let text = e.message;
  if (typeof e.detail === "string" && e.detail) text += ` (detail: ${e.detail})`;
  if (typeof e.hint === "string" && e.hint) text += ` (hint: ${e.hint})`;
  return text;
}

/** node-postgres errors carry `position`, a 1-based character offset into the query: turn it into a line. */
function errorLine(sql: string, err: unknown): string {
  const position = Number((err as { position?: unknown } | null)?.position);
  if (!Number.isInteger(position) || position < 1 || position > sql.length + 1) return "";
  return ` at line ${sql.slice(0, position - 1).split("\n").length}`;
}
