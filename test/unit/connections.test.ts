import { parse } from "pg-connection-string";
import { describe, expect, it } from "vitest";
import { libpqUri, POOLED_ROLES, stackConnections, type ConnectionSources } from "../../model/connections";
import { EXPECTATIONS } from "../../ops/connection-checks";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
// Every character a URI gives a meaning to, and one outside ASCII.
const AWKWARD = "p@ss:w/o?r#d%20&x=y +ç";

function sources(logins: Record<string, { user: string; password: string }>): ConnectionSources {
  return {
    endpoints: { postgres: { host: "127.0.0.1", port: 15432, database: "kryonix_saas" }, pgbouncer: { host: "127.0.0.1", port: 16432, database: "kryonix_saas" } },
    credentials: { postgres: { user: "postgres", password: AWKWARD }, logins },
    caCertificate: CA,
  };
}

const LOGINS = {
  kryonix_migrator: { user: "kryonix_migrator", password: "m1" },
  kryonix_app: { user: "kryonix_app_b", password: AWKWARD },
  metabase_readonly: { user: "metabase_readonly", password: "r1" },
  kryonix_monitor: { user: "kryonix_monitor", password: "mon" },
  kryonix_pgbouncer: { user: "kryonix_pgbouncer", password: "pgb" },
  kryonix_drill: { user: "kryonix_drill", password: "d" },
};

describe("libpqUri", () => {
  it("percent-encodes user, password and database, and asks for verify-full", () => {
    const uri = libpqUri({ host: "127.0.0.1", port: 6432, database: "my db" }, { user: "a@b", password: AWKWARD });
    expect(uri).toBe(`postgresql://a%40b:${encodeURIComponent(AWKWARD)}@127.0.0.1:6432/my%20db?sslmode=verify-full`);
    // node-postgres' parser (libpq's rules: percent-decoding of every part) gets the values back.
    const parsed = parse(uri);
    expect(parsed).toMatchObject({ user: "a@b", password: AWKWARD, host: "127.0.0.1", port: "6432", database: "my db" });
    expect(parsed.ssl).toBeTruthy();
  });

  it("brackets an IPv6 host", () => {
    expect(libpqUri({ host: "::1", port: 5432, database: "d" }, { user: "u", password: "p" })).toBe("postgresql://u:p@[::1]:5432/d?sslmode=verify-full");
  });

  it("refuses a port that is not one", () => {
    expect(() => libpqUri({ host: "127.0.0.1", port: 0, database: "d" }, { user: "u", password: "p" })).toThrow(/port of 127\.0\.0\.1: 0 is invalid/);
    expect(() => libpqUri({ host: "127.0.0.1", port: 6432.5, database: "d" }, { user: "u", password: "p" })).toThrow(/a whole number from 1 to 65535/);
  });
});

describe("stackConnections", () => {
  it("gives each pooled role its current login through PgBouncer, the superuser the direct port, and the CA", () => {
    const c = stackConnections(sources(LOGINS));
    expect(Object.keys(c.pgbouncer)).toEqual(["kryonix_migrator", "kryonix_app", "metabase_readonly", "kryonix_monitor"]);
    // After an odd rotation the application's login is the twin.
    expect(parse(c.pgbouncer.kryonix_app)).toMatchObject({ user: "kryonix_app_b", password: AWKWARD, host: "127.0.0.1", port: "16432", database: "kryonix_saas" });
    expect(c.pgbouncer.kryonix_migrator).toBe("postgresql://kryonix_migrator:m1@127.0.0.1:16432/kryonix_saas?sslmode=verify-full");
    expect(parse(c.admin)).toMatchObject({ user: "postgres", password: AWKWARD, port: "15432", database: "kryonix_saas" });
    expect(c.caCertificate).toBe(CA);
    // Neither the lookup role nor the drill's: PgBouncer serves them no database.
    expect(JSON.stringify(c)).not.toMatch(/kryonix_pgbouncer|kryonix_drill/);
  });

  it("names the role whose login is missing", () => {
    const { kryonix_monitor: _, ...without } = LOGINS;
    expect(() => stackConnections(sources(without))).toThrow(/no login for kryonix_monitor in credentials\.logins/);
  });

  it("pools exactly the roles that `npm run test:db:connection` expects to log in through PgBouncer", () => {
    const throughPgbouncer = EXPECTATIONS.filter((e) => !e.actsAs && e.sessions.some((s) => s.path === "pgbouncer" && s.login === "allowed")).map((e) => e.role);
    expect([...POOLED_ROLES].sort()).toEqual(throughPgbouncer.sort());
  });
});
