import { describe, expect, it } from "vitest";
import { checkSecretsArgs } from "../../../components/secrets";
import { LOGIN_ROLES } from "../../../model/database";
import { ofType, resolved, runProgram, stackFile, useProgramMocks } from "../../support/program-mocks";

useProgramMocks();

describe("Secrets", () => {
  it("accept the defaults", () => {
    expect(() => checkSecretsArgs({ stack: "dev", loginRoles: LOGIN_ROLES })).not.toThrow();
  });

  it("Secrets: a bad stack name and bad role names", () => {
    expect(() => checkSecretsArgs({ stack: "Dev!", loginRoles: LOGIN_ROLES })).toThrow(/^Secrets: Pulumi stack name/);
    expect(() => checkSecretsArgs({ stack: "dev", loginRoles: ["kryonix_app", "Bad Role"] })).toThrow(/Secrets loginRoles: .* lower-case role names/);
    expect(() => checkSecretsArgs({ stack: "dev", loginRoles: "kryonix_app" as never })).toThrow(/Secrets loginRoles/);
  });

  it("after a rotation, sets a new password on the other user only, makes it current, and migrates as it", async () => {
    const rotations = { kryonix_app: 1, kryonix_migrator: 1, metabase_readonly: 2, kryonix_monitor: 1 };
    const rotated = await runProgram("dev", { ...stackFile("dev"), "kryonix:roleRotations": JSON.stringify(rotations) });
    expect(rotated.error).toBeUndefined();
    const credentials = await resolved<any>((rotated.exports as Record<string, any>).credentials);
    expect(credentials.logins.kryonix_app.user).toBe("kryonix_app_b");
    expect(credentials.logins.kryonix_migrator.user).toBe("kryonix_migrator_b");
    expect(credentials.logins.metabase_readonly.user).toBe("metabase_readonly");
    expect(credentials.logins.kryonix_monitor.user).toBe("kryonix_monitor");
    expect(credentials.logins.kryonix_pgbouncer.user).toBe("kryonix_pgbouncer");
    for (const l of Object.values<{ user: string; password: string }>(credentials.logins)) expect(l.password).toBe(credentials.roles[l.user]);
    // The rotation that last set each user's password is its keeper; none before the first (what a stack made earlier has).
    const keeper = (user: string) => ofType(rotated, "random:index/randomPassword:RandomPassword").find((r) => r.name === `secrets-${user}-password`)!.inputs.keepers;
    const saltKeeper = (user: string) => ofType(rotated, "random:index/randomBytes:RandomBytes").find((r) => r.name === `secrets-${user}-salt`)!.inputs.keepers;
    expect(keeper("kryonix_app")).toBeUndefined();
    expect(keeper("kryonix_app_b")).toEqual({ rotation: "1" });
    expect(saltKeeper("kryonix_app_b")).toEqual({ rotation: "1" });
    expect(keeper("metabase_readonly")).toEqual({ rotation: "2" });
    expect(keeper("metabase_readonly_b")).toEqual({ rotation: "1" });
    expect(keeper("kryonix_monitor")).toEqual({ rotation: "1" });
    const migrations = rotated.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:SqlMigrations")!;
    expect(migrations.inputs.connection).toMatchObject({ user: "kryonix_migrator_b", password: credentials.roles.kryonix_migrator_b });
    // A whole program run under mocks (the first in this file loads it): seconds on a loaded machine.
  }, 60_000);
});
