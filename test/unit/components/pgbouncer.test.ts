import { describe, expect, it } from "vitest";
import { checkPgbouncerArgs, pgbouncerIni, renderUserlist, type PgbouncerArgs } from "../../../components/pgbouncer";
import { pgbouncerPoolSizes } from "../../../model/connection-budget";
import type { EngineFeatures } from "../../../model/containers";
import { MiB } from "../../../model/size";

const engine: EngineFeatures = { healthcheckStartInterval: false };
const pgbouncerArgs: PgbouncerArgs = {
  stack: "dev",
  image: "kryonix/pgbouncer:x",
  network: "kryonix-dev-net",
  memoryBytes: 256 * MiB,
  engine,
  hostPort: 16432,
  postgresHost: "kryonix-dev-postgres",
  postgresPort: 5432,
  pools: pgbouncerPoolSizes(100),
  database: "kryonix_saas",
  authUser: "kryonix_pgbouncer",
  authPassword: "x",
  authSchema: "pgbouncer",
  tls: { certificatePem: "cert", privateKeyPem: "key", caCertificate: "ca" },
};

describe("Pgbouncer arguments", () => {
  it("accept the defaults", () => {
    expect(() => checkPgbouncerArgs(pgbouncerArgs)).not.toThrow();
  });

  it("Pgbouncer: bad port, host and database", () => {
    expect(() => checkPgbouncerArgs({ ...pgbouncerArgs, hostPort: 70000 })).toThrow(/Pgbouncer hostPort: 70000/);
    expect(() => checkPgbouncerArgs({ ...pgbouncerArgs, postgresHost: "bad host" })).toThrow(/\[databases\] host/);
    expect(() => checkPgbouncerArgs({ ...pgbouncerArgs, database: "pgbouncer" })).toThrow(/admin console/);
    expect(() => checkPgbouncerArgs({ ...pgbouncerArgs, pools: { ...pgbouncerArgs.pools, max_db_connections: 1 } })).toThrow(/at most max_db_connections/);
  });

  it("Pgbouncer: userlist.txt quotes its values", () => {
    expect(renderUserlist("kryonix_pgbouncer", 'a"b')).toBe('"kryonix_pgbouncer" "a""b"\n');
    expect(() => renderUserlist("u", "a\nb")).toThrow(/single lines/);
    expect(pgbouncerIni(pgbouncerArgs)).toContain("auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)");
  });
});
