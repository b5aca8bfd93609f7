import { describe, expect, it } from "vitest";
import { BACKUP_BUCKET } from "../../../providers/minio-bucket";
import { makePgbackrestStanzaProvider, stanzaInputProblems } from "../../../providers/pgbackrest-stanza";

describe("PgbackrestStanza provider", () => {
  it("the stanza provider runs stanza-create then check as postgres in the container, and fails naming the command", async () => {
    const calls: string[][] = [];
    const provider = makePgbackrestStanzaProvider((args) => {
      calls.push(args);
      return args.includes("check") ? { code: 82, out: "ERROR: [082]: WAL segment was not archived" } : { code: 0, out: "" };
    });
    const inputs = { container: "kryonix-dev-postgres", stanza: "kryonix", bucket: BACKUP_BUCKET };
    await expect(provider.create!(inputs)).rejects.toThrow(/pgbackrest --stanza=kryonix check exited 82:\nERROR: \[082\]/);
    expect(calls).toEqual([
      ["exec", "-u", "postgres", "kryonix-dev-postgres", "pgbackrest", "--stanza=kryonix", "stanza-create"],
      ["exec", "-u", "postgres", "kryonix-dev-postgres", "pgbackrest", "--stanza=kryonix", "check"],
    ]);
    expect((await provider.diff!("x", inputs, { ...inputs })).changes).toBe(false);
    expect((await provider.diff!("x", inputs, { ...inputs, container: "other" })).changes).toBe(true);
    expect(stanzaInputProblems({ container: "a b", stanza: "Bad", bucket: "" }).map((f) => f.property)).toEqual(["container", "stanza", "bucket"]);
  });
});
