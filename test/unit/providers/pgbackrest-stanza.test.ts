import { describe, expect, it } from "vitest";
import { BACKUP_BUCKET } from "../../../providers/minio-bucket";
import { lockBusy, makePgbackrestStanzaProvider, stanzaBackups, stanzaInputProblems, type StanzaWaits } from "../../../providers/pgbackrest-stanza";

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

const inputs = { container: "kryonix-dev-postgres", stanza: "kryonix", bucket: "kryonix-backups" };
const exec = (...args: string[]) => ["exec", "-u", "postgres", "kryonix-dev-postgres", "pgbackrest", "--stanza=kryonix", ...args];
const INFO = exec("--output=json", "--log-level-console=warn", "info");
const BACKUP = exec("--type=full", "--log-level-console=warn", "backup");
const info = (labels: string[]) => JSON.stringify([{ name: "kryonix", status: { code: labels.length ? 0 : 2, message: labels.length ? "ok" : "no valid backups" }, backup: labels.map((label) => ({ label, type: "full" })) }]);

/** A docker CLI that answers info from `repository` and adds a backup to it on `backup`. */
function fakeDocker(repository: string[]) {
  const calls: string[][] = [];
  const docker = (args: string[]) => {
    calls.push(args);
    const command = args[args.length - 1];
    if (command === "info") return { code: 0, out: info(repository) };
    if (command === "backup") repository.push("20261207-150000F");
    return { code: 0, out: "" };
  };
  return { calls, docker };
}

describe("the stanza provider's first backup", () => {
  it("takes a full backup when the repository holds none, and records its label", async () => {
    const { calls, docker } = fakeDocker([]);
    const created = await makePgbackrestStanzaProvider(docker).create!(inputs);
    expect(calls).toEqual([exec("stanza-create"), exec("check"), INFO, BACKUP, INFO]);
    expect(created.outs).toEqual({ ...inputs, firstBackup: "20261207-150000F" });
  });

  it("takes none when the repository already has a backup (a kept volume adopted again)", async () => {
    const { calls, docker } = fakeDocker(["20261201-020000F", "20261202-070000F_20261202-070000D"]);
    const created = await makePgbackrestStanzaProvider(docker).create!(inputs);
    expect(calls).toEqual([exec("stanza-create"), exec("check"), INFO]);
    expect(created.outs.firstBackup).toBeNull();
    // An update keeps the label of the backup the resource took.
    const updated = await makePgbackrestStanzaProvider(docker).update!("x", { ...inputs, firstBackup: "20261201-020000F" }, { ...inputs, container: "kryonix-dev2-postgres" });
    expect(updated.outs?.firstBackup).toBe("20261201-020000F");
  });

  it("fails naming the command when the backup fails, and on info output it cannot read", async () => {
    const failing = makePgbackrestStanzaProvider((args) => (args.includes("backup") ? { code: 47, out: "ERROR: [047]: unable to connect" } : { code: 0, out: info([]) }));
    await expect(failing.create!(inputs)).rejects.toThrow(/--type=full --log-level-console=warn backup exited 47:\nERROR: \[047\]/);
    expect(() => stanzaBackups("WARN: not json", "kryonix")).toThrow(/pgbackrest info printed no JSON: WARN: not json/);
    expect(stanzaBackups("[]", "kryonix")).toEqual([]);
    expect(stanzaBackups(info(["a", "b"]), "other")).toEqual([]);
  });
});

describe("the stanza provider and a scheduled backup holding the lock", () => {
  const LOCKED = { code: 50, out: "", stderr: "ERROR: [050]: unable to acquire lock on file '/tmp/pgbackrest/kryonix-backup-1.lock': Resource temporarily unavailable\n HINT: is another pgBackRest process running?" };
  const waits = (lockWaitMs: number): StanzaWaits & { paused: number } => {
    const w = { lockWaitMs, retryMs: 5_000, paused: 0, pause: async (ms: number) => void (w.paused += ms) };
    return w;
  };

  it("waits for the lock, and takes no backup of its own when the scheduled one left a backup", async () => {
    const repository: string[] = [];
    const calls: string[][] = [];
    // The scheduled differential (promoted to a full) finishes during the second wait.
    let rounds = 0;
    const w = waits(60_000);
    w.pause = async () => {
      if (++rounds === 2) repository.push("20261207-180300F");
    };
    const patient = makePgbackrestStanzaProvider((args) => {
      calls.push(args);
      const command = args[args.length - 1];
      if (command === "info") return { code: 0, out: info(repository) };
      return command === "backup" ? LOCKED : { code: 0, out: "" };
    }, w);
    const created = await patient.create!(inputs);
    expect(created.outs.firstBackup).toBeNull();
    expect(calls.filter((c) => c[c.length - 1] === "backup")).toHaveLength(2);
  });

  it("retries its own backup when the lock is free again and nothing was left, and gives up after the wait, saying why", async () => {
    const repository: string[] = [];
    let busy = 2;
    const retrying = makePgbackrestStanzaProvider((args) => {
      const command = args[args.length - 1];
      if (command === "info") return { code: 0, out: info(repository) };
      if (command === "backup") {
        if (busy-- > 0) return LOCKED;
        repository.push("20261207-180500F");
      }
      return { code: 0, out: "" };
    }, waits(60_000));
    expect((await retrying.create!(inputs)).outs.firstBackup).toBe("20261207-180500F");

    const w = waits(12_000);
    const stuck = makePgbackrestStanzaProvider((args) => (args[args.length - 1] === "info" ? { code: 0, out: info([]) } : args.includes("stanza-create") ? LOCKED : { code: 0, out: "" }), w);
    await expect(stuck.create!(inputs)).rejects.toThrow(/stanza-create exited 50:[\s\S]*unable to acquire lock[\s\S]*held the stanza's lock for the 15 s this waited/);
    // In steps of retryMs until the wait reaches lockWaitMs.
    expect(w.paused).toBe(15_000);
    expect(lockBusy(LOCKED)).toBe(true);
    expect(lockBusy({ code: 50, out: "ERROR: [050]: something else" })).toBe(false);
    expect(lockBusy({ code: 47, out: "unable to acquire lock" })).toBe(false);
  });
});
