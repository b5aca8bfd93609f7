import { describe, expect, it } from "vitest";
import { makeSqlScriptProvider } from "../../../providers/sql-script";
import { connection, FakeDb } from "../../support/fake-db";

describe("the SQL script provider", () => {
  it("runs the script in one transaction and the destroy script on delete", async () => {
    const db = new FakeDb();
    const provider = makeSqlScriptProvider(db.connect);
    const inputs = { connection, description: "pgbouncer auth function", sql: "CREATE SCHEMA x;", destroySql: "DROP SCHEMA x;" };
    const created = await provider.create!(inputs);
    expect(created.id).toBe("kryonix_saas/pgbouncer auth function");
    await provider.delete!(created.id, inputs);
    expect(db.queries).toEqual(["BEGIN", "CREATE SCHEMA x;", "COMMIT", "BEGIN", "DROP SCHEMA x;", "COMMIT"]);
    expect((await provider.diff!("id", inputs, inputs)).changes).toBe(false);
    expect((await provider.diff!("id", inputs, { ...inputs, sql: "CREATE SCHEMA y;" })).changes).toBe(true);
  });

  it("rolls back and names the script when it fails", async () => {
    const db = new FakeDb();
    db.failOn = "CREATE";
    const provider = makeSqlScriptProvider(db.connect);
    await expect(provider.create!({ connection, description: "auth fn", sql: "CREATE SCHEMA x;" })).rejects.toThrow(
      /auth fn failed and was rolled back: boom in CREATE/,
    );
    expect(db.queries).toEqual(["BEGIN", "CREATE SCHEMA x;", "ROLLBACK"]);
    expect(db.ended).toBe(1);
  });
});
