import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { reservePort } from "../support/process";

describe("reservePort (test stacks' ports, machine-wide)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kryonix-ports-"));
  const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
  afterAll(() => void sleeper.kill());

  it("gives a port to the first process that asks, once", () => {
    expect(reservePort(21001, dir)).toBe(true);
    expect(readFileSync(path.join(dir, "21001"), "utf8")).toBe(String(process.pid));
    expect(reservePort(21001, dir)).toBe(false);
  });

  it("refuses a port another live process holds, and takes one whose holder has ended", () => {
    writeFileSync(path.join(dir, "21002"), String(sleeper.pid));
    expect(reservePort(21002, dir)).toBe(false);
    const ended = spawnSync("true");
    expect(ended.status).toBe(0);
    writeFileSync(path.join(dir, "21003"), String(ended.pid));
    expect(reservePort(21003, dir)).toBe(true);
    expect(readFileSync(path.join(dir, "21003"), "utf8")).toBe(String(process.pid));
  });
});
