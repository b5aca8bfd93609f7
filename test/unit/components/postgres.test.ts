import { describe, expect, it } from "vitest";
import { checkPostgresArgs, type PostgresArgs } from "../../../components/postgres";
import { postgresParameters, validateStackConfig } from "../../../model/config";
import type { EngineFeatures } from "../../../model/containers";
import { GiB, MiB } from "../../../model/size";

const params = postgresParameters(validateStackConfig({}, "dev"));
const engine: EngineFeatures = { healthcheckStartInterval: false };
const postgresArgs: PostgresArgs = {
  stack: "dev",
  image: "kryonix/postgres:x",
  network: "kryonix-dev-net",
  memoryBytes: GiB,
  engine,
  cpus: 2,
  parameters: params,
  serverLog: "file",
  hostPort: 15432,
  protectData: false,
  superuserPassword: "x",
  tlsKeyPassphrase: "y",
  pgbackrest: { config: "[global]\n", secrets: "[global]\n", caCertificate: "-----BEGIN CERTIFICATE-----\n" },
  tls: { certificatePem: "cert", privateKeyPem: "key", caCertificate: "ca" },
};

describe("Postgres arguments", () => {
  it("accept the defaults", () => {
    expect(() => checkPostgresArgs(postgresArgs)).not.toThrow();
  });

  it("Postgres: names every bad argument at once", () => {
    const bad = { ...postgresArgs, memoryBytes: 100 * MiB, cpus: 0, hostPort: 80, parameters: { ...params, max_connections: "lots" } };
    const message = (() => {
      try {
        checkPostgresArgs(bad);
      } catch (err) {
        return (err as Error).message;
      }
      return "";
    })();
    expect(message).toMatch(/^Postgres: /);
    expect(message).toContain("Postgres memoryBytes: 104857600 is invalid");
    expect(message).toContain("Postgres cpus: 0 is invalid");
    expect(message).toContain("Postgres hostPort: 80 is invalid");
    expect(message).toContain("Postgres parameters.max_connections");
  });

  it("Postgres: a parameter name postgresql.conf cannot hold", () => {
    expect(() => checkPostgresArgs({ ...postgresArgs, parameters: { ...params, "bad name": "1" } })).toThrow(/postgresql.conf parameter name/);
  });
});
