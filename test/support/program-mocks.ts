/**
 * The stack program (index.ts and components/) under pulumi.runtime.setMocks, for the unit tests:
 * every resource registration is recorded as the engine would receive it
 * (inputs, dependencies, provider, protect, import, deletedWith), with no Docker or PostgreSQL:
 * what index.ts asks the Docker engine first (io/docker-engine.ts) a fake `docker` on PATH answers
 * (test/support/fake-docker.ts), so a run can also play an engine that kept the data volume.
 *
 * The program is loaded after setMocks, once per run, through tsx's CommonJS
 * loader in a fresh namespace, not through vitest's module graph: that is how
 * the Pulumi language host runs it (ts-node, CommonJS), and it matters for
 * the dynamic providers, whose closures are serialized with the modules they
 * capture. Under vitest's ESM wrappers, node:crypto would be captured as a
 * module namespace that Pulumi's serializer cannot turn back into require().
 *
 * setMocks, the fake `docker` and the toolchain's recorded images are per test file: a file that
 * runs the program calls useProgramMocks() at its top level, once.
 */
import * as pulumi from "@pulumi/pulumi";
import { createECDH, createHash, createPrivateKey, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createRequire } from "node:module";
import { afterAll, beforeAll } from "vitest";
import { statusFile } from "../../toolchain/toolchain-state";
import { installFakeDocker, type FakeDocker, type FakeDockerState } from "./fake-docker";

// ---- recording mocks ---------------------------------------------------------

// tsx's CommonJS API (required: its typings need moduleResolution node16, the repo uses node).
const { register: registerTsx } = createRequire(__filename)("tsx/cjs/api") as {
  register(options: { namespace: string }): (() => void) & { require(id: string, fromFile: string): any };
};

export interface Recorded {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  /** Inputs with secrets unwrapped. */
  inputs: Record<string, any>;
  /** Top-level inputs that were (or contained) secrets. */
  secretInputs: string[];
  parent: string;
  /** URN of the provider resource, if any. */
  provider?: string;
  /** URNs from dependsOn and from the Outputs in the inputs. */
  dependencies: string[];
  /** URNs each input property depends on (the Outputs in it). */
  propertyDependencies: Record<string, string[]>;
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  additionalSecretOutputs: string[];
  /** The `import` resource option's ID ("" when not imported). */
  importId: string;
  /** URN of the `deletedWith` resource ("" when none). */
  deletedWith: string;
  ignoreChanges: string[];
}

export interface Run {
  resources: Recorded[];
  /** RandomPassword and RandomString results the mocks handed out. */
  generated: string[];
  /** tls PrivateKey PEMs the mocks handed out. */
  privateKeys: string[];
  /** What the program asked the (fake) `docker` command, one line per call. */
  dockerCalls: string[];
  exports?: Record<string, unknown>;
  error?: unknown;
}

export const CONTAINER = "docker:index/container:Container";
/** The grants made after the DDL (Database.monitoringGrant): on the monitoring views, and Metabase's usage on their schema. */
export const isAfterDdlGrant = (r: Recorded) =>
  r.type === "postgresql:index/grant:Grant" && (r.inputs.objects?.length > 0 || (r.inputs.role === "metabase_readonly" && r.inputs.schema === "audit"));
export const VOLUME = "docker:index/volume:Volume";
export const NETWORK = "docker:index/network:Network";
export const CONTAINER_IP = "172.30.0.2";

export const IMAGES = {
  postgres: "kryonix/postgres:0123456789ab",
  pgbouncer: "kryonix/pgbouncer:0123456789ab",
  pgadmin: "kryonix/pgadmin:0123456789ab",
  minio: "kryonix/minio:0123456789ab",
  proxy: "kryonix/proxy:0123456789ab",
  prometheus: "kryonix/prometheus:0123456789ab",
  "postgres-exporter": "kryonix/postgres-exporter:0123456789ab",
  "pgbouncer-exporter": "kryonix/pgbouncer-exporter:0123456789ab",
  patroni: "kryonix/patroni:0123456789ab",
  etcd: "kryonix/etcd:0123456789ab",
  haproxy: "kryonix/haproxy:0123456789ab",
};

let cacheDir: string;
const savedCache = process.env.KRYONIX_CACHE;
// index.ts asks the Docker engine (io/docker-engine.ts) before it declares anything: these tests
// give it a fake `docker` first on PATH (test/support/fake-docker.ts), never the real engine.
let docker: FakeDocker;
/** An engine without healthcheck start_interval (Debian 12's Docker 20.10), and no kryonix volume or container. */
const FRESH_ENGINE: FakeDockerState = { apiVersion: "1.41" };

/**
 * Registers this file's hooks: a toolchain state with IMAGES in a temp KRYONIX_CACHE, and the fake
 * `docker` first on PATH (FRESH_ENGINE until runProgram sets another); both undone after the file.
 */
export function useProgramMocks(): void {
  beforeAll(() => {
    cacheDir = mkdtempSync(path.join(tmpdir(), "kryonix-components-"));
    process.env.KRYONIX_CACHE = cacheDir;
    mkdirSync(path.dirname(statusFile()), { recursive: true });
    writeFileSync(statusFile(), JSON.stringify({ images: IMAGES }));
    docker = installFakeDocker(FRESH_ENGINE);
  });

  afterAll(() => {
    if (savedCache === undefined) delete process.env.KRYONIX_CACHE;
    else process.env.KRYONIX_CACHE = savedCache;
    rmSync(cacheDir, { recursive: true, force: true });
    docker?.restore();
  });
}

/** The PEMs the tls mocks hand out: recognisable by the resource name. */
export const pem = (label: string, name: string) => `-----BEGIN ${label}-----\n${name}\n-----END ${label}-----\n`;

/**
 * The private key the tls mock hands out for `name`: a real P-256 key (the program encrypts
 * PostgreSQL's), derived from the name so every run gets the same one. SEC 1, as the provider writes it.
 */
export function mockPrivateKeyPem(name: string): string {
  const d = createHash("sha256").update(`mock key ${name}`).digest();
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  const b64 = (b: Buffer) => b.toString("base64url");
  const jwk = { kty: "EC", crv: "P-256", d: b64(d), x: b64(point.subarray(1, 33)), y: b64(point.subarray(33, 65)) };
  return createPrivateKey({ key: jwk, format: "jwk" }).export({ type: "sec1", format: "pem" }) as string;
}

function mockState(type: string, name: string, inputs: Record<string, any>, generated: string[], privateKeys: string[]): Record<string, any> {
  const state: Record<string, any> = { ...inputs };
  const hash = createHash("sha256").update(`${type}/${name}`).digest("hex");
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
    case "random:index/randomString:RandomString":
      state.result = `Mock${hash.slice(0, 20)}Z9`;
      generated.push(state.result);
      // A well-formed bcrypt hash (not of the password: the mocks do not compute one).
      if (type.endsWith("RandomPassword")) state.bcryptHash = `$2a$10$${hash.slice(0, 53).padEnd(53, "a")}`;
      break;
    case "random:index/randomBytes:RandomBytes":
      state.base64 = Buffer.from(hash.slice(0, 32), "hex").toString("base64");
      state.hex = hash.slice(0, 32);
      break;
    case "docker:index/remoteImage:RemoteImage":
      state.imageId = `sha256:${hash}`;
      break;
    case CONTAINER:
      state.networkDatas = (inputs.networksAdvanced ?? []).map((n: { name: string }) => ({
        networkName: n.name,
        ipAddress: CONTAINER_IP,
      }));
      break;
    case "tls:index/privateKey:PrivateKey":
      // What the tls provider writes for an ECDSA key (SEC 1).
      state.privateKeyPem = mockPrivateKeyPem(name);
      state.publicKeyPem = pem("PUBLIC KEY", name);
      privateKeys.push(state.privateKeyPem);
      break;
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      state.certPem = pem("CERTIFICATE", name);
      state.validityEndTime = "2030-01-01T00:00:00Z";
      state.readyForRenewal = false;
      break;
    case "tls:index/certRequest:CertRequest":
      state.certRequestPem = pem("CERTIFICATE REQUEST", name);
      break;
    case "pulumi-nodejs:dynamic/kryonix:MinioBucket":
      state.versioningStatus = inputs.versioning ? "Enabled" : "";
      break;
    case "pulumi-nodejs:dynamic/kryonix:SqlMigrations":
      state.applied = (inputs.files ?? []).map((f: { name: string; checksum: string }) => ({ name: f.name, checksum: f.checksum }));
      break;
  }
  return state;
}

function plain(value: any): any {
  const v = pulumi.runtime.unwrapRpcSecret(value);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function inputsOf(object: any): { inputs: Record<string, any>; secretInputs: string[] } {
  const raw = pulumi.runtime.deserializeProperties(object);
  return {
    inputs: plain(raw),
    secretInputs: Object.keys(raw).filter((k) => pulumi.runtime.isRpcSecret(raw[k])),
  };
}

function providerUrn(ref: string): string | undefined {
  return ref ? ref.slice(0, ref.lastIndexOf("::")) : undefined;
}

/**
 * Runs index.ts for `stack` with the given kryonix:* config, against a fake Docker engine in
 * `engine` state; never throws.
 */
export async function runProgram(
  stack: string,
  config: Record<string, string> = {},
  secretKeys: string[] = [],
  engine: FakeDockerState = FRESH_ENGINE,
): Promise<Run> {
  const resources: Recorded[] = [];
  const generated: string[] = [];
  const privateKeys: string[] = [];
  if (!docker) throw new Error("runProgram needs useProgramMocks() at the top of the test file");
  docker.set(engine);
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs, generated, privateKeys) }),
      call: (args) => args.inputs,
    },
    "kryonix-db",
    stack,
    false,
  );
  // The mocks' newResource sees no options; the monitor sees the whole request.
  const monitor = pulumi.runtime.getMonitor() as any;
  const forward = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: (err: unknown, resp: any) => void) =>
    forward(req, (err: unknown, resp: any) => {
      if (!err) {
        const propertyDeps: string[] = [];
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((v: any, key: string) => {
          propertyDeps.push(...v.getUrnsList());
          propertyDependencies[key] = v.getUrnsList();
        });
        resources.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          custom: req.getCustom(),
          ...inputsOf(req.getObject()),
          parent: req.getParent(),
          provider: providerUrn(req.getProvider()),
          dependencies: [...new Set([...req.getDependenciesList(), ...propertyDeps])],
          propertyDependencies,
          protect: req.getProtect() === true,
          retainOnDelete: req.getRetainondelete() === true,
          deleteBeforeReplace: req.getDeletebeforereplace() === true,
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          importId: req.getImportid(),
          deletedWith: req.getDeletedwith(),
          ignoreChanges: req.getIgnorechangesList(),
        });
      }
      callback(err, resp);
    });
  pulumi.runtime.setAllConfig(config, secretKeys);
  const run: Run = { resources, generated, privateKeys, dockerCalls: [] };
  const loader = registerTsx({ namespace: `kryonix-program-${randomUUID()}` });
  try {
    run.exports = loader.require("../../index.ts", __filename);
  } catch (err) {
    run.error = err;
  } finally {
    loader();
  }
  // Waits for every registration in flight.
  await pulumi.runtime.disconnect();
  run.dockerCalls = docker.calls();
  return run;
}

export const containers = (run: Run) => run.resources.filter((r) => r.type === CONTAINER);
export const ofType = (run: Run, prefix: string) => run.resources.filter((r) => r.type.startsWith(prefix));
export const byName = (run: Run, type: string, dockerName: string) => {
  const found = run.resources.find((r) => r.type === type && r.inputs.name === dockerName);
  if (!found) throw new Error(`no ${type} named ${dockerName}`);
  return found;
};

export const single = (run: Run, type: string) => {
  const found = run.resources.filter((r) => r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
};

/** The value of an Output (or a plain value), secrets included. */
export const resolved = <T>(value: unknown) => new Promise<T>((resolve) => pulumi.output(value as pulumi.Input<T>).apply((v) => resolve(v as T)));

/** Every URN `r` waits for: dependencies and providers, transitively. */
export function dependencyClosure(run: Run, r: Recorded): Set<string> {
  const byUrn = new Map(run.resources.map((x) => [x.urn, x]));
  const seen = new Set<string>();
  const stack = [...r.dependencies, ...(r.provider ? [r.provider] : [])];
  while (stack.length) {
    const urn = stack.pop()!;
    if (seen.has(urn)) continue;
    seen.add(urn);
    const next = byUrn.get(urn);
    if (next) stack.push(...next.dependencies, ...(next.provider ? [next.provider] : []));
  }
  return seen;
}

/** Pulumi.<stack>.yaml's kryonix:* values (the files hold flat `key: value` lines only). */
export function stackFile(stack: string): Record<string, string> {
  const text = readFileSync(path.join(__dirname, "..", "..", `Pulumi.${stack}.yaml`), "utf8");
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s+(kryonix:[A-Za-z]+):\s*(.+?)\s*$/.exec(line);
    if (m) values[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return values;
}
