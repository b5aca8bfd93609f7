/** A fake PostgreSQL for the dynamic providers' unit tests (providers/sql-migrations.ts, sql-script.ts). */
import { LEDGER_TABLE, type MigrationFile } from "../../model/migrations";
import type { PgConnection, PgSession } from "../../io/pg-connect";

/** Just enough of PostgreSQL for applyMigrations and the ledger reads. */
export class FakeDb {
  readonly queries: string[] = [];
  ledger: { name: string; checksum: string }[] = [];
  failOn?: string;
  ended = 0;

  connect = async (_c: PgConnection): Promise<PgSession> => ({
    query: async (sql: string, params?: unknown[]) => {
      this.queries.push(sql);
      if (this.failOn && sql.includes(this.failOn)) throw new Error(`boom in ${this.failOn}`);
      if (sql.startsWith("SELECT to_regclass")) return { rows: [{ present: this.ledger.length > 0 }] };
      if (sql.startsWith(`SELECT name, checksum FROM ${LEDGER_TABLE}`)) return { rows: [...this.ledger] };
      if (sql.startsWith(`INSERT INTO ${LEDGER_TABLE}`)) this.ledger.push({ name: String(params![0]), checksum: String(params![1]) });
      return { rows: [] };
    },
    end: async () => {
      this.ended++;
    },
  });
}

export const connection: PgConnection = { host: "127.0.0.1", port: 15432, database: "kryonix_saas", user: "kryonix_migrator", password: "pw", ca: "ca" };
export const file = (name: string, sql = `-- ${name}\nSELECT 1;\n`): MigrationFile => ({ name, sql });
