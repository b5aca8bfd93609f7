import { describe, expect, it } from "vitest";
import { cpusString, engineFeatures, goDuration, healthcheck, memoryMiB, serviceContainerArgs, type EngineFeatures } from "../../model/containers";
import { GiB, MiB } from "../../model/size";

const OLD: EngineFeatures = { healthcheckStartInterval: false };
const NEW: EngineFeatures = { healthcheckStartInterval: true };

/** Seconds in a Go duration string as goDuration writes it ("1h2m3s"). */
function seconds(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(\d+)s$/.exec(d);
  if (!m) throw new Error(`not a Go duration: ${d}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3]);
}

describe("engineFeatures", () => {
  it.each([
    ["1.41", false],
    ["1.43", false],
    ["1.44", true],
    ["1.45", true],
    ["1.47", true],
    ["2.0", true],
    ["1.100", true],
  ])("API %s: healthcheck start_interval %s", (api, supported) => {
    expect(engineFeatures(api)).toEqual({ healthcheckStartInterval: supported });
  });

  it("treats an API version it cannot read as an old engine", () => {
    expect(engineFeatures("")).toEqual(OLD);
    expect(engineFeatures("latest")).toEqual(OLD);
  });
});

describe("goDuration", () => {
  it.each([
    [0, "0s"],
    [1, "1s"],
    [5, "5s"],
    [10, "10s"],
    [59, "59s"],
    [60, "1m0s"],
    [90, "1m30s"],
    [120, "2m0s"],
    [300, "5m0s"],
    [3599, "59m59s"],
    [3600, "1h0m0s"],
    [3661, "1h1m1s"],
    [90000, "25h0m0s"],
  ])("%i s is %s, as Go's time.Duration prints it", (s, text) => {
    expect(goDuration(s)).toBe(text);
    expect(seconds(goDuration(s))).toBe(s);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("rejects %s", (s) => {
    expect(() => goDuration(s)).toThrow(/duration: .* is invalid: a whole number of seconds, 0 or more/);
  });
});

describe("cpusString", () => {
  it.each([
    [2, "2.0"],
    [4, "4.0"],
    [1, "1.0"],
    [64, "64.0"],
    [1.5, "1.5"],
    [0.5, "0.5"],
    [2.25, "2.25"],
  ])("--cpus %s reads back as %s", (cpus, text) => {
    expect(cpusString(cpus)).toBe(text);
    expect(Number(cpusString(cpus))).toBe(cpus);
  });
});

describe("healthcheck", () => {
  const command = ["pg_isready", "-q"];

  it("probes every second inside the start period on an engine with start_interval (API 1.44+)", () => {
    expect(healthcheck(command, 120, NEW)).toEqual({
      tests: ["CMD", "pg_isready", "-q"],
      interval: "10s",
      timeout: "5s",
      retries: 6,
      startPeriod: "2m0s",
      startInterval: "1s",
    });
  });

  it("probes every 5 s throughout on an older engine, and writes start_interval as 0s", () => {
    expect(healthcheck(command, 120, OLD)).toEqual({
      tests: ["CMD", "pg_isready", "-q"],
      interval: "5s",
      timeout: "5s",
      retries: 12,
      startPeriod: "2m0s",
      startInterval: "0s",
    });
  });

  it("turns unhealthy after the same minute of failures on either engine", () => {
    for (const engine of [OLD, NEW]) {
      const h = healthcheck(command, 30, engine);
      expect(seconds(h.interval) * h.retries).toBe(60);
    }
  });

  it("writes every duration as the engine reports it back", () => {
    for (const [start, text] of [
      [10, "10s"],
      [30, "30s"],
      [60, "1m0s"],
      [120, "2m0s"],
    ] as const) {
      for (const engine of [OLD, NEW]) {
        const h = healthcheck(command, start, engine);
        expect(h.startPeriod).toBe(text);
        for (const d of [h.interval, h.timeout, h.startPeriod, h.startInterval]) expect(goDuration(seconds(d))).toBe(d);
      }
    }
  });

  it("rejects a start period that is not a whole number of seconds", () => {
    expect(() => healthcheck(command, 1.5, NEW)).toThrow(/duration/);
  });
});

describe("serviceContainerArgs", () => {
  const args = { stack: "dev", image: "kryonix/postgres:x", network: "kryonix-dev-net", memoryBytes: GiB + 123, engine: NEW };

  it("sets memorySwap equal to memory (no swap), in whole MiB", () => {
    const c = serviceContainerArgs(args, "postgres", "sha256:x", [{ internal: 5432, external: 15432 }]);
    expect(c.memory).toBe(1024);
    expect(c.memorySwap).toBe(c.memory);
    expect(memoryMiB(256 * MiB)).toBe(256);
    const small = serviceContainerArgs({ ...args, memoryBytes: 256 * MiB }, "pgbouncer", "sha256:y", []);
    expect([small.memory, small.memorySwap]).toEqual([256, 256]);
  });

  it("names the container and publishes ports on 127.0.0.1 only", () => {
    const c = serviceContainerArgs(args, "postgres", "sha256:x", [{ internal: 5432, external: 15432 }]);
    expect(c).toMatchObject({ name: "kryonix-dev-postgres", hostname: "kryonix-dev-postgres", wait: true, restart: "unless-stopped" });
    expect(c.ports).toEqual([{ internal: 5432, external: 15432, ip: "127.0.0.1", protocol: "tcp" }]);
  });
});
