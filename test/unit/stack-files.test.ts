/**
 * The committed stack files, read as the program reads them: dev and prod are valid, and their
 * published host ports differ, so both stacks can run side by side on one Docker host.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { validateStackConfig, type StackConfig } from "../../model/config";
import { stackSettings } from "../../model/stack-file";

const root = path.join(__dirname, "..", "..");
const HOST_PORTS = ["postgresPort", "pgbouncerPort", "pgadminPort", "minioPort", "minioConsolePort", "prometheusPort", "proxyHttpPort", "proxyHttpsPort"] as const;

function committed(stack: string): StackConfig {
  const settings = stackSettings(readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8"));
  return validateStackConfig(settings.config as Record<string, unknown>, stack);
}

describe("Pulumi.dev.yaml and Pulumi.prod.yaml", () => {
  const dev = committed("dev");
  const prod = committed("prod");

  it("publish no host port twice within a stack", () => {
    for (const config of [dev, prod]) {
      const ports = HOST_PORTS.map((k) => config[k]);
      expect(new Set(ports).size).toBe(ports.length);
    }
  });

  it("publish no host port that the other stack publishes", () => {
    const devPorts = new Set(HOST_PORTS.map((k) => dev[k]));
    const shared = HOST_PORTS.filter((k) => devPorts.has(prod[k])).map((k) => `${k} ${prod[k]}`);
    expect(shared).toEqual([]);
  });
});
