import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { checkDatabaseArgs, type DatabaseArgs } from "../../../components/database";
import { grantProblems, LOGIN_ROLES, LOGIN_USERS, TABLE_GRANTS } from "../../../model/database";
import type { RoleSecret } from "../../../components/secrets";
import { connectionBudget } from "../../../model/connection-budget";

const roleSecret: RoleSecret = { password: pulumi.output("pw"), scramVerifier: pulumi.output("SCRAM-SHA-256$4096:x$y:z") };
const databaseArgs: DatabaseArgs = {
  stack: "dev",
  server: {} as pulumi.CustomResource,
  superuser: { host: "h", port: 1, user: "postgres", password: "x", ca: "ca" },
  connectionLimits: connectionBudget(100).roleLimits,
  roleSecrets: Object.fromEntries(LOGIN_USERS.map((r) => [r, roleSecret])) as Record<string, RoleSecret>,
  currentUsers: Object.fromEntries(LOGIN_ROLES.map((r) => [r, r])),
  dataVolume: {} as pulumi.Resource,
  adopt: false,
};

describe("Database arguments", () => {
  it("accept the defaults", () => {
    expect(() => checkDatabaseArgs(databaseArgs)).not.toThrow();
    expect(() => checkDatabaseArgs({ ...databaseArgs, adopt: { copy: "clean", roles: ["kryonix_app"], databases: [] } })).not.toThrow();
  });

  it("Database: the grant table is explicit and well-formed", () => {
    expect(grantProblems(TABLE_GRANTS)).toEqual([]);
    expect(grantProblems({ kryonix_app: { core: { tables: ["ALL"] } } })).toEqual([
      'privilege for kryonix_app on core: "ALL" is invalid: one of SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER, USAGE (never ALL)',
    ]);
    expect(grantProblems({ kryonix_app: { public: { tables: ["SELECT"] } } as never })[0]).toMatch(/grant schema for kryonix_app/);
    expect(() => checkDatabaseArgs({ ...databaseArgs, superuser: { ...databaseArgs.superuser, user: "Postgres" } })).toThrow(/Database superuser.user: "Postgres"/);
  });

  it("Database: the data volume, the role secrets and adopt are required", () => {
    const message = (args: DatabaseArgs) => {
      try {
        checkDatabaseArgs(args);
      } catch (err) {
        return (err as Error).message;
      }
      return "";
    };
    expect(message({ ...databaseArgs, dataVolume: undefined as never })).toMatch(/Database dataVolume/);
    expect(message({ ...databaseArgs, adopt: "yes" as never })).toMatch(/Database adopt: "yes" is invalid: false, or the kept cluster's \{roles, databases\}/);
    expect(message({ ...databaseArgs, adopt: true as never })).toMatch(/Database adopt: true is invalid/);
    expect(message({ ...databaseArgs, adopt: { copy: "clean", roles: "kryonix_app", databases: [] } as never })).toMatch(/Database adopt: /);
    const { kryonix_app: _app, ...missingApp } = databaseArgs.roleSecrets;
    expect(message({ ...databaseArgs, roleSecrets: missingApp as never })).toMatch(/Database roleSecrets\.kryonix_app/);
    const all = message({ ...databaseArgs, roleSecrets: undefined as never });
    for (const role of LOGIN_ROLES) expect(all).toContain(`Database roleSecrets.${role}`);
  });
});
