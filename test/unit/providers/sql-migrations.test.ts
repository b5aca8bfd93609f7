import { describe, expect, it } from "vitest";
import { checksum } from "../../../model/migrations";
import { makeMigrationsProvider, migrationInputs, type MigrationsOutputs } from "../../../providers/sql-migrations";
import { connection, FakeDb, file } from "../../support/fake-db";

describe("the migrations provider", () => {
  const a = file("001_a.sql");
  const b = file("002_b.sql");

  it("applies pending files as the owner role and records the ledger", async () => {
    const db = new FakeDb();
    const provider = makeMigrationsProvider(db.connect);
    const inputs = { connection, role: "kryonix_owner", files: migrationInputs([a, b]) };
    const created = await provider.create!(inputs);
    expect(created.outs.applied).toEqual([
      { name: a.name, checksum: checksum(a.sql) },
      { name: b.name, checksum: checksum(b.sql) },
    ]);
    expect(db.queries).toContain('SET LOCAL ROLE "kryonix_owner"');
    expect(db.ended).toBe(1);
  });

  it("diff: nothing to do when every file is applied", async () => {
    const provider = makeMigrationsProvider(new FakeDb().connect);
    const outs: MigrationsOutputs = {
      connection,
      role: "kryonix_owner",
      files: migrationInputs([a]),
      applied: [{ name: a.name, checksum: checksum(a.sql) }],
    };
    expect((await provider.diff!("id", outs, { connection, role: "kryonix_owner", files: migrationInputs([a]) })).changes).toBe(false);
    expect((await provider.diff!("id", outs, { connection, role: "kryonix_owner", files: migrationInputs([a, b]) })).changes).toBe(true);
  });

  it("diff: an applied file whose content changed fails the preview", async () => {
    const provider = makeMigrationsProvider(new FakeDb().connect);
    const outs: MigrationsOutputs = { connection, role: "r", files: migrationInputs([a]), applied: [{ name: a.name, checksum: checksum(a.sql) }] };
    const changed = file(a.name, "SELECT 2;\n");
    await expect(provider.diff!("id", outs, { connection, role: "r", files: migrationInputs([changed]) })).rejects.toThrow(
      /sql\/001_a.sql was applied with checksum .* but now has .*: applied migrations are immutable/,
    );
  });

  it("check: a checksum that does not match the SQL, and bad names", async () => {
    const provider = makeMigrationsProvider(new FakeDb().connect);
    const tampered = [{ name: a.name, checksum: "0".repeat(64), sql: a.sql }];
    const checked = await provider.check!({}, { connection, role: "r", files: tampered });
    expect(checked.failures?.[0].reason).toMatch(/recorded checksum 0+ does not match/);
    const badName = await provider.check!({}, { connection, role: "r", files: migrationInputs([file("x.sql")]) });
    expect(badName.failures?.[0].reason).toMatch(/NNN_words.sql/);
  });

  it("read: refresh reads the live ledger", async () => {
    const db = new FakeDb();
    db.ledger = [{ name: a.name, checksum: "abc" }];
    const provider = makeMigrationsProvider(db.connect);
    const read = await provider.read!("id", { connection, role: "r", files: [], applied: [] });
    expect(read.props.applied).toEqual([{ name: a.name, checksum: "abc" }]);
  });
});
