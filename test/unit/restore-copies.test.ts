import { describe, expect, it } from "vitest";
import { copiesStep, planDestroy } from "../../ops/destroy-plan";
import { copiesInTheWay, removeCommand, renderCopies, restoreCopies, restoreFilters, restoreLabels, unknownCopies, type RestoreCopy } from "../../render/restore-copies";
import { parseRestoreCommand } from "../../scripts/args";

const labels = (target?: string) => ({ "org.kryonix.stack": "dev", "org.kryonix.role": "restore", ...(target ? { "org.kryonix.restore-target": target } : {}) });
const NEW = "kryonix-dev-restore-20261207-160000";
const LEFT_VOLUME = "kryonix-dev-restore-20261207-150000";
const OLD = "kryonix-dev-restore-20261201-090000";

const copies = restoreCopies(
  [
    { Name: `/${NEW}`, Created: "2026-12-07T16:00:01.123456789Z", State: { Status: "running" }, Config: { Labels: labels("latest") }, HostConfig: { PortBindings: { "5432/tcp": [{ HostIp: "127.0.0.1", HostPort: "40123" }] } } },
    { Name: `/${OLD}`, Created: "2026-12-01T09:00:00Z", State: { Status: "exited" }, Config: { Labels: labels() }, HostConfig: { PortBindings: {} } },
  ],
  [
    { Name: NEW, CreatedAt: "2026-12-07T16:00:00Z", Labels: labels("latest") },
    { Name: LEFT_VOLUME, CreatedAt: "2026-12-07T15:00:00Z", Labels: labels("2026-12-07 14:55:00+00") },
  ],
);

describe("npm run restore -- --list / --remove: the arguments", () => {
  it("takes --list, --remove NAME (repeatable) and --remove --all, and a restore as before", () => {
    expect(parseRestoreCommand(["--list"])).toEqual({ kind: "list", stack: "dev" });
    expect(parseRestoreCommand(["--stack", "prod", "--list"])).toEqual({ kind: "list", stack: "prod" });
    expect(parseRestoreCommand(["--remove", LEFT_VOLUME, `--remove=${NEW}`])).toEqual({ kind: "remove", stack: "dev", names: [LEFT_VOLUME, NEW] });
    expect(parseRestoreCommand(["--remove", "--all", "-s", "ci"])).toEqual({ kind: "remove", stack: "ci", names: "all" });
    expect(parseRestoreCommand(["--latest"])).toEqual({ kind: "restore", options: { stack: "dev", target: { kind: "latest" }, inPlace: false } });
  });

  it.each([
    [["--remove"], /^restore --remove: undefined is invalid: the name of a restore copy .* after it, e\.g\. --remove kryonix-dev-restore-/],
    [["--remove", "a b"], /^restore --remove: "a b" is invalid: the name of a restore copy/],
    [["--remove", "--latest"], /^restore --remove: "--latest" is invalid/],
    [["--list", "--remove", "x"], /^restore: --list and --remove go on separate runs$/],
    [["--list", "--remove", "--all"], /^restore: --list and --remove go on separate runs$/],
    [["--remove", "x", "--remove", "--all"], /drop the names \(x\) or --all/],
    [["--list", "--latest"], /^restore argument: "--latest" is invalid: --stack NAME with --list, --remove NAME \(repeatable\) or --remove --all$/],
    [["--list", "--all"], /^restore argument: "--all" is invalid/],
    [["--list", "--stack", "Prod"], /^Pulumi stack name: "Prod" is invalid/],
  ])("refuses %j, naming the argument", (args, message) => expect(() => parseRestoreCommand(args)).toThrow(message));
});

describe("restore copies", () => {
  it("are labelled with their stack, role and target, and found by stack and role", () => {
    expect(restoreLabels("dev", { kind: "time", time: "2026-12-07 15:00:00+00" })).toEqual([
      "--label", "org.kryonix.stack=dev", "--label", "org.kryonix.role=restore", "--label", "org.kryonix.restore-target=2026-12-07 15:00:00+00",
    ]);
    expect(restoreLabels("ci", { kind: "latest" }).at(-1)).toBe("org.kryonix.restore-target=latest");
    expect(restoreFilters("dev")).toEqual(["--filter", "label=org.kryonix.stack=dev", "--filter", "label=org.kryonix.role=restore"]);
    expect(removeCommand("dev", NEW)).toBe(`npm run restore -- --stack dev --remove ${NEW}`);
  });

  it("are one row per name, container and volume together, oldest first; a left volume and an unlabelled target too", () => {
    expect(copies).toEqual([
      { name: OLD, state: "exited", created: "2026-12-01T09:00:00Z", target: "unknown", port: undefined, hasContainer: true, hasVolume: false },
      { name: LEFT_VOLUME, state: "no container", created: "2026-12-07T15:00:00Z", target: "2026-12-07 14:55:00+00", port: undefined, hasContainer: false, hasVolume: true },
      { name: NEW, state: "running", created: "2026-12-07T16:00:01Z", target: "latest", port: 40123, hasContainer: true, hasVolume: true },
    ]);
  });

  it("are listed as a table with how to remove them, or as none", () => {
    const table = renderCopies("dev", copies).split("\n");
    expect(table[0]).toMatch(/^NAME +CREATED \(UTC\) +TARGET +PORT +STATE$/);
    expect(table[2]).toMatch(new RegExp(`^${LEFT_VOLUME} +2026-12-07T15:00:00Z +2026-12-07 14:55:00\\+00 +- +no container$`));
    expect(table[3]).toMatch(new RegExp(`^${NEW} +2026-12-07T16:00:01Z +latest +127\\.0\\.0\\.1:40123 +running$`));
    // The columns line up: STATE starts at the same place on every row.
    expect(new Set(table.slice(0, 4).map((l) => l.search(/(STATE|exited|no container|running)$/))).size).toBe(1);
    expect(table[4]).toBe("remove: npm run restore -- --stack dev --remove NAME (repeatable), or npm run restore -- --stack dev --remove --all");
    expect(renderCopies("dev", [])).toBe("no restore copies of stack dev\n");
  });

  it("given to --remove, only the stack's own are accepted", () => {
    expect(unknownCopies([NEW, "kryonix-other-restore-20261207-160000", "kryonix-dev-postgres"], copies)).toEqual(["kryonix-other-restore-20261207-160000", "kryonix-dev-postgres"]);
    expect(unknownCopies([NEW, OLD], copies)).toEqual([]);
  });
});

describe("npm run destroy with restore copies present", () => {
  const one: RestoreCopy[] = copies.slice(2);

  it("without copies, or with a destroy that keeps the network, goes on", () => {
    expect(copiesStep(planDestroy([]), [])).toEqual({ kind: "none" });
    expect(copiesStep(planDestroy(["--preview-only"]), one)).toEqual({ kind: "none" });
    expect(copiesStep(planDestroy(["--target", "urn:x"]), one)).toEqual({ kind: "none" });
    expect(copiesStep(planDestroy(["--target=urn:x"]), one)).toEqual({ kind: "none" });
  });

  it("with --including-data removes them first", () => {
    expect(copiesStep(planDestroy(["--including-data"]), copies)).toEqual({ kind: "remove", copies });
  });

  it("keeping the data stops, naming each copy and the two ways on", () => {
    const step = copiesStep(planDestroy(["--stack", "dev"]), one);
    expect(step.kind).toBe("stop");
    const message = step.kind === "stop" ? step.message : "";
    expect(message.split("\n").every((l) => l === "" || l.startsWith("[destroy] "))).toBe(true);
    expect(message).toContain("stopped before touching anything: 1 restore copy of stack dev is on its network, which cannot be deleted while it is:");
    expect(message).toContain(`[destroy]   ${NEW} (running, 127.0.0.1:40123, target latest, created 2026-12-07T16:00:01Z)`);
    expect(message).toContain("npm run restore -- --stack dev --remove --all");
    expect(message).toContain("npm run destroy -- --stack dev --including-data");
    expect(copiesInTheWay("dev", copies)).toContain("3 restore copies of stack dev are on its network, which cannot be deleted while they are:");
    expect(copiesInTheWay("dev", copies)).toContain(`${LEFT_VOLUME} (no container, target 2026-12-07 14:55:00+00, created 2026-12-07T15:00:00Z)`);
  });
});
