import * as pulumi from "@pulumi/pulumi";
import { type Connect, connectPg, type PgConnection } from "../io/pg-connect";

/**
 * A SQL script run once, in one transaction, through the dynamic-provider
 * plugin, for what @pulumi/postgresql cannot express (a SECURITY DEFINER
 * function with a pinned search_path). The script must be idempotent
 * (CREATE OR REPLACE, IF NOT EXISTS): it runs again whenever it or its
 * connection changes. `destroySql` runs when the resource is deleted.
 */
export interface SqlScriptInputs {
  connection: PgConnection;
  /** Shown in errors and used in the id, e.g. "pgbouncer auth function". */
  description: string;
  sql: string;
  destroySql?: string;
}

export type SqlScriptArgs = { [K in keyof SqlScriptInputs]: pulumi.Input<SqlScriptInputs[K]> };

async function runInTransaction(connect: Connect, connection: PgConnection, description: string, sql: string): Promise<void> {
  const client = await connect(connection);
  try {
    await client.query("BEGIN");
    try {
      await client.query(sql);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw new Error(`${description} failed and was rolled back: ${(err as Error).message}`, { cause: err });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

function sameTarget(a: PgConnection, b: PgConnection): boolean {
  return a.host === b.host && a.port === b.port && a.database === b.database && a.user === b.user && a.password === b.password && a.ca === b.ca;
}

/** The dynamic provider; `connect` defaults to node-postgres. */
export function makeSqlScriptProvider(connect: Connect = connectPg): pulumi.dynamic.ResourceProvider {
  return {
    async check(_olds: SqlScriptInputs, news: SqlScriptInputs) {
      const failures: pulumi.dynamic.CheckFailure[] = [];
      if (typeof news.sql !== "string" || news.sql.trim() === "") failures.push({ property: "sql", reason: "the script is empty" });
      if (typeof news.description !== "string" || news.description === "") {
        failures.push({ property: "description", reason: "a description is required" });
      }
      return { inputs: news, failures };
    },
    async diff(_id: string, olds: SqlScriptInputs, news: SqlScriptInputs) {
      const changed: string[] = [];
      if (olds.sql !== news.sql) changed.push("sql");
      if ((olds.destroySql ?? "") !== (news.destroySql ?? "")) changed.push("destroySql");
      if (!sameTarget(olds.connection, news.connection)) changed.push("connection");
      if (olds.description !== news.description) changed.push("description");
      return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: SqlScriptInputs) {
      await runInTransaction(connect, inputs.connection, inputs.description, inputs.sql);
      return { id: `${inputs.connection.database}/${inputs.description}`, outs: inputs };
    },
    async update(_id: string, _olds: SqlScriptInputs, news: SqlScriptInputs) {
      await runInTransaction(connect, news.connection, news.description, news.sql);
      return { outs: news };
    },
    async delete(_id: string, props: SqlScriptInputs) {
      if (props.destroySql) await runInTransaction(connect, props.connection, `${props.description} (destroy)`, props.destroySql);
    },
  };
}

const sqlScriptProvider = makeSqlScriptProvider();

/** See SqlScriptInputs. The connection (with its password) is stored as a secret. */
export class SqlScript extends pulumi.dynamic.Resource {
  constructor(name: string, args: SqlScriptArgs, opts?: pulumi.CustomResourceOptions) {
    super(sqlScriptProvider, name, args, {
      ...opts,
      additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"],
    }, "kryonix", "SqlScript");
  }
}
