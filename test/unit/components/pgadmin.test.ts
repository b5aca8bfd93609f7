import { describe, expect, it } from "vitest";
import { checkPgadminArgs, pgadminEnvs, renderServersJson, type PgadminArgs } from "../../../components/pgadmin";
import type { EngineFeatures } from "../../../model/containers";
import { MiB } from "../../../model/size";

const engine: EngineFeatures = { healthcheckStartInterval: false };
const pgadminArgs: PgadminArgs = {
  stack: "dev",
  image: "kryonix/pgadmin:x",
  network: "kryonix-dev-net",
  memoryBytes: 512 * MiB,
  engine,
  hostPort: 15050,
  email: "admin@kryonix.com.br",
  password: "x",
  servers: [{ name: "kryonix", host: "kryonix-dev-pgbouncer", port: 6432, database: "kryonix_saas", username: "kryonix_monitor", passFile: true }],
  pgpass: "kryonix-dev-pgbouncer:6432:*:kryonix_monitor:x\n",
  caCertificate: "ca",
};

describe("Pgadmin arguments", () => {
  it("accept the defaults", () => {
    expect(() => checkPgadminArgs(pgadminArgs)).not.toThrow();
  });

  it("Pgadmin: bad e-mail, URL and server", () => {
    expect(() => checkPgadminArgs({ ...pgadminArgs, email: "admin" })).toThrow(/Pgadmin email: "admin"/);
    expect(() => checkPgadminArgs({ ...pgadminArgs, publicUrl: "ftp://x" })).toThrow(/Pgadmin publicUrl/);
    expect(() => checkPgadminArgs({ ...pgadminArgs, servers: [{ ...pgadminArgs.servers[0], host: "" }] })).toThrow(/Pgadmin server/);
    expect(() => checkPgadminArgs({ ...pgadminArgs, servers: [] })).toThrow(/Pgadmin servers/);
    expect(() => checkPgadminArgs({ ...pgadminArgs, pgpass: undefined })).toThrow(/Pgadmin pgpass/);
  });

  it("Pgadmin: servers.json and the environment carry no password", () => {
    // The passFile server names the PassFile only; no password, no other "pass" key.
    const json = JSON.parse(renderServersJson(...pgadminArgs.servers, { ...pgadminArgs.servers[0], name: "dba", passFile: false }));
    expect(json.Servers["1"].ConnectionParameters.passfile).toBe("/.pgpass");
    expect(json.Servers["2"].ConnectionParameters).not.toHaveProperty("passfile");
    expect(renderServersJson(...pgadminArgs.servers).replace('"passfile": "/.pgpass"', "")).not.toMatch(/pass/i);
    expect(pgadminEnvs({ email: "a@b.co", publicUrl: "https://pgadmin.kryonix.com.br" })).toEqual([
      "PGADMIN_DEFAULT_EMAIL=a@b.co",
      "PGADMIN_PUBLIC_URL=https://pgadmin.kryonix.com.br",
    ]);
    expect(pgadminEnvs({ email: "a@b.co" })).toEqual(["PGADMIN_DEFAULT_EMAIL=a@b.co"]);
  });
});
