import { describe, expect, it } from "vitest";
import { checkMigrationsArgs } from "../../../components/migrations";
import { loadMigrationFiles } from "../../../io/migrations-fs";

describe("Migrations arguments", () => {
  it("accept the defaults", () => {
    expect(() => checkMigrationsArgs({ host: "h", port: 1, database: "d", user: "u", password: "p", ca: "ca", role: "r", files: loadMigrationFiles() })).not.toThrow();
  });

  it("Migrations: bad file names fail before anything runs", () => {
    const files = [{ name: "1_init.sql", sql: "SELECT 1;" }];
    expect(() => checkMigrationsArgs({ host: "h", port: 1, database: "d", user: "u", password: "p", ca: "ca", role: "r", files })).toThrow(/NNN_words.sql/);
    expect(() => checkMigrationsArgs({ host: "h", port: 1, database: "d", user: "u", password: "p", ca: "ca", role: "r", files: [] })).toThrow(/no \*.sql/);
  });
});
