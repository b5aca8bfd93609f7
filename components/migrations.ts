import * as pulumi from "@pulumi/pulumi";
import type { MigrationFile } from "../model/migrations";
import { migrationInputProblems, migrationInputs, SqlMigrations } from "../providers/sql-migrations";

export interface MigrationsArgs {
  /** Where the Pulumi host reaches PostgreSQL. */
  host: pulumi.Input<string>;
  port: pulumi.Input<number>;
  database: pulumi.Input<string>;
  /** The migration login and its password (a secret). */
  user: pulumi.Input<string>;
  password: pulumi.Input<string>;
  /** The stack CA (PEM): the connection is TLS, verify-full. */
  ca: pulumi.Input<string>;
  /** The schema owner role the files run as. */
  role: pulumi.Input<string>;
  /** The files of sql/, e.g. loadMigrationFiles(). */
  files: readonly MigrationFile[];
}

/** Throws when the files cannot be planned at all (bad names, duplicate numbers). Pure. */
export function checkMigrationsArgs(args: MigrationsArgs): void {
  const problems = migrationInputProblems(migrationInputs(args.files));
  if (args.files.length === 0) problems.push("Migrations: sql/ holds no *.sql file");
  if (problems.length) throw new Error(`Migrations: ${problems.join("; ")}`);
}

/**
 * Applies the DDL in sql/ as the final step: pass every role, schema and
 * grant it needs in `dependsOn`.
 */
export class Migrations extends pulumi.ComponentResource {
  public readonly migrations: SqlMigrations;
  /** Names of the applied files, in order. */
  public readonly applied: pulumi.Output<string[]>;

  constructor(name: string, args: MigrationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Migrations", name, {}, opts);
    checkMigrationsArgs(args);
    this.migrations = new SqlMigrations(
      `${name}-sql`,
      {
        connection: pulumi.secret(
          pulumi.all([args.host, args.port, args.database, args.user, args.password, args.ca]).apply(([host, port, database, user, password, ca]) => ({
            host,
            port,
            database,
            user,
            password,
            ca,
          })),
        ),
        role: args.role,
        files: migrationInputs(args.files),
      },
      // A component's dependsOn does not hold back its children by itself: pass it on.
      { parent: this, dependsOn: opts?.dependsOn },
    );
    this.applied = this.migrations.applied.apply((rows) => (rows ?? []).map((r) => r.name));
    this.registerOutputs({ applied: this.applied });
  }
}
