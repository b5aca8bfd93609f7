import * as pulumi from "@pulumi/pulumi";
import { type Connect, connectPg, type PgConnection } from "../io/pg-connect";

/**
 * Drift inside the server that no provider reads and `npm run up` repairs (README, "Drift
 * detection"): settings changed with ALTER SYSTEM (they override the rendered postgresql.conf from
 * postgresql.auto.conf), and indexes of sql/ that were dropped (the migration ledger records a file
 * as applied once, so it cannot notice). `read` (the refresh `npm run up` runs first) records what
 * it finds, `diff` then plans an update, and the update resets ALTER SYSTEM and re-creates the
 * missing indexes with their statements from sql/, as the schema owner.
 */
export interface DatabaseRepairInputs {
  /** The superuser (ALTER SYSTEM needs it); a secret. */
  connection: PgConnection;
  /** The role that owns the schema objects: indexes are created as it. */
  ownerRole: string;
  /** `schema.name` → the CREATE INDEX statement of sql/. */
  indexes: Record<string, string>;
}

export interface DatabaseRepairOutputs extends DatabaseRepairInputs {
  /** Settings in postgresql.auto.conf at the last read. */
  alteredSettings: string[];
  /** Indexes of sql/ missing at the last read. */
  missingIndexes: string[];
}

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

/** What drifted: settings in postgresql.auto.conf, indexes of `indexes` that do not exist. */
export async function inspectServer(c: Queryable, indexes: Record<string, string>): Promise<{ alteredSettings: string[]; missingIndexes: string[] }> {
  const alteredSettings = (await c.query(`SELECT DISTINCT name FROM pg_file_settings WHERE sourcefile LIKE '%/postgresql.auto.conf' ORDER BY 1`)).rows.map((r) => String(r.name));
  const names = Object.keys(indexes).sort();
  const present = names.length ? (await c.query(`SELECT n FROM unnest($1::text[]) n WHERE to_regclass(n) IS NOT NULL`, [names])).rows.map((r) => String(r.n)) : [];
  return { alteredSettings, missingIndexes: names.filter((n) => !present.includes(n)) };
}

/** Resets ALTER SYSTEM and re-creates the missing indexes; returns what is left (nothing, normally). */
export async function repairServer(c: Queryable, inputs: DatabaseRepairInputs): Promise<{ alteredSettings: string[]; missingIndexes: string[] }> {
  const found = await inspectServer(c, inputs.indexes);
  if (found.alteredSettings.length) {
    // Outside a transaction: ALTER SYSTEM refuses to run in one.
    await c.query("ALTER SYSTEM RESET ALL");
    await c.query("SELECT pg_reload_conf()");
  }
  if (found.missingIndexes.length) {
    await c.query("BEGIN");
    try {
      await c.query(`SET LOCAL ROLE "${inputs.ownerRole}"`);
      for (const name of found.missingIndexes) await c.query(inputs.indexes[name]);
      await c.query("COMMIT");
    } catch (err) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw new Error(`re-creating the dropped indexes ${found.missingIndexes.join(", ")} failed: ${(err as Error).message}`, { cause: err });
    }
  }
  return inspectServer(c, inputs.indexes);
}

export function makeDatabaseRepairProvider(connect: Connect = connectPg): pulumi.dynamic.ResourceProvider {
  const run = async (inputs: DatabaseRepairInputs) => {
    const client = await connect(inputs.connection);
    try {
      return { ...inputs, ...(await repairServer(client, inputs)) };
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  return {
    async diff(_id: string, olds: DatabaseRepairOutputs, news: DatabaseRepairInputs) {
      const changed: string[] = [];
      if ((olds.alteredSettings ?? []).length) changed.push("alteredSettings");
      if ((olds.missingIndexes ?? []).length) changed.push("missingIndexes");
      if (JSON.stringify(olds.indexes) !== JSON.stringify(news.indexes)) changed.push("indexes");
      if (olds.ownerRole !== news.ownerRole) changed.push("ownerRole");
      const c = olds.connection;
      const n = news.connection;
      if (c?.host !== n.host || c?.port !== n.port || c?.database !== n.database || c?.user !== n.user || c?.password !== n.password || c?.ca !== n.ca) changed.push("connection");
      return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: DatabaseRepairInputs) {
      return { id: `${inputs.connection.database}/repair`, outs: await run(inputs) };
    },
    async update(_id: string, _olds: DatabaseRepairOutputs, news: DatabaseRepairInputs) {
      return { outs: await run(news) };
    },
    async read(id: string, props: DatabaseRepairOutputs) {
      const client = await connect(props.connection);
      try {
        return { id, props: { ...props, ...(await inspectServer(client, props.indexes)) } };
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    async delete() {
      // Nothing: it only repairs.
    },
  };
}

const databaseRepairProvider = makeDatabaseRepairProvider();

export type DatabaseRepairArgs = { [K in keyof DatabaseRepairInputs]: pulumi.Input<DatabaseRepairInputs[K]> };

/** See DatabaseRepairInputs. The connection (with its password) is stored as a secret. */
export class DatabaseRepair extends pulumi.dynamic.Resource {
  declare public readonly alteredSettings: pulumi.Output<string[]>;
  declare public readonly missingIndexes: pulumi.Output<string[]>;

  constructor(name: string, args: DatabaseRepairArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      databaseRepairProvider,
      name,
      { ...args, alteredSettings: undefined, missingIndexes: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
      "kryonix",
      "DatabaseRepair",
    );
  }
}
