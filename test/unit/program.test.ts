/**
 * The whole stack program (index.ts and components/) on mocks (test/support/program-mocks.ts), for
 * dev and prod from their stack files, and for dev on engines that kept the data volume: the
 * resource graph as the engine would receive it, with no Docker or PostgreSQL.
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import { DATABASE_NAME, DECLARED_DATABASES, DECLARED_ROLES, LOGIN_ROLES, LOGIN_USERS, METABASE_MONITORING_VIEWS, MIGRATOR_ROLE, OWNER_ROLE, ALTERNATING_ROLES, SINGLE_USER_ROLES, twinOf } from "../../model/database";
import { migrationInputs } from "../../providers/sql-migrations";
import { BACKUP_BUCKET } from "../../providers/minio-bucket";
import type { EngineFeatures } from "../../model/containers";
import { dataVolumes } from "../../ops/destroy-plan";
import { caFilePath } from "../../io/ca-file";
import { ConfigError } from "../../model/messages";
import { checksum } from "../../model/migrations";
import { createPrivateKey } from "node:crypto";
import { loadMigrationFiles } from "../../io/migrations-fs";
import { kryonixConfigValues } from "../../io/pulumi-config";
import { scramSha256Secret } from "../../model/scram";
import { connectionTargetFrom } from "../../ops/stack-run";
import { probeAnswer } from "../support/fake-docker";
import { connection } from "../support/fake-db";
import {
  byName,
  CONTAINER,
  CONTAINER_IP,
  containers,
  dependencyClosure,
  IMAGES,
  isAfterDdlGrant,
  NETWORK,
  mockPrivateKeyPem,
  ofType,
  pem,
  type Recorded,
  resolved,
  runProgram,
  type Run,
  single,
  stackFile,
  useProgramMocks,
  VOLUME,
} from "../support/program-mocks";

useProgramMocks();

describe("the stack program", () => {
  let dev: Run;
  let prod: Run;
  /**
   * dev again, on a newer engine (API 1.44: healthcheck start_interval) that still holds the
   * volume kryonix-dev-postgres but not its container: a destroy that kept the data, then an up.
   */
  let adopted: Run;
  /**
   * The same, but the kept cluster comes from a version before the twins and the drill role: the
   * probe (checks/kept-cluster.ts) finds every other declared role, and the database.
   */
  let older: Run;
  /** The probe fails (here: the image is not there): the program stops rather than guess. */
  let unprobed: Run;

  const keptVolumes = ["kryonix-dev-postgres", "kryonix-dev-minio"];
  const systemRoles = ["pg_maintain", "pg_monitor", "postgres"];
  beforeAll(async () => {
    dev = await runProgram("dev", stackFile("dev"));
    prod = await runProgram("prod", stackFile("prod"));
    adopted = await runProgram("dev", stackFile("dev"), [], {
      apiVersion: "1.44",
      volumes: keptVolumes,
      probe: probeAnswer([...systemRoles, OWNER_ROLE, ...LOGIN_USERS], ["postgres", DATABASE_NAME, "template0", "template1"]),
    });
    older = await runProgram("dev", stackFile("dev"), [], {
      apiVersion: "1.41",
      volumes: keptVolumes,
      probe: probeAnswer([...systemRoles, OWNER_ROLE, ...LOGIN_ROLES.filter((r) => r !== "kryonix_drill")], ["postgres", DATABASE_NAME, "template0", "template1"]),
    });
    unprobed = await runProgram("dev", stackFile("dev"), [], {
      apiVersion: "1.41",
      volumes: keptVolumes,
      probe: { stdout: "", stderr: "Unable to find image 'kryonix/postgres:0123456789ab' locally\ndocker: Error response from daemon: No such image", code: 125 },
    });
  }, 180_000);

  const runs = () => [
    ["dev", dev],
    ["prod", prod],
    ["dev", adopted],
    ["dev", older],
  ] as const;

  it("runs without errors for dev and prod", () => {
    expect(dev.error).toBeUndefined();
    expect(prod.error).toBeUndefined();
    expect(adopted.error).toBeUndefined();
    expect(containers(dev)).toHaveLength(9);
    expect(containers(prod)).toHaveLength(9);
    expect(containers(adopted)).toHaveLength(9);
  });

  describe("the Docker engine, and a cluster a kept volume holds", () => {
    it("asks the Docker engine its API version and about the postgres volumes (single's, ha's first node's) and container, nothing else", () => {
      for (const [stack, run] of [
        ["dev", dev],
        ["prod", prod],
      ] as const) {
        expect(run.dockerCalls).toEqual([
          "version --format {{.Server.APIVersion}}",
          `volume inspect kryonix-${stack}-postgres`,
          `container inspect kryonix-${stack}-postgres`,
          `volume inspect kryonix-${stack}-postgres-1`,
        ]);
      }
    });

    it("asks a read-only container of the postgres image on a kept volume what its cluster holds, once", () => {
      for (const run of [adopted, older]) {
        expect(run.dockerCalls.slice(0, 4)).toEqual([
          "version --format {{.Server.APIVersion}}",
          "volume inspect kryonix-dev-postgres",
          "container inspect kryonix-dev-postgres",
          "volume inspect kryonix-dev-postgres-1",
        ]);
        expect(run.dockerCalls).toHaveLength(5);
        const probe = run.dockerCalls[4];
        expect(probe).toMatch(/^run --rm --pull never --name kryonix-dev-postgres-probe-\d+ --network none /);
        expect(probe).toContain(" --mount type=volume,source=kryonix-dev-postgres,target=/kept,readonly ");
        expect(probe).toMatch(/ --entrypoint bash kryonix\/postgres:0123456789ab -c \.\.\.$/);
      }
    });

    it("declares the roles and databases the probe's answer is checked against", () => {
      const declared = (type: string) => ofType(dev, type).map((r) => r.inputs.name).sort();
      expect(declared("postgresql:index/role:Role")).toEqual([...DECLARED_ROLES].sort());
      expect(declared("postgresql:index/database:Database")).toEqual([...DECLARED_DATABASES].sort());
    });

    it("adopts a kept cluster from an older version: imports the roles it has, creates the twins and the drill role it lacks", () => {
      expect(older.error).toBeUndefined();
      const roles = ofType(older, "postgresql:index/role:Role");
      const missing = [...ALTERNATING_ROLES.map(twinOf), "kryonix_drill"].sort();
      expect(roles.filter((r) => !r.importId).map((r) => r.inputs.name).sort()).toEqual(missing);
      for (const r of roles.filter((r) => r.importId)) expect(r.importId, r.name).toBe(r.inputs.name);
      expect(roles.filter((r) => r.importId)).toHaveLength(DECLARED_ROLES.length - missing.length);
      expect(single(older, "postgresql:index/database:Database").importId).toBe(DATABASE_NAME);
      // A created twin is a member of its role, which is imported: it waits for the import.
      const app = roles.find((r) => r.inputs.name === "kryonix_app")!;
      expect(roles.find((r) => r.inputs.name === "kryonix_app_b")!.dependencies).toContain(app.urn);
    });

    it("stops, naming the volume and what docker said, when the probe cannot tell what the kept cluster holds", () => {
      expect(String(unprobed.error)).toMatch(
        /cannot tell which roles the cluster in the kept volume kryonix-dev-postgres holds, so which to import and which to create \(a container of kryonix\/postgres:0123456789ab on the volume, read-only\): .*No such image\n\(the image is not built here: npm run toolchain builds it\)/s,
      );
      expect(unprobed.resources.filter((r) => r.type.startsWith("postgresql:"))).toEqual([]);
    });

    it("adopts the cluster of a volume that outlived its container: imports its roles and database by name", () => {
      const imported = adopted.resources.filter((r) => r.importId);
      expect(imported.map((r) => [r.type, r.importId]).sort()).toEqual(
        [
          ...["kryonix_owner", ...LOGIN_USERS].map((role) => ["postgresql:index/role:Role", role]),
          ["postgresql:index/database:Database", DATABASE_NAME],
        ].sort(),
      );
      for (const r of imported) expect(r.importId, r.name).toBe(r.inputs.name);
      // Schemas already there are fine: IF NOT EXISTS.
      for (const schema of ofType(adopted, "postgresql:index/schema:Schema")) expect(schema.inputs.ifNotExists, schema.name).toBe(true);
    });

    it("imports nothing on a fresh engine", () => {
      for (const run of [dev, prod]) {
        expect(run.resources.filter((r) => r.importId).map((r) => r.name)).toEqual([]);
        for (const schema of ofType(run, "postgresql:index/schema:Schema")) expect(schema.inputs.ifNotExists, schema.name).toBe(true);
      }
    });

    it("points the provider at the server only once its container exists when adopting", () => {
      const provider = (run: Run) => single(run, "pulumi:providers:postgresql");
      const container = byName(adopted, CONTAINER, "kryonix-dev-postgres");
      expect(provider(adopted).propertyDependencies.host).toContain(container.urn);
      expect(provider(adopted).inputs.host).toBe("127.0.0.1");
      // Otherwise a plain value: the provider waits for the container through dependsOn only.
      expect(provider(dev).propertyDependencies.host ?? []).toEqual([]);
      expect(provider(dev).dependencies).toContain(byName(dev, CONTAINER, "kryonix-dev-postgres").urn);
    });
  });

  describe("containers, ports and volumes", () => {
    it.each(["dev", "prod"])("%s: names containers, volumes and the network kryonix-<stack>-<service>", (stack) => {
      const run = stack === "dev" ? dev : prod;
      expect(containers(run).map((c) => c.inputs.name).sort()).toEqual(
        ["minio", "pgadmin", "pgbouncer", "pgbouncer-exporter", "postgres", "postgres-exporter", "prometheus", "proxy", "restore-drill"].map((s) => `kryonix-${stack}-${s}`),
      );
      expect(ofType(run, VOLUME).map((v) => v.inputs.name).sort()).toEqual(
        ["minio", "minio-tls", "pgbouncer-tls", "postgres", "postgres-log", "postgres-socket", "postgres-tls", "prometheus", "proxy-tls"].map((s) => `kryonix-${stack}-${s}`),
      );
      expect(ofType(run, NETWORK).map((n) => n.inputs.name)).toEqual([`kryonix-${stack}-net`]);
      for (const c of containers(run)) {
        expect(c.inputs.networksAdvanced.map((n: { name: string }) => n.name)).toEqual([`kryonix-${stack}-net`]);
      }
    });

    it("binds every published port to 127.0.0.1, but the prod proxy's 80 and 443 (0.0.0.0, Pulumi.prod.yaml)", () => {
      for (const run of [dev, prod]) {
        const ports = containers(run).flatMap((c) => (c.inputs.ports ?? []).map((p: any) => ({ container: c.inputs.name, ...p })));
        expect(ports.length).toBeGreaterThanOrEqual(6);
        for (const p of ports) {
          const open = run === prod && p.container === "kryonix-prod-proxy";
          expect(p, `${p.container} port ${p.internal}`).toMatchObject({ ip: open ? "0.0.0.0" : "127.0.0.1" });
          expect(Number.isInteger(p.external)).toBe(true);
        }
      }
      expect(byName(dev, CONTAINER, "kryonix-dev-proxy").inputs.ports).toEqual([
        { internal: 80, external: 15080, ip: "127.0.0.1", protocol: "tcp" },
        { internal: 443, external: 15443, ip: "127.0.0.1", protocol: "tcp" },
      ]);
      expect(byName(prod, CONTAINER, "kryonix-prod-proxy").inputs.ports).toEqual([
        { internal: 80, external: 80, ip: "0.0.0.0", protocol: "tcp" },
        { internal: 443, external: 443, ip: "0.0.0.0", protocol: "tcp" },
      ]);
    });

    it("publishes PostgreSQL on 127.0.0.1 only, in dev and in prod", () => {
      expect(byName(dev, CONTAINER, "kryonix-dev-postgres").inputs.ports).toEqual([
        { internal: 5432, external: 15432, ip: "127.0.0.1", protocol: "tcp" },
      ]);
      expect(byName(prod, CONTAINER, "kryonix-prod-postgres").inputs.ports).toEqual([
        { internal: 5432, external: 25432, ip: "127.0.0.1", protocol: "tcp" },
      ]);
    });

    it("never addresses a container's own IP from the host", () => {
      for (const run of [dev, prod]) {
        for (const r of run.resources) expect(JSON.stringify(r.inputs), `${r.type} ${r.name}`).not.toContain(CONTAINER_IP);
      }
    });

    it.each(["dev", "prod"])("%s: every volume is a data volume npm run destroy knows of, or a TLS or log volume a destroy removes", (stack) => {
      const run = stack === "dev" ? dev : prod;
      const removed = (v: { inputs: Record<string, any> }) => /-(tls|log|socket)$/.test(v.inputs.name);
      const [gone, data] = [ofType(run, VOLUME).filter(removed), ofType(run, VOLUME).filter((v) => !removed(v))];
      expect(data.map((v) => v.inputs.name).sort()).toEqual(dataVolumes(stack, "single").sort());
      expect(gone.map((v) => [v.inputs.name, v.retainOnDelete ?? false, v.protect ?? false]).sort()).toEqual([
        [`kryonix-${stack}-minio-tls`, false, false],
        [`kryonix-${stack}-pgbouncer-tls`, false, false],
        [`kryonix-${stack}-postgres-log`, false, false],
        [`kryonix-${stack}-postgres-socket`, false, false],
        [`kryonix-${stack}-postgres-tls`, false, false],
        [`kryonix-${stack}-proxy-tls`, false, false],
      ]);
    });

    it("gives postgres its log volume at the collector's directory, and cron the cleanup of files past kryonix:serverLogRetentionDays", () => {
      const pg = byName(dev, CONTAINER, "kryonix-dev-postgres");
      expect(pg.inputs.mounts).toContainEqual(expect.objectContaining({ type: "volume", source: "kryonix-dev-postgres-log", target: "/var/log/postgresql" }));
      const conf = pg.inputs.uploads.find((u: { file: string }) => u.file === "/etc/kryonix/postgresql.conf").content as string;
      expect(conf).toMatch(/^logging_collector = on$/m);
      expect(conf).toMatch(/^log_directory = '\/var\/log\/postgresql'$/m);
      expect(conf).toMatch(/^log_file_mode = '?0600'?$/m);
      const cron = pg.inputs.uploads.find((u: { file: string }) => u.file === "/etc/cron.d/kryonix").content as string;
      expect(cron).toMatch(/^17 \* \* \* \* root find \/var\/log\/postgresql -maxdepth 1 -type f -name 'postgresql-\*\.log' -mmin \+20160 -delete/m);
    });

    it("retains every data volume on delete in dev and prod, and protects them in prod only", () => {
      for (const service of ["postgres", "minio", "prometheus"]) {
        const p = byName(prod, VOLUME, `kryonix-prod-${service}`);
        expect([p.protect, p.retainOnDelete]).toEqual([true, true]);
        const d = byName(dev, VOLUME, `kryonix-dev-${service}`);
        expect([d.protect, d.retainOnDelete]).toEqual([false, true]);
      }
      for (const v of [...ofType(dev, VOLUME), ...ofType(prod, VOLUME)].filter((v) => !/-(tls|log|socket)$/.test(v.inputs.name))) expect(v.retainOnDelete, v.inputs.name).toBe(true);
      // Nothing but the data volumes and the secrets that open them is protected, so the unprotect
      // commands npm run destroy prints are exactly those.
      expect(dev.resources.filter((r) => r.protect)).toEqual([]);
      const protectedInProd = prod.resources.filter((r) => r.protect);
      expect(protectedInProd.filter((r) => r.type === VOLUME).map((r) => r.inputs.name).sort()).toEqual(["kryonix-prod-minio", "kryonix-prod-postgres", "kryonix-prod-prometheus"]);
      expect(new Set(protectedInProd.filter((r) => r.type !== VOLUME).map((r) => r.type.split(":")[0]))).toEqual(new Set(["kryonix", "random"]));
      const secrets = prod.resources.filter((r) => r.type === "kryonix:db:Secrets" || r.type.startsWith("random:"));
      expect(secrets.length).toBeGreaterThan(10);
      expect(secrets.every((r) => r.protect)).toBe(true);
      expect(byName(prod, CONTAINER, "kryonix-prod-postgres").inputs.mounts).toEqual([
        { type: "volume", source: "kryonix-prod-postgres", target: "/var/lib/postgresql/data" },
        { type: "volume", source: "kryonix-prod-postgres-tls", target: "/etc/kryonix/tls", readOnly: true },
        { type: "volume", source: "kryonix-prod-postgres-log", target: "/var/log/postgresql" },
        { type: "volume", source: "kryonix-prod-postgres-socket", target: "/run/kryonix-pgsocket" },
      ]);
      expect(byName(dev, CONTAINER, "kryonix-dev-prometheus").inputs.mounts).toEqual([{ type: "volume", source: "kryonix-dev-prometheus", target: "/var/lib/prometheus/metrics" }]);
    });

    it.each([
      ["postgres", "postgres", 15432],
      ["pgbouncer", "kryonix-pgbouncer", 16432],
      ["minio", "minio", 19000],
      ["proxy", "root", 15443],
    ] as const)("gives %s its TLS files in a volume of its own, written before it starts, so a renewal never touches the container", (service, owner, hostPort) => {
      const container = byName(dev, CONTAINER, `kryonix-dev-${service}`);
      const files = dev.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:TlsFiles" && r.inputs.container === `kryonix-dev-${service}`)!;
      expect(files.inputs).toMatchObject({
        volume: `kryonix-dev-${service}-tls`,
        owner,
        reload: service === "proxy" ? "nginx" : service,
        hostPort,
        certificatePem: pem("CERTIFICATE", `pki-${service}`),
        caCertificate: pem("CERTIFICATE", "pki-ca"),
      });
      // The proxy answers its public name only: the reload's handshake asks for it.
      expect(files.inputs.serverName).toBe(service === "proxy" ? "pgadmin.kryonix.localhost" : undefined);
      if (service === "postgres") {
        // Encrypted under the passphrase the container gets (CIS 6.8), from the key the stack made for it.
        const passphrase = byName(dev, CONTAINER, "kryonix-dev-postgres").inputs.uploads.find((u: any) => u.file === "/run/kryonix/postgres-tls-key-passphrase").content;
        expect(files.inputs.privateKeyPem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
        const opened = createPrivateKey({ key: files.inputs.privateKeyPem, passphrase }).export({ type: "sec1", format: "pem" });
        expect(dev.privateKeys).toContain(opened);
      } else {
        expect(dev.privateKeys).toContain(files.inputs.privateKeyPem);
      }
      expect(files.secretInputs).toContain("privateKeyPem");
      expect(container.inputs.mounts).toContainEqual({ type: "volume", source: `kryonix-dev-${service}-tls`, target: "/etc/kryonix/tls", readOnly: true });
      expect(dependencyClosure(dev, container).has(files.urn)).toBe(true);
      // No certificate or key among the container's inputs: a new one changes only TlsFiles.
      const inputs = JSON.stringify(container.inputs);
      expect(inputs).not.toContain(pem("CERTIFICATE", `pki-${service}`));
      expect(inputs).not.toContain(files.inputs.privateKeyPem);
    });

    it("replaces named Docker objects delete-first, so names and ports never clash", () => {
      for (const r of [...containers(dev), ...ofType(dev, VOLUME), ...ofType(dev, NETWORK)]) {
        expect(r.deleteBeforeReplace, r.inputs.name).toBe(true);
      }
    });

    it("limits memory and CPU and waits for healthy containers", () => {
      const pg = byName(prod, CONTAINER, "kryonix-prod-postgres").inputs;
      // cpus as the engine reports NanoCPUs back ("4.0"), so a refresh finds no difference.
      expect(pg).toMatchObject({ memory: 8192, memorySwap: 8192, cpus: "4.0", wait: true, restart: "unless-stopped", logDriver: "json-file" });
      expect(byName(dev, CONTAINER, "kryonix-dev-postgres").inputs).toMatchObject({ memory: 1024, memorySwap: 1024, cpus: "2.0" });
      expect(pg.logOpts).toEqual({ "max-size": "10m", "max-file": "5" });
      expect(pg.healthcheck.tests).toEqual(["CMD", "pg_isready", "-q", "-t", "3", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"]);
      for (const c of containers(prod)) {
        expect(c.inputs.wait, c.inputs.name).toBe(true);
        expect(c.inputs.healthcheck.tests.length, c.inputs.name).toBeGreaterThan(1);
        expect(c.inputs.image, c.inputs.name).toMatch(/^sha256:/);
      }
    });

    it("uses the images the toolchain recorded, without pulling them away", () => {
      const images = ofType(dev, "docker:index/remoteImage:RemoteImage").map((r) => [r.inputs.name, r.inputs.keepLocally]);
      // The cluster's images (patroni, etcd, haproxy) only with kryonix:topology ha.
      const single = Object.values(IMAGES).filter((tag) => !/^kryonix\/(patroni|etcd|haproxy):/.test(tag));
      expect(images.sort()).toEqual(single.map((tag) => [tag, true]).sort());
    });

    it.each([
      ["1.41 (no start_interval)", "old"],
      ["1.44", "new"],
    ])("writes healthchecks for the engine's API %s, with durations as the engine reports them", (_api, which) => {
      const engine: EngineFeatures = { healthcheckStartInterval: which === "new" };
      const list = which === "new" ? [adopted] : [dev, prod];
      const startPeriods: Record<string, string> = {
        postgres: "2m0s",
        pgbouncer: "30s",
        pgadmin: "2m0s",
        minio: "1m0s",
        proxy: "15s",
        prometheus: "1m0s",
        "postgres-exporter": "30s",
        "pgbouncer-exporter": "30s",
        "restore-drill": "30s",
      };
      for (const run of list) {
        for (const c of containers(run)) {
          const service = c.inputs.name.replace(/^kryonix-[a-z0-9]+-/, "");
          expect(c.inputs.healthcheck, c.inputs.name).toMatchObject({
            interval: engine.healthcheckStartInterval ? "10s" : "5s",
            timeout: "5s",
            retries: engine.healthcheckStartInterval ? 6 : 12,
            startPeriod: startPeriods[service],
            startInterval: engine.healthcheckStartInterval ? "1s" : "0s",
          });
        }
      }
    });

    it("disables swap on every container: memorySwap equals memory", () => {
      for (const [, run] of runs()) {
        for (const c of containers(run)) {
          expect(Number.isInteger(c.inputs.memory), c.inputs.name).toBe(true);
          expect(c.inputs.memory, c.inputs.name).toBeGreaterThan(0);
          expect(c.inputs.memorySwap, c.inputs.name).toBe(c.inputs.memory);
        }
      }
    });
  });

  describe("secrets and credentials", () => {
    it("puts no secret in any container's environment", () => {
      for (const run of [dev, prod]) {
        expect(run.generated.length).toBeGreaterThanOrEqual(9);
        for (const c of containers(run)) {
          for (const env of (c.inputs.envs ?? []) as string[]) {
            const [name, ...rest] = env.split("=");
            const value = rest.join("=");
            if (/PASSWORD|SECRET|KEY|TOKEN/i.test(name)) expect(value, `${c.inputs.name} ${name}`).toBe("");
            for (const secret of run.generated) expect(value, `${c.inputs.name} ${name}`).not.toContain(secret);
          }
          // No secret on the command line or in labels either (both show in docker inspect).
          const visible = JSON.stringify([c.inputs.command, c.inputs.entrypoints, c.inputs.labels, c.inputs.healthcheck]);
          for (const secret of run.generated) expect(visible).not.toContain(secret);
        }
      }
    });

    it("hands secrets over as uploaded files", () => {
      const uploads = (run: Run, name: string) =>
        Object.fromEntries(byName(run, CONTAINER, name).inputs.uploads.map((u: any) => [u.file, u.content]));
      // The proxy uploads its configuration only (its key is in its TLS volume).
      for (const c of containers(dev).filter((c) => c.inputs.name !== "kryonix-dev-proxy")) expect(c.secretInputs, c.inputs.name).toContain("uploads");
      const pg = uploads(dev, "kryonix-dev-postgres");
      expect(Object.keys(pg).sort()).toEqual([
        "/etc/cron.d/kryonix",
        "/etc/kryonix/pg_hba.conf",
        "/etc/kryonix/postgresql.conf",
        "/etc/pgbackrest/conf.d/kryonix-secrets.conf",
        "/etc/pgbackrest/kryonix-ca.crt",
        "/etc/pgbackrest/pgbackrest.conf",
        "/run/kryonix/postgres-password",
        "/run/kryonix/postgres-tls-key-passphrase",
      ]);
      expect(pg["/etc/kryonix/postgresql.conf"]).toContain("ssl = on\n");
      expect(pg["/etc/kryonix/pg_hba.conf"]).not.toMatch(/^host\s/m);
      // pgBackRest: the main file names no credential; the secrets file holds its own MinIO user's pair (never MinIO's root) and the 64-character passphrase.
      for (const secret of dev.generated) expect(pg["/etc/pgbackrest/pgbackrest.conf"]).not.toContain(secret);
      expect(pg["/etc/pgbackrest/pgbackrest.conf"]).toContain("repo1-s3-endpoint=kryonix-dev-minio");
      // The job schedule: the default crontab, no secret in it; the drill is in its own container.
      expect(pg["/etc/cron.d/kryonix"]).toContain("0 1 * * * root /usr/local/bin/kryonix-job backup-full ");
      expect(pg["/etc/cron.d/kryonix"]).not.toContain("restore-drill");
      for (const secret of dev.generated) expect(pg["/etc/cron.d/kryonix"]).not.toContain(secret);
      expect(pg["/etc/pgbackrest/kryonix-ca.crt"]).toBe(pem("CERTIFICATE", "pki-ca"));
      const minioUploads = uploads(dev, "kryonix-dev-minio");
      const secretsConf = pg["/etc/pgbackrest/conf.d/kryonix-secrets.conf"] as string;
      expect(secretsConf).toContain(`repo1-s3-key=kryonix-pgbackrest\n`);
      expect(secretsConf).not.toContain(minioUploads["/run/kryonix/minio-root-user"]);
      expect(secretsConf).not.toContain(minioUploads["/run/kryonix/minio-root-password"]);
      const s3Secret = /^repo1-s3-key-secret=(.*)$/m.exec(secretsConf)?.[1];
      expect(dev.generated).toContain(s3Secret);
      const s3SecretResource = dev.resources.find((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name === "secrets-pgbackrest-s3-secret-key");
      expect(s3SecretResource?.inputs).toMatchObject({ length: 40, special: false });
      const user = dev.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:MinioUser")!;
      expect(user.inputs).toMatchObject({ accessKey: "kryonix-pgbackrest", policyName: "kryonix-pgbackrest" });
      expect(JSON.parse(user.inputs.policy).Statement[1].Resource).toEqual(["arn:aws:s3:::kryonix-backups/pgbackrest/*"]);
      // The user exists before the server archives its first segment, and after the bucket.
      expect(dependencyClosure(dev, byName(dev, CONTAINER, "kryonix-dev-postgres")).has(user.urn)).toBe(true);
      expect(dependencyClosure(dev, user).has(dev.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:MinioBucket")!.urn)).toBe(true);
      const cipherPass = /^repo1-cipher-pass=(.*)$/m.exec(secretsConf)?.[1];
      expect(dev.generated).toContain(cipherPass);
      const cipherResource = dev.resources.find((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name === "secrets-pgbackrest-cipher-pass");
      expect(cipherResource?.inputs).toMatchObject({ length: 64, special: false });
      expect(pg["/etc/kryonix/postgresql.conf"]).toContain("archive_command = 'pgbackrest --stanza=kryonix archive-push %p'");
      expect(dev.generated).toContain(pg["/run/kryonix/postgres-password"]);
      // PostgreSQL's TLS key is encrypted with a passphrase of its own, which the server's command reads (CIS 6.8).
      expect(dev.generated).toContain(pg["/run/kryonix/postgres-tls-key-passphrase"]);
      expect(pg["/etc/kryonix/postgresql.conf"]).toContain("ssl_passphrase_command = 'cat /run/kryonix/postgres-tls-key-passphrase'\n");
      expect(pg["/etc/kryonix/postgresql.conf"]).toContain("ssl_passphrase_command_supports_reload = on\n");
      const hba = (pg["/etc/kryonix/pg_hba.conf"] as string).split("\n").filter((l) => l.trim() && !l.startsWith("#"));
      expect(hba.map((l) => l.split(/\s+/))).toEqual([
        ["local", "all", "postgres", "peer"],
        // PgBouncer over the shared socket: its lookup role and every user it logs in as, never the drill's.
        ["local", "kryonix_saas", "kryonix_migrator,kryonix_app,metabase_readonly,kryonix_monitor,kryonix_pgbouncer,kryonix_migrator_b,kryonix_app_b,metabase_readonly_b", "scram-sha-256"],
        ["hostssl", "kryonix_saas,postgres", "kryonix_drill", "samenet", "scram-sha-256"],
        ["hostssl", "all", "kryonix_drill", "all", "reject"],
        ["hostssl", "all", "all", "samenet", "scram-sha-256"],
      ]);
      expect(pg["/etc/kryonix/postgresql.conf"]).toContain("shared_buffers = 256MB");
      expect(uploads(prod, "kryonix-prod-postgres")["/etc/kryonix/postgresql.conf"]).toContain("shared_buffers = 2GB");

      const minio = uploads(dev, "kryonix-dev-minio");
      expect(dev.generated).toContain(minio["/run/kryonix/minio-root-user"]);
      expect(dev.generated).toContain(minio["/run/kryonix/minio-root-password"]);
      // Its certificate and key are in its TLS volume, not uploads.
      expect(Object.keys(minio).sort()).toEqual(["/run/kryonix/minio-root-password", "/run/kryonix/minio-root-user"]);

      const bouncer = uploads(dev, "kryonix-dev-pgbouncer");
      expect(bouncer["/etc/kryonix/pgbouncer.ini"]).toContain("auth_file = /etc/kryonix/userlist.txt");
      // PostgreSQL's shared Unix socket, no TLS on that leg; TLS from every client.
      expect(bouncer["/etc/kryonix/pgbouncer.ini"]).toContain("kryonix_saas = host=/run/kryonix-pgsocket port=5432 dbname=kryonix_saas");
      expect(bouncer["/etc/kryonix/pgbouncer.ini"]).not.toContain("server_tls");
      expect(bouncer["/etc/kryonix/pgbouncer.ini"]).toContain("client_tls_sslmode = require");
      expect(pg["/etc/kryonix/postgresql.conf"]).toContain("unix_socket_directories = '/run/postgresql,/run/kryonix-pgsocket'");
      expect(pg["/etc/kryonix/postgresql.conf"]).toContain("unix_socket_group = 'kryonix-pgsocket'");
      expect(byName(dev, CONTAINER, "kryonix-dev-pgbouncer").inputs.mounts).toContainEqual({ type: "volume", source: "kryonix-dev-postgres-socket", target: "/run/kryonix-pgsocket", readOnly: true });
      // The lookup role's password, then the monitoring role's SCRAM verifier (a console stats user).
      expect(bouncer["/etc/kryonix/userlist.txt"]).toMatch(/^"kryonix_pgbouncer" "Mock[0-9a-f]+Z9"\n"kryonix_monitor" "SCRAM-SHA-256\$4096:[^"]+"\n$/);
      expect(bouncer["/etc/kryonix/pgbouncer.ini"]).toContain("stats_users = kryonix_pgbouncer,kryonix_monitor");
      // The pooler runs first when the cores are contended; no other container changes Docker's default weight.
      for (const c of containers(dev)) expect(c.inputs.cpuShares, c.inputs.name).toBe(c.inputs.name === "kryonix-dev-pgbouncer" ? 8192 : undefined);

      // The exporters get the monitoring role's password as files only; Prometheus the bcrypt hash only.
      const pgExporter = uploads(dev, "kryonix-dev-postgres-exporter");
      expect(dev.generated).toContain(pgExporter["/run/kryonix/monitor-password"]);
      expect(pgExporter["/etc/kryonix/queries.yaml"]).toContain("audit.monitoring_last_backup");
      const bouncerExporter = uploads(dev, "kryonix-dev-pgbouncer-exporter");
      expect(bouncerExporter["/run/kryonix/monitor-pgpass"]).toBe(`kryonix-dev-pgbouncer:6432:pgbouncer:kryonix_monitor:${pgExporter["/run/kryonix/monitor-password"]}\n`);
      const prometheus = uploads(dev, "kryonix-dev-prometheus");
      expect(prometheus["/etc/kryonix/prometheus.yml"]).toContain("kryonix-dev-postgres-exporter:9187");
      expect(prometheus["/etc/kryonix/rules.yml"]).toContain("KryonixBackupTooOld");
      expect(prometheus["/run/kryonix/prometheus-web.yml"]).toMatch(/basic_auth_users:\n  kryonix: '\$2a\$10\$/);

      const pgadmin = uploads(dev, "kryonix-dev-pgadmin");
      expect(dev.generated).toContain(pgadmin["/run/kryonix/pgadmin-password"]);
      const servers = JSON.parse(pgadmin["/etc/kryonix/servers.json"]);
      expect(servers.Servers["1"]).toMatchObject({ Host: "kryonix-dev-pgbouncer", Port: 6432, MaintenanceDB: "kryonix_saas", Username: "kryonix_monitor" });
      expect(servers.Servers["1"].ConnectionParameters.passfile).toBe("/.pgpass");
      expect(servers.Servers["2"]).toMatchObject({ Host: "kryonix-dev-postgres", Port: 5432, Username: "postgres" });
      expect(servers.Servers["2"].ConnectionParameters).not.toHaveProperty("passfile");
      for (const secret of dev.generated) expect(pgadmin["/etc/kryonix/servers.json"]).not.toContain(secret);
      // The monitor role's generated password, in libpq's pgpass format, as a file only.
      const pgpass = pgadmin["/run/kryonix/pgadmin-pgpass"] as string;
      expect(pgpass).toMatch(/^kryonix-dev-pgbouncer:6432:\*:kryonix_monitor:Mock[0-9a-f]+Z9\n$/);
      expect(dev.generated).toContain(pgpass.trim().split(":").pop());

      const proxy = uploads(dev, "kryonix-dev-proxy");
      expect(Object.keys(proxy).sort()).toEqual(["/etc/kryonix/nginx.conf"]);
      expect(proxy["/etc/kryonix/nginx.conf"]).toContain("server_name pgadmin.kryonix.localhost;");
      expect(proxy["/etc/kryonix/nginx.conf"]).toContain("set $pgadmin_upstream http://kryonix-dev-pgadmin:80;");
      expect(proxy["/etc/kryonix/nginx.conf"]).toContain("ssl_certificate /etc/kryonix/tls/server.crt;");
      expect(proxy["/etc/kryonix/nginx.conf"]).toContain("ssl_certificate_key /etc/kryonix/tls/server.key;");
    });

    it("sets no role's password in clear: roles get SCRAM secrets", () => {
      for (const role of ofType(dev, "postgresql:index/role:Role").filter((r) => r.inputs.login)) {
        expect(role.inputs.password).toMatch(/^SCRAM-SHA-256\$4096:/);
        expect(role.inputs.encryptedPassword).toBe(true);
      }
    });

    it("gives each login user the SCRAM verifier of the password it exports, never the password", async () => {
      for (const [, run] of runs()) {
        const credentials = await resolved<{ roles: Record<string, string> }>((run.exports as Record<string, any>).credentials);
        const roles = ofType(run, "postgresql:index/role:Role").filter((r) => r.inputs.login);
        expect(roles.map((r) => r.inputs.name).sort()).toEqual([...LOGIN_USERS].sort());
        for (const role of roles) {
          const password = credentials.roles[role.inputs.name];
          expect(run.generated, role.inputs.name).toContain(password);
          const salt = /^SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]+)\$/.exec(role.inputs.password)![1];
          expect(Buffer.from(salt, "base64")).toHaveLength(16);
          expect(role.inputs.password, role.inputs.name).toBe(scramSha256Secret(password, Buffer.from(salt, "base64")));
          expect(JSON.stringify(role.inputs), role.inputs.name).not.toContain(password);
          expect(role.secretInputs, role.inputs.name).toContain("password");
        }
        // Each user has its own password and its own salt.
        expect(new Set(roles.map((r) => credentials.roles[r.inputs.name])).size).toBe(LOGIN_USERS.length);
        expect(new Set(roles.map((r) => r.inputs.password.split("$")[1])).size).toBe(LOGIN_USERS.length);
      }
    });

    it("exports the superuser's credentials with the others, and they make a connection target", async () => {
      for (const [stack, run] of runs()) {
        const exports = run.exports as Record<string, any>;
        const credentials = await resolved<any>(exports.credentials);
        const postgres = byName(run, CONTAINER, `kryonix-${stack}-postgres`);
        const uploaded = postgres.inputs.uploads.find((u: any) => u.file === "/run/kryonix/postgres-password").content;
        expect(credentials.postgres).toEqual({ user: "postgres", password: uploaded });
        expect(run.generated).toContain(credentials.postgres.password);
        expect(Object.keys(credentials).sort()).toEqual(["logins", "minio", "pgadmin", "postgres", "prometheus", "roles"]);
        expect(credentials.prometheus.user).toBe("kryonix");
        expect(run.generated).toContain(credentials.prometheus.password);
        const target = connectionTargetFrom(stack, { endpoints: await resolved(exports.endpoints), credentials });
        expect(target.superuser).toEqual({ user: "postgres", password: uploaded });
        expect(Object.keys(target.roles).sort()).toEqual([...LOGIN_USERS].sort());
        expect(target.postgres).toEqual({ host: "127.0.0.1", port: stack === "dev" ? 15432 : 25432, database: DATABASE_NAME });
        expect(target.pgbouncer).toEqual({ host: "127.0.0.1", port: stack === "dev" ? 16432 : 26432, database: DATABASE_NAME });
      }
    });

    it("exports endpoints without passwords and credentials only as a secret", async () => {
      const exports = prod.exports as Record<string, any>;
      const endpoints = await new Promise<any>((resolve) => pulumi.output(exports.endpoints).apply(resolve));
      expect(endpoints.pgbouncer).toEqual({ host: "127.0.0.1", port: 26432, database: "kryonix_saas" });
      expect(endpoints.postgres).toEqual({ host: "127.0.0.1", port: 25432, database: "kryonix_saas" });
      const devEndpoints = await new Promise<any>((resolve) => pulumi.output((dev.exports as Record<string, any>).endpoints).apply(resolve));
      expect(devEndpoints.postgres).toEqual({ host: "127.0.0.1", port: 15432, database: "kryonix_saas" });
      expect(endpoints.pgadmin).toMatchObject({ url: "http://127.0.0.1:25050", publicUrl: "https://pgadmin.kryonix.com.br" });
      expect(endpoints.minio.url).toBe("https://127.0.0.1:29000");
      expect(endpoints.minio.bucket).toBe("kryonix-backups");
      for (const secret of prod.generated) expect(JSON.stringify(endpoints)).not.toContain(secret);
      expect(await pulumi.isSecret(exports.credentials as pulumi.Output<unknown>)).toBe(true);
    });

    it("exports connections only as a secret: each pooled role's current login through PgBouncer, the superuser direct, the CA", async () => {
      const exports = prod.exports as Record<string, any>;
      expect(await pulumi.isSecret(exports.connections as pulumi.Output<unknown>)).toBe(true);
      const connections = await resolved<any>(exports.connections);
      const credentials = await resolved<any>(exports.credentials);
      const app = new URL(connections.pgbouncer.kryonix_app);
      expect([app.hostname, app.port, app.pathname, app.search]).toEqual(["127.0.0.1", "26432", "/kryonix_saas", "?sslmode=verify-full"]);
      expect([decodeURIComponent(app.username), decodeURIComponent(app.password)]).toEqual([credentials.logins.kryonix_app.user, credentials.logins.kryonix_app.password]);
      const admin = new URL(connections.admin);
      expect([decodeURIComponent(admin.username), decodeURIComponent(admin.password), admin.port]).toEqual(["postgres", credentials.postgres.password, "25432"]);
      expect(connections.caCertificate).toBe(await resolved(exports.caCertificate));
    });

    it("generates every credential in the Secrets component, which depends on nothing", () => {
      for (const [, run] of runs()) {
        const secrets = single(run, "kryonix:db:Secrets");
        expect(secrets.dependencies).toEqual([]);
        const randoms = ofType(run, "random:");
        expect(randoms.map((r) => r.type.split(":").pop()).sort()).toEqual(
          // No RandomString: its value is its resource ID, in clear in the state. A password and a salt
          // per login user; the other passwords: superuser, MinIO root and its two users, pgAdmin,
          // Prometheus, ...
          [...Array(LOGIN_USERS.length).fill("RandomBytes"), ...Array(LOGIN_USERS.length + 9).fill("RandomPassword")].sort(),
        );
        for (const r of randoms) {
          expect(r.parent, `${r.type} ${r.name}`).toBe(secrets.urn);
          expect(r.dependencies, `${r.type} ${r.name}`).toEqual([]);
        }
        // Nothing else is below it.
        expect(run.resources.filter((r) => r.parent === secrets.urn && !r.type.startsWith("random:"))).toEqual([]);
      }
    });

    it("gives each role with outside clients a twin that inherits it, assumes it at login and has its connection limit", () => {
      for (const [, run] of runs()) {
        const role = (name: string) => ofType(run, "postgresql:index/role:Role").find((r) => r.inputs.name === name)!;
        for (const name of ALTERNATING_ROLES) {
          const twin = role(twinOf(name));
          expect(twin.inputs).toMatchObject({ login: true, inherit: true, roles: [name], assumeRole: name, connectionLimit: role(name).inputs.connectionLimit });
          expect(role(name).inputs.assumeRole).toBeUndefined();
        }
        for (const name of SINGLE_USER_ROLES) expect(role(`${name}_b`)).toBeUndefined();
      }
    });

    it("exports each role's current login: the role itself before any rotation", async () => {
      const credentials = await resolved<any>((dev.exports as Record<string, any>).credentials);
      for (const name of LOGIN_ROLES) expect(credentials.logins[name]).toEqual({ user: name, password: credentials.roles[name] });
    });
  });

  describe("Pki", () => {
    it("makes the CA and MinIO's certificate with @pulumi/tls in the Pki component, which depends on nothing", () => {
      for (const [stack, run] of runs()) {
        const pki = single(run, "kryonix:db:Pki");
        expect(pki.dependencies).toEqual([]);
        const tls = ofType(run, "tls:");
        expect(tls.map((r) => r.type.split(":").pop()).sort()).toEqual([
          // The CA; MinIO, the proxy, PostgreSQL and PgBouncer.
          ...Array(4).fill("CertRequest"), ...Array(4).fill("LocallySignedCert"), ...Array(5).fill("PrivateKey"), "SelfSignedCert",
        ]);
        const own = new Set(tls.map((r) => r.urn));
        for (const r of tls) {
          expect(r.parent, r.name).toBe(pki.urn);
          // Within the Pki only: a destroy that keeps the data keeps all of it.
          for (const d of r.dependencies) expect(own.has(d), `${r.name} depends on ${d}`).toBe(true);
        }
        for (const key of ofType(run, "tls:index/privateKey:PrivateKey")) {
          expect(key.inputs).toMatchObject({ algorithm: "ECDSA", ecdsaCurve: "P256" });
          expect(key.additionalSecretOutputs).toContain("privateKeyPem");
        }
        const caKey = run.resources.find((r) => r.name === "pki-ca-key")!;
        const ca = single(run, "tls:index/selfSignedCert:SelfSignedCert");
        expect(ca.inputs).toMatchObject({
          isCaCertificate: true,
          privateKeyPem: mockPrivateKeyPem("pki-ca-key"),
          subject: { commonName: `kryonix-${stack} CA`, organization: "KRYONIX" },
          validityPeriodHours: 3650 * 24,
          earlyRenewalHours: 30 * 24,
        });
        expect(ca.inputs.allowedUses).toEqual(expect.arrayContaining(["cert_signing"]));
        expect(ca.secretInputs).toContain("privateKeyPem");
        expect(ca.dependencies).toContain(caKey.urn);
        const request = run.resources.find((r) => r.name === "pki-minio-request")!;
        expect(request.inputs).toMatchObject({
          privateKeyPem: mockPrivateKeyPem("pki-minio-key"),
          dnsNames: [`kryonix-${stack}-minio`, "minio", "localhost"],
          ipAddresses: ["127.0.0.1"],
          subject: { commonName: `kryonix-${stack}-minio` },
        });
        const cert = run.resources.find((r) => r.name === "pki-minio")!;
        expect(cert.inputs).toMatchObject({
          certRequestPem: pem("CERTIFICATE REQUEST", "pki-minio-request"),
          caCertPem: pem("CERTIFICATE", "pki-ca"),
          caPrivateKeyPem: mockPrivateKeyPem("pki-ca-key"),
          validityPeriodHours: 825 * 24,
          earlyRenewalHours: 30 * 24,
        });
        expect(cert.inputs.allowedUses).toEqual(expect.arrayContaining(["digital_signature", "server_auth"]));
        expect(cert.secretInputs).toContain("caPrivateKeyPem");
        expect(cert.dependencies).toEqual(expect.arrayContaining([request.urn, ca.urn, caKey.urn]));
      }
    });

    it("exports the CA's certificate, not a private key", async () => {
      for (const [, run] of runs()) {
        expect(await resolved((run.exports as Record<string, any>).caCertificate)).toBe(pem("CERTIFICATE", "pki-ca"));
        const endpoints = JSON.stringify(await resolved((run.exports as Record<string, any>).endpoints));
        for (const key of run.privateKeys) expect(endpoints).not.toContain(key);
      }
      expect(await pulumi.isSecret((dev.exports as Record<string, any>).caCertificate)).toBe(false);
    });
  });

  describe("Database", () => {
    it("makes every database object wait for the PostgreSQL container", () => {
      for (const run of [dev, prod]) {
        const container = byName(run, CONTAINER, `kryonix-${run === dev ? "dev" : "prod"}-postgres`);
        const dbObjects = run.resources.filter(
          (r) => r.type.startsWith("postgresql:") || r.type === "pulumi:providers:postgresql" || r.type.startsWith("pulumi-nodejs:dynamic/kryonix:Sql"),
        );
        expect(dbObjects.length).toBeGreaterThan(40);
        for (const r of dbObjects) expect(dependencyClosure(run, r).has(container.urn), `${r.type} ${r.name}`).toBe(true);
        for (const r of dbObjects.filter((x) => x.type.startsWith("postgresql:"))) {
          expect(r.provider, `${r.type} ${r.name} uses the stack's provider`).toBeDefined();
        }
      }
    });

    it("builds the provider from the container's outputs", () => {
      const provider = (run: Run) => run.resources.find((r) => r.type === "pulumi:providers:postgresql")!;
      expect(provider(dev).inputs).toMatchObject({ host: "127.0.0.1", port: "15432", username: "postgres", sslmode: "verify-full" });
      expect(provider(dev).inputs.sslrootcert).toBe(caFilePath("dev"));
      // The unit project writes it under KRYONIX_TLS_DIR, never over the real dev stack's file.
      expect(provider(dev).inputs.sslrootcert).not.toContain(".pulumi-state");
      // prod too: the port published on 127.0.0.1, never the container's address on the bridge network.
      expect(provider(prod).inputs).toMatchObject({ host: "127.0.0.1", port: "25432", username: "postgres", sslmode: "verify-full" });
    });

    it("applies the DDL after every role, schema, grant and extension, and grants on its views after it", () => {
      const migrations = dev.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:SqlMigrations")!;
      const before = dependencyClosure(dev, migrations);
      const ddlNeeds = dev.resources.filter((r) => r.type.startsWith("postgresql:") && !isAfterDdlGrant(r));
      for (const r of ddlNeeds) expect(before.has(r.urn), `${r.type} ${r.name}`).toBe(true);
      const viewGrant = dev.resources.find((r) => r.type === "postgresql:index/grant:Grant" && r.inputs.objects?.length)!;
      expect(viewGrant.inputs).toMatchObject({ role: "kryonix_monitor", schema: "audit", privileges: ["SELECT"] });
      expect(dependencyClosure(dev, viewGrant).has(migrations.urn)).toBe(true);
      // Metabase's usage on audit and its share of the views come after it.
      const afterDdl = dev.resources.filter(isAfterDdlGrant);
      expect(afterDdl.map((r) => r.name).sort()).toEqual(
        ["database-kryonix_monitor-monitoring-views", "database-metabase_readonly-audit-usage", "database-metabase_readonly-monitoring-views"].sort(),
      );
      for (const r of afterDdl) expect(dependencyClosure(dev, r).has(migrations.urn), r.name).toBe(true);
      expect(afterDdl.find((r) => r.name === "database-metabase_readonly-monitoring-views")!.inputs.objects).toEqual([...METABASE_MONITORING_VIEWS]);
      expect(migrations.inputs.role).toBe(OWNER_ROLE);
      expect(migrations.inputs.connection.user).toBe(MIGRATOR_ROLE);
      expect(migrations.inputs.files.map((f: { name: string }) => f.name)).toEqual(loadMigrationFiles().map((f) => f.name));
      expect(migrations.additionalSecretOutputs).toContain("connection");
    });

    it("lists privileges explicitly, never ALL", () => {
      const publicSchema = dev.resources.find((r) => r.inputs.role === "public" && r.inputs.schema === "public")!;
      for (const r of dev.resources.filter((x) => /postgresql:index\/(grant:Grant|defaultPrivileges:DefaultPrivileges)/.test(x.type) && x !== publicSchema)) {
        expect(r.inputs.privileges.length, r.name).toBeGreaterThan(0);
        expect(r.inputs.privileges, r.name).not.toContain("ALL");
      }
      // PUBLIC keeps nothing on schema public (CIS 4.10): an empty list revokes every privilege.
      expect(publicSchema.inputs.privileges).toEqual([]);
      const readonlyTables = dev.resources.filter((r) => r.inputs.role === "metabase_readonly" && r.inputs.objectType === "table");
      expect(readonlyTables.map((r) => [r.type.split(":").pop(), r.inputs.schema, r.inputs.privileges]).sort()).toEqual(
        [
          ["DefaultPrivileges", "analytics", ["SELECT"]],
          ["DefaultPrivileges", "core", ["SELECT"]],
          ["Grant", "analytics", ["SELECT"]],
          ["Grant", "audit", ["SELECT"]],
          ["Grant", "core", ["SELECT"]],
        ].sort(),
      );
    });

    it("deletes every database object with the postgres data volume, so a destroy that keeps the data drops nothing", () => {
      for (const [stack, run] of runs()) {
        const volume = byName(run, VOLUME, `kryonix-${stack}-postgres`);
        const objects = ofType(run, "postgresql:");
        expect(objects.length).toBeGreaterThan(40);
        for (const r of objects) expect(r.deletedWith, `${r.type} ${r.name}`).toBe(volume.urn);
        const scripts = ofType(run, "pulumi-nodejs:dynamic/kryonix:SqlScript");
        expect(scripts.map((r) => r.inputs.description).sort()).toEqual(["job runs recorder", "pg_cron partitions job", "pgbouncer auth function", "postgres: CIS hardening", "restore drill grants", "template1: CIS hardening"]);
        for (const r of scripts) expect(r.deletedWith, r.name).toBe(volume.urn);
        // The volume itself and the containers go (or stay) by their own rules.
        for (const r of [...containers(run), ...ofType(run, VOLUME)]) expect(r.deletedWith, r.inputs.name).toBe("");
      }
    });

    it("ignores the database's template, which cannot be read back", () => {
      for (const [, run] of runs()) {
        const database = single(run, "postgresql:index/database:Database");
        expect(database.ignoreChanges).toEqual(["template"]);
        expect(database.inputs).toMatchObject({ name: DATABASE_NAME, template: "template0" });
      }
    });

    it("makes grants and default privileges one after another, in a single chain", () => {
      for (const [, run] of runs()) {
        const isGrant = (r: Recorded) => /^postgresql:index\/(grant:Grant|defaultPrivileges:DefaultPrivileges)$/.test(r.type);
        const viewGrant = run.resources.find((r) => r.type === "postgresql:index/grant:Grant" && r.inputs.objects?.length)!;
        const chain = run.resources.filter((r) => isGrant(r) && !isAfterDdlGrant(r));
        expect(chain.length).toBeGreaterThan(20);
        const inChain = new Set(chain.map((r) => r.urn));
        // Each one's grant dependencies: none for the first, exactly its predecessor for the rest.
        const previous = new Map(chain.map((r) => [r.urn, r.dependencies.filter((d) => inChain.has(d))]));
        const heads = chain.filter((r) => previous.get(r.urn)!.length === 0);
        expect(heads.map((r) => r.name)).toEqual(["database-public-schema"]);
        for (const r of chain) expect(previous.get(r.urn)!.length, r.name).toBeLessThanOrEqual(1);
        // No fork: every grant is the predecessor of at most one other, so walking from the head visits them all.
        const next = new Map<string, string>();
        for (const r of chain) {
          const [p] = previous.get(r.urn)!;
          if (!p) continue;
          expect(next.has(p), `two grants follow ${p}`).toBe(false);
          next.set(p, r.urn);
        }
        const order = [heads[0].urn];
        while (next.has(order[order.length - 1])) order.push(next.get(order[order.length - 1])!);
        expect(order).toHaveLength(chain.length);
        // The monitoring views' grant comes after the last of them, and after the migrations.
        const migrations = single(run, "pulumi-nodejs:dynamic/kryonix:SqlMigrations");
        expect(viewGrant.dependencies).toEqual(expect.arrayContaining([order[order.length - 1], migrations.urn]));
        expect(viewGrant.deletedWith).toBe(run.resources.find((r) => r.type === VOLUME && r.inputs.name.endsWith("-postgres"))!.urn);
      }
    });
  });

  describe("dynamic providers", () => {
    it("serializes the dynamic providers without capturing a secret", () => {
      const dynamic = dev.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));
      // The certificates are @pulumi/tls resources now, not dynamic providers.
      expect(dynamic.map((r) => r.type.split(":").pop()).sort()).toEqual(["DatabaseRepair", "MinioBucket", "MinioUser", "MinioUser", "PgbackrestStanza", "SqlMigrations", "SqlScript", "SqlScript", "SqlScript", "SqlScript", "SqlScript", "SqlScript", "TlsFiles", "TlsFiles", "TlsFiles", "TlsFiles"]);
      for (const r of dynamic) {
        expect(typeof r.inputs.__provider, r.name).toBe("string");
        for (const secret of [...dev.generated, ...dev.privateKeys]) expect(r.inputs.__provider).not.toContain(secret);
      }
    });

    it("repairs drift no provider reads after the migrations: the indexes of sql/, the superuser connection a secret", () => {
      const repair = dev.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:DatabaseRepair")!;
      const migrations = dev.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:SqlMigrations")!;
      expect(dependencyClosure(dev, repair).has(migrations.urn)).toBe(true);
      expect(repair.deletedWith).toBe(byName(dev, VOLUME, "kryonix-dev-postgres").urn);
      expect(repair.inputs.indexes["core.idx_projects_company_id"]).toMatch(/^CREATE INDEX idx_projects_company_id ON core\.projects/);
      expect(repair.inputs.ownerRole).toBe("kryonix_owner");
      expect(repair.secretInputs).toEqual(expect.arrayContaining(["connection"]));
      expect(repair.additionalSecretOutputs).toEqual(expect.arrayContaining(["connection"]));
    });

    it.each(["dev", "prod"])("%s: makes the versioned backup bucket after the MinIO container, with no credential in clear", (stack) => {
      const run = stack === "dev" ? dev : prod;
      const buckets = run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/kryonix:MinioBucket");
      expect(buckets).toHaveLength(1);
      const bucket = buckets[0];
      const container = byName(run, CONTAINER, `kryonix-${stack}-minio`);
      expect(dependencyClosure(run, bucket).has(container.urn)).toBe(true);
      const port = stack === "dev" ? 19000 : 29000;
      expect(bucket.inputs).toMatchObject({ endpoint: `https://127.0.0.1:${port}`, bucket: BACKUP_BUCKET, versioning: true });
      // The stack CA's certificate (what clients trust), not the server's.
      expect(bucket.inputs.caCertificatePem).toBe(pem("CERTIFICATE", "pki-ca"));
      // The bucket lives in the MinIO volume: a destroy that keeps the volume keeps the bucket.
      expect(bucket.deletedWith).toBe(byName(run, VOLUME, `kryonix-${stack}-minio`).urn);
      // The root credentials the container gets, as secrets only.
      const uploads = Object.fromEntries(container.inputs.uploads.map((u: any) => [u.file, u.content]));
      expect(bucket.inputs.accessKey).toBe(uploads["/run/kryonix/minio-root-user"]);
      expect(bucket.inputs.secretKey).toBe(uploads["/run/kryonix/minio-root-password"]);
      expect(bucket.secretInputs).toEqual(expect.arrayContaining(["accessKey", "secretKey"]));
      expect(bucket.additionalSecretOutputs).toEqual(expect.arrayContaining(["accessKey", "secretKey"]));
      const inClear = JSON.stringify({ ...bucket.inputs, accessKey: undefined, secretKey: undefined, __provider: undefined });
      for (const secret of run.generated) expect(inClear).not.toContain(secret);
    });

    it.each(["dev", "prod"])("%s: creates the pgBackRest stanza after the postgres container and the bucket, deleted with the data volume", (stack) => {
      const run = stack === "dev" ? dev : prod;
      const stanza = single(run, "pulumi-nodejs:dynamic/kryonix:PgbackrestStanza");
      expect(stanza.inputs).toMatchObject({ container: `kryonix-${stack}-postgres`, stanza: "kryonix", bucket: BACKUP_BUCKET });
      const closure = dependencyClosure(run, stanza);
      expect(closure.has(byName(run, CONTAINER, `kryonix-${stack}-postgres`).urn)).toBe(true);
      expect(closure.has(single(run, "pulumi-nodejs:dynamic/kryonix:MinioBucket").urn)).toBe(true);
      expect(stanza.deletedWith).toBe(byName(run, VOLUME, `kryonix-${stack}-postgres`).urn);
      // PostgreSQL starts after MinIO and stops before it: stopping archives what is pending.
      expect(dependencyClosure(run, byName(run, CONTAINER, `kryonix-${stack}-postgres`)).has(byName(run, CONTAINER, `kryonix-${stack}-minio`).urn)).toBe(true);
    });

    it("serializes the MinioBucket provider with the MinIO client loaded at run time", async () => {
      // Inside the project, so that the serialized require("minio") resolves as it does in the plugin.
      const cache = path.join(__dirname, "..", "..", "node_modules", ".cache");
      mkdirSync(cache, { recursive: true });
      const dir = mkdtempSync(path.join(cache, "kryonix-minio-provider-"));
      try {
        const r = dev.resources.find((x) => x.type === "pulumi-nodejs:dynamic/kryonix:MinioBucket")!;
        const file = path.join(dir, "MinioBucket.js");
        writeFileSync(file, r.inputs.__provider);
        const provider = createRequire(file)(file).handler() as pulumi.dynamic.ResourceProvider;
        const inputs: Record<string, any> = { ...r.inputs, endpoint: "https://127.0.0.1:1" };
        delete inputs.__provider;
        delete inputs.versioningStatus;
        expect((await provider.check!({}, inputs)).failures).toEqual([]);
        // The client is there and refused by the closed port (not "minio is not installed").
        const err = await provider.create!(inputs).then(
          () => new Error("created"),
          (e: Error) => e,
        );
        expect(err.message).toMatch(/bucketExists failed: .*ECONNREFUSED/);
        for (const secret of dev.generated) expect(err.message).not.toContain(secret);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("serializes providers that run in plain Node, as the dynamic-provider plugin runs them", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "kryonix-providers-"));
      try {
        const load = (type: string) => {
          const r = dev.resources.find((x) => x.type === `pulumi-nodejs:dynamic/kryonix:${type}`)!;
          const file = path.join(dir, `${type}.js`);
          writeFileSync(file, r.inputs.__provider);
          return createRequire(file)(file).handler() as pulumi.dynamic.ResourceProvider;
        };
        const migrations = load("SqlMigrations");
        const a = { name: "001_a.sql", sql: "SELECT 1;\n" };
        const applied = [{ name: a.name, checksum: checksum(a.sql) }];
        const unreachable = { ...connection, port: 1 };
        const changed = { connection: unreachable, role: "r", files: migrationInputs([{ ...a, sql: "SELECT 2;\n" }]) };
        await expect(migrations.diff!("id", { ...changed, applied }, changed)).rejects.toThrow(/applied migrations are immutable/);
        // Reaches node-postgres: missing (see io/pg-connect.ts) or, once installed, refused by the closed port.
        await expect(migrations.create!({ connection: unreachable, role: "r", files: migrationInputs([a]) })).rejects.toThrow(
          /node-postgres|ECONNREFUSED/,
        );
        await expect(load("SqlScript").create!({ connection: unreachable, description: "d", sql: "SELECT 1" })).rejects.toThrow(
          /node-postgres|ECONNREFUSED/,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("Monitoring", () => {
    it("gives Prometheus the stack's retention and alerting thresholds", () => {
      const prometheus = byName(dev, CONTAINER, "kryonix-dev-prometheus");
      expect(prometheus.inputs.envs).toEqual(["PROMETHEUS_RETENTION=15d"]);
      const rules = prometheus.inputs.uploads.find((u: { file: string }) => u.file.endsWith("rules.yml"));
      expect(rules.content).toContain("kryonix:pg_last_backup_age:seconds > 93600");
      // The cluster's targets and alerts are the ha topology's only.
      expect(rules.content).not.toMatch(/patroni|etcd|Cluster/);
      const yml = prometheus.inputs.uploads.find((u: { file: string }) => u.file.endsWith("prometheus.yml"));
      expect(yml.content).not.toMatch(/patroni|etcd/);
    });
  });

  describe("the restore drill", () => {
    it("runs the restore drill in a container of its own: the postgres image, its own limits, no port, the drill role's password as a file", async () => {
      const drill = byName(dev, CONTAINER, "kryonix-dev-restore-drill");
      const pg = byName(dev, CONTAINER, "kryonix-dev-postgres");
      expect(drill.inputs.image).toBe(pg.inputs.image);
      expect(drill.inputs.command).toEqual(["/usr/local/bin/kryonix-drill-service"]);
      expect([drill.inputs.memory, drill.inputs.memorySwap, drill.inputs.cpus]).toEqual([512, 512, "1.0"]);
      expect(drill.inputs.ports).toEqual([]);
      // No anonymous volume for the image's data directory: an empty tmpfs; the copies go to the container's own layer.
      expect(drill.inputs.mounts).toEqual([{ type: "tmpfs", target: "/var/lib/postgresql/data", tmpfsOptions: { sizeBytes: 1048576 } }]);
      const files = Object.fromEntries(drill.inputs.uploads.map((u: any) => [u.file, u.content]));
      expect(Object.keys(files).sort()).toEqual([
        "/etc/cron.d/kryonix",
        "/etc/kryonix/drill.conf",
        "/etc/kryonix/tls/ca.crt",
        "/etc/pgbackrest/conf.d/kryonix-secrets.conf",
        "/etc/pgbackrest/kryonix-ca.crt",
        "/etc/pgbackrest/pgbackrest.conf",
        "/run/kryonix/drill.pgpass",
      ]);
      expect(files["/etc/cron.d/kryonix"]).toContain("0 4 * * 0 root /usr/local/bin/kryonix-job restore-drill kryonix-drill");
      expect(files["/etc/cron.d/kryonix"]).not.toContain("backup-full");
      expect(files["/etc/kryonix/drill.conf"]).toContain("KRYONIX_LIVE_HOST=kryonix-dev-postgres\nKRYONIX_LIVE_PORT=5432\nKRYONIX_LIVE_USER=kryonix_drill\n");
      const credentials = await resolved<any>((dev.exports as Record<string, any>).credentials);
      expect(files["/run/kryonix/drill.pgpass"]).toContain(`:kryonix_drill:${credentials.roles.kryonix_drill}\n`);
      // The superuser's password reaches no file of this container; pgBackRest there is the drill's own read-only MinIO user.
      for (const content of Object.values(files)) expect(content).not.toContain(credentials.postgres.password);
      expect(files["/etc/pgbackrest/conf.d/kryonix-secrets.conf"]).toContain("repo1-s3-key=kryonix-drill\n");
      const pgSecrets = Object.fromEntries(pg.inputs.uploads.map((u: any) => [u.file, u.content]))["/etc/pgbackrest/conf.d/kryonix-secrets.conf"] as string;
      expect(/^repo1-s3-key-secret=(.*)$/m.exec(files["/etc/pgbackrest/conf.d/kryonix-secrets.conf"])![1]).not.toBe(/^repo1-s3-key-secret=(.*)$/m.exec(pgSecrets)![1]);
      const drillUser = dev.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:MinioUser" && r.inputs.accessKey === "kryonix-drill")!;
      expect(JSON.parse(drillUser.inputs.policy).Statement[1]).toEqual({ Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::kryonix-backups/pgbackrest/*"] });
      expect(drill.secretInputs).toContain("uploads");
      // It starts once its grants exist, after the stanza.
      const scripts = ofType(dev, "pulumi-nodejs:dynamic/kryonix:SqlScript").filter((r) => ["restore drill grants", "job runs recorder"].includes(r.inputs.description));
      expect(scripts.map((r) => r.inputs.connection.database).sort()).toEqual(["kryonix_saas", "postgres"]);
      for (const r of scripts) expect(dependencyClosure(dev, drill).has(r.urn)).toBe(true);
      expect(dependencyClosure(dev, drill).has(dev.resources.find((r) => r.type === "pulumi-nodejs:dynamic/kryonix:PgbackrestStanza")!.urn)).toBe(true);
    });
  });
});

describe("configuration errors", () => {
  it("surface before any resource is created", async () => {
    const run = await runProgram("dev", { "kryonix:postgresPort": "80", "kryonix:postgresMemory": "lots", "kryonix:colour": "blue" });
    // The program's own ConfigError class (loaded apart from this file's).
    expect((run.error as Error).name).toBe(ConfigError.name);
    const message = (run.error as Error).message;
    expect(message).toContain('kryonix:postgresPort: "80" is invalid: an integer from 1024 to 65535');
    expect(message).toContain('kryonix:postgresMemory: "lots" is invalid');
    expect(message).toContain("kryonix:colour");
    expect(run.resources).toEqual([]);
  });

  it("name a secret config value's key without echoing the value", async () => {
    const run = await runProgram("dev", { "kryonix:storage": "hunter2-secret" }, ["kryonix:storage"]);
    expect((run.error as Error).message).toContain("kryonix:storage: secrets are generated by the stack");
    expect((run.error as Error).message).not.toContain("hunter2");
    expect(run.resources).toEqual([]);
  });

  it("reject shared_buffers over 40% of the memory", async () => {
    const run = await runProgram("dev", { "kryonix:postgresMemory": "1GiB", "kryonix:postgresOverrides": '{"shared_buffers":"512MB"}' });
    expect((run.error as Error).message).toMatch(/shared_buffers/);
    expect(run.resources).toEqual([]);
  });

  it("kryonixConfigValues keeps only kryonix keys and hides secret values", () => {
    expect(kryonixConfigValues({ "kryonix:a": "1", "docker:host": "x", "kryonix:b": "s" }, (k) => k === "kryonix:b")).toEqual({
      "kryonix:a": "1",
      "kryonix:b": { secure: "[secret]" },
    });
  });
});
