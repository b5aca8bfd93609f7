import * as pulumi from "@pulumi/pulumi";
import { applyMigrations } from "../io/migration-runner";
import { checksum, LEDGER_TABLE, planMigrations, type AppliedMigration, type MigrationFile } from "../model/migrations";
import { type Connect, connectPg, type PgConnection } from "../io/pg-connect";
import { invalid } from "../model/messages";

/** One file of sql/ as the resource records it. */
export interface MigrationInput {
  name: string;
  /** sha256 of `sql`, as model/migrations.ts checksum() computes it. */
  checksum: string;
  sql: string;
}

export interface MigrationsInputs {
  /** The migration login (kryonix_migrator); its password is stored as a secret. */
  connection: PgConnection;
  /** The schema owner every file runs as (SET LOCAL ROLE). */
  role: string;
  files: MigrationInput[];
}

export interface MigrationsOutputs extends MigrationsInputs {
  /** audit.schema_migrations as last read: what the database has applied. */
  applied: AppliedMigration[];
}

/** The MigrationInput list for the given files. Pure. */
export function migrationInputs(files: readonly MigrationFile[]): MigrationInput[] {
  return files.map((f) => ({ name: f.name, checksum: checksum(f.sql), sql: f.sql }));
}

/** Problems with the files (names, numbering, checksums that do not match their SQL). Pure. */
export function migrationInputProblems(files: unknown): string[] {
  if (!Array.isArray(files)) return [invalid("Migrations files", files, "a list of {name, checksum, sql}")];
  const problems: string[] = [];
  for (const f of files as MigrationInput[]) {
    if (typeof f?.sql !== "string" || typeof f?.name !== "string") {
      problems.push(invalid("Migrations file", f?.name ?? f, "an object with name and sql strings"));
    } else if (f.checksum !== checksum(f.sql)) {
      problems.push(`sql/${f.name}: recorded checksum ${f.checksum} does not match its content (${checksum(f.sql)})`);
    }
  }
  if (problems.length) return problems;
  try {
    planMigrations(files as MigrationFile[], []);
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

async function readLedger(client: { query(sql: string): Promise<{ rows: any[] }> }): Promise<AppliedMigration[]> {
  const { rows: exists } = await client.query(`SELECT to_regclass('${LEDGER_TABLE}') IS NOT NULL AS present`);
  if (!exists[0]?.present) return [];
  const { rows } = await client.query(`SELECT name, checksum FROM ${LEDGER_TABLE} ORDER BY name`);
  return rows.map((r) => ({ name: String(r.name), checksum: String(r.checksum) }));
}

function sameConnection(a: PgConnection, b: PgConnection): boolean {
  return a.host === b.host && a.port === b.port && a.database === b.database && a.user === b.user && a.password === b.password && a.ca === b.ca;
}

/**
 * The dynamic provider. `diff` plans the new files against the ledger the
 * last up or refresh read, so a file that was applied and has since changed
 * fails `pulumi preview` and `pulumi up` with planMigrations' error, before
 * anything runs; create and update apply through applyMigrations, which
 * plans again under its lock against the live ledger. Delete leaves the
 * database alone: the schema's objects live and die with the data volume.
 */
export function makeMigrationsProvider(connect: Connect = connectPg): pulumi.dynamic.ResourceProvider {
  async function apply(inputs: MigrationsInputs): Promise<MigrationsOutputs> {
    const client = await connect(inputs.connection);
    try {
      const files = inputs.files.map((f) => ({ name: f.name, sql: f.sql }));
      await applyMigrations(client, files, { role: inputs.role });
      return { ...inputs, applied: await readLedger(client) };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  return {
    async check(_olds: MigrationsInputs, news: MigrationsInputs) {
      const failures = migrationInputProblems(news.files).map((reason) => ({ property: "files", reason }));
      if (typeof news.role !== "string" || news.role === "") failures.push({ property: "role", reason: "the schema owner role is required" });
      return { inputs: news, failures };
    },
    async diff(_id: string, olds: MigrationsOutputs, news: MigrationsInputs) {
      // Throws for an applied file that changed or went missing, a renumbering, ...
      const { toApply } = planMigrations(
        news.files.map((f) => ({ name: f.name, sql: f.sql })),
        olds.applied ?? [],
      );
      const changes = toApply.length > 0 || olds.role !== news.role || !sameConnection(olds.connection, news.connection);
      return { changes, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: MigrationsInputs) {
      const outs = await apply(inputs);
      return { id: `${inputs.connection.database}/${LEDGER_TABLE}`, outs };
    },
    async update(_id: string, _olds: MigrationsOutputs, news: MigrationsInputs) {
      return { outs: await apply(news) };
    },
    async read(id: string, props: MigrationsOutputs) {
      const client = await connect(props.connection);
      try {
        return { id, props: { ...props, applied: await readLedger(client) } };
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    async delete() {
      // Intentionally nothing: see above.
    },
  };
}

const migrationsProvider = makeMigrationsProvider();

export type SqlMigrationsArgs = {
  connection: pulumi.Input<PgConnection>;
  role: pulumi.Input<string>;
  files: pulumi.Input<MigrationInput[]>;
};

/** The ledger-tracked application of sql/ (see makeMigrationsProvider). */
export class SqlMigrations extends pulumi.dynamic.Resource {
  declare public readonly applied: pulumi.Output<AppliedMigration[]>;

  constructor(name: string, args: SqlMigrationsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      migrationsProvider,
      name,
      { ...args, applied: undefined },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
      "kryonix",
      "SqlMigrations",
    );
  }
}
