import { describe, expect, it } from "vitest";
import { checkProxyArgs, proxyPorts, type ProxyArgs } from "../../../components/proxy";
import type { EngineFeatures } from "../../../model/containers";
import { MiB } from "../../../model/size";
import { containers, runProgram, useProgramMocks } from "../../support/program-mocks";

const engine: EngineFeatures = { healthcheckStartInterval: false };

useProgramMocks();

describe("Proxy", () => {
  it("Proxy: ports, bind address and site", () => {
    const proxyArgs: ProxyArgs = {
      stack: "dev",
      image: "kryonix/proxy:x",
      network: "kryonix-dev-net",
      memoryBytes: 64 * MiB,
      engine,
      httpPort: 15080,
      httpsPort: 15443,
      bindAddress: "127.0.0.1",
      pgadmin: { serverName: "pgadmin.kryonix.localhost", publicPort: 15443, upstreamHost: "kryonix-dev-pgadmin", upstreamPort: 80 },
      certificatePem: "c",
      privateKeyPem: "k",
      caCertificate: "ca",
    };
    expect(() => checkProxyArgs(proxyArgs)).not.toThrow();
    expect(() => checkProxyArgs({ ...proxyArgs, httpsPort: 15080 })).toThrow(/Proxy httpsPort: 15080 is invalid: a port other than httpPort/);
    expect(() => checkProxyArgs({ ...proxyArgs, bindAddress: "10.0.0.1" as never })).toThrow(/Proxy bindAddress: "10.0.0.1" is invalid/);
    expect(() => checkProxyArgs({ ...proxyArgs, pgadmin: { ...proxyArgs.pgadmin, serverName: "x" } })).toThrow(/nginx pgadmin\.serverName/);
    expect(proxyPorts(proxyArgs)).toEqual([
      { internal: 80, external: 15080, ip: "127.0.0.1", protocol: "tcp" },
      { internal: 443, external: 15443, ip: "127.0.0.1", protocol: "tcp" },
    ]);
  });

  it("refuses kryonix:proxyBindAddress 0.0.0.0 outside prod, before any resource", async () => {
    const run = await runProgram("dev", { "kryonix:proxyBindAddress": "0.0.0.0" });
    expect(String(run.error)).toContain("kryonix:proxyBindAddress");
    expect(containers(run)).toEqual([]);
    // A program run under mocks (the first in this file loads it): seconds on a loaded machine.
  }, 60_000);
});
