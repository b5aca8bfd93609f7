import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { MigrationFile } from "../model/migrations";

/** The repository's sql/ folder. */
/**
 * The migrations' folder: sql/ of this clone, or KRYONIX_SQL_DIR. The drift test edits a migration
 * in a copy of its own (KRYONIX_SQL_DIR), so that the other stack tests running beside it in the
 * same clone never see the edit.
 */
export const SQL_DIR = process.env.KRYONIX_SQL_DIR || path.resolve(__dirname, "..", "sql");

/**
 * Every `*.sql` file directly in `dir`, sorted by name, with its content read
 * as UTF-8 and left untouched (the checksum is of exactly this text). Names are
 * not checked here: planMigrations rejects those that are not `NNN_words.sql`.
 */
export function loadMigrationFiles(dir: string = SQL_DIR): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".sql"))
    .map((e) => e.name)
    .sort()
    .map((name) => ({ name, sql: readFileSync(path.join(dir, name), "utf8") }));
}
