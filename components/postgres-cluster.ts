import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CLUSTER_ROLE_CONNECTION_LIMITS, HAPROXY_READ_PORT, HAPROXY_WRITE_PORT, clusterMembers, type ClusterMembers } from "../model/cluster";
import { CRONTAB_FILE } from "../model/backup-schedule";
import { LOG_DRIVER, LOG_OPTS, LOOPBACK, RESTART_POLICY, UPLOAD_MODE, cpusString, healthcheck, memoryMiB, portProblems, throwProblems } from "../model/containers";
import type { EngineFeatures } from "../model/containers";
import { MAINTENANCE_DATABASE, SUPERUSER } from "../model/database";
import { invalid } from "../model/messages";
import { SERVER_LOG_DIR, type ServerLogMode } from "../model/server-log";
import { POSTGRES_TLS_PASSPHRASE_FILE, TLS_CA_FILE, type ServerTls, postgresTlsParameters } from "../model/tls";
import { encryptPrivateKeyPem } from "../model/tls-key";
import { MAX_CPUS, MIN_CPUS, MIN_POSTGRES_MEMORY, type PgParams } from "../model/tuning";
import { ETCD_CONFIG_FILE, ETCD_DATA_DIR, renderEtcdYml } from "../render/etcd";
import { HAPROXY_CONFIG_FILE, renderHaproxyCfg } from "../render/haproxy";
import { renderPgHbaConf } from "../render/pg-hba";
import { PGBACKREST_CA_FILE, PGBACKREST_CONF_FILE, PGBACKREST_SECRETS_FILE } from "../render/pgbackrest";
import { PATRONI_CONFIG_FILE, PATRONI_DATA_DIR, patroniDynamicConfig, renderPatroniYml } from "../render/patroni";
import { PatroniConfig } from "../providers/patroni-config";
import { SqlScript } from "../providers/sql-script";
import { serverTlsVolume } from "../providers/tls-files";
import { type SuperuserAccess, superuserConnection } from "./postgres";

/** etcd and HAProxy are small: their limits are fixed, not settings. */
const ETCD_MEMORY_BYTES = 128 * 1024 * 1024;
const HAPROXY_MEMORY_BYTES = 64 * 1024 * 1024;
/** Root-only: the file holds the superuser, replication, rewind and REST API passwords; the entrypoint gives postgres a private copy. */
const PATRONI_CONFIG_MODE = "0400";
/** 200 once PostgreSQL runs on the node, leader or streaming replica (a replica still cloning is not yet healthy). */
const NODE_HEALTHCHECK = ["curl", "-fsS", "-o", "/dev/null", "--max-time", "3", "http://127.0.0.1:8008/health"];
const ETCD_HEALTHCHECK = ["etcdctl", "--endpoints=http://127.0.0.1:2379", "--command-timeout=2s", "endpoint", "health"];
const HAPROXY_HEALTHCHECK = ["/usr/local/bin/kryonix-haproxy-healthcheck"];

export interface PostgresClusterArgs {
  stack: string;
  network: pulumi.Input<string>;
  engine: EngineFeatures;
  images: { patroni: string; etcd: string; haproxy: string; postgres: string };
  /** Each node's memory and CPU limits (the stack's postgresMemory and postgresCpus). */
  memoryBytes: number;
  cpus: number;
  protectData: boolean;
  /** The final postgresql.conf parameters (postgresParameters(config)): the DCS's first configuration and each node's local one. */
  parameters: PgParams;
  serverLog: ServerLogMode;
  /** HAProxy's write port (the leader) and read port (replicas within the lag bound), on 127.0.0.1 only. */
  writePort: number;
  readPort: number;
  superuserPassword: pulumi.Input<string>;
  tlsKeyPassphrase: pulumi.Input<string>;
  /** One certificate for every node, naming the nodes and HAProxy (model/topology.ts). */
  tls: ServerTls;
  pgbackrest: { config: string; secrets: pulumi.Input<string>; caCertificate: pulumi.Input<string>; stanza: string };
  /** The job schedule: cron runs it on every node, and the jobs run only on the leader (images/postgres/job.sh). */
  crontab?: string;
  synchronousMode: boolean;
  replicaLagBoundBytes: number;
  /** Started before the nodes, stopped after them (MinIO: archive_command pushes there). */
  startAfter?: pulumi.Resource[];
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkPostgresClusterArgs(args: PostgresClusterArgs): void {
  const problems: string[] = [];
  if (!(args.memoryBytes >= MIN_POSTGRES_MEMORY)) problems.push(invalid("PostgresCluster memoryBytes", args.memoryBytes, `at least ${MIN_POSTGRES_MEMORY} bytes per node`));
  if (!(args.cpus >= MIN_CPUS && args.cpus <= MAX_CPUS)) problems.push(invalid("PostgresCluster cpus", args.cpus, `a number from ${MIN_CPUS} to ${MAX_CPUS}`));
  problems.push(...portProblems("PostgresCluster writePort", args.writePort), ...portProblems("PostgresCluster readPort", args.readPort));
  if (args.writePort === args.readPort) problems.push(invalid("PostgresCluster readPort", args.readPort, "a port other than the write port"));
  for (const image of ["patroni", "etcd", "haproxy", "postgres"] as const) {
    if (!args.images?.[image]) problems.push(invalid(`PostgresCluster images.${image}`, args.images?.[image], `a local tag kryonix/${image}:<hash> (run \`npm run toolchain\`)`));
  }
  throwProblems("PostgresCluster", problems);
}

/** The pg_hba lines clients get on every node: the single server's, less its local lines (Patroni writes its own). Pure. */
export function clusterClientHba(): string[] {
  return renderPgHbaConf()
    .split("\n")
    .filter((l) => /^(host|hostssl|hostnossl)\s/.test(l));
}

function memberContainer(
  args: PostgresClusterArgs,
  dockerName: string,
  image: pulumi.Input<string>,
  memoryBytes: number,
  ports: ReadonlyArray<{ internal: number; external: number }>,
  service: string,
): docker.ContainerArgs {
  return {
    name: dockerName,
    hostname: dockerName,
    image,
    restart: RESTART_POLICY,
    memory: memoryMiB(memoryBytes),
    memorySwap: memoryMiB(memoryBytes),
    networksAdvanced: [{ name: args.network }],
    ports: ports.map((p) => ({ internal: p.internal, external: p.external, ip: LOOPBACK, protocol: "tcp" })),
    wait: true,
    logDriver: LOG_DRIVER,
    logOpts: { ...LOG_OPTS },
    labels: [
      { label: "com.kryonix.stack", value: args.stack },
      { label: "com.kryonix.service", value: service },
      { label: "com.kryonix.managed-by", value: "pulumi" },
    ],
  };
}

/**
 * The `ha` topology's PostgreSQL: three nodes managed by Patroni (a leader, a synchronous standby,
 * a replica), a three-member etcd as Patroni's consensus store and HAProxy in front, whose write
 * port always leads to the current leader (Patroni's `GET /primary`) and read port to replicas
 * within the lag bound. Node 1 starts first and initialises the cluster; the others clone it.
 * The host reaches the cluster only through HAProxy's ports on 127.0.0.1.
 */
export class PostgresCluster extends pulumi.ComponentResource {
  public readonly members: ClusterMembers;
  /** HAProxy's container name: what PgBouncer, the exporter and the drill dial (the certificate names it). */
  public readonly internalHost: string;
  public readonly internalPort = HAPROXY_WRITE_PORT;
  public readonly adminHost: string = LOOPBACK;
  public readonly adminPort: number;
  public readonly readPort: number;
  public readonly superuser: SuperuserAccess;
  public readonly superuserPassword: pulumi.Output<string>;
  /** Node 1's data volume: the database objects are deleted with it. */
  public readonly volume: docker.Volume;
  public readonly volumes: docker.Volume[];
  public readonly nodes: docker.Container[];
  public readonly etcd: docker.Container[];
  /** HAProxy: once it is healthy, the write port leads to a leader. */
  public readonly container: docker.Container;
  /** Node 1, where the stanza is created at first (it initialised the cluster, so it leads then). */
  public readonly firstNode: docker.Container;
  /** Node 1's container name: where the stanza is created and, for now, where the scripts run pgBackRest and psql. */
  public readonly containerName: string;
  /** The postgres image's ID, which the restore drill runs. */
  public readonly imageId: pulumi.Output<string>;
  public readonly clusterRoleLimits: SqlScript;
  public readonly dynamicConfig: PatroniConfig;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:PostgresCluster", name, {}, opts);
    checkPostgresClusterArgs(args);
    const members = clusterMembers(args.stack);
    this.members = members;
    this.internalHost = members.haproxy;
    this.adminPort = args.writePort;
    this.readPort = args.readPort;
    this.superuserPassword = pulumi.secret(args.superuserPassword);
    this.superuser = { host: LOOPBACK, port: args.writePort, user: SUPERUSER, password: this.superuserPassword, ca: args.tls.caCertificate };

    const image = (id: string, tag: string) => new docker.RemoteImage(`${name}-${id}-image`, { name: tag, keepLocally: true }, { parent: this }).imageId;
    const patroniImage = image("patroni", args.images.patroni);
    const etcdImage = image("etcd", args.images.etcd);
    const haproxyImage = image("haproxy", args.images.haproxy);
    this.imageId = image("postgres", args.images.postgres);

    // Patroni's own logins: generated once, kept with the data (the DCS and the nodes' pgpass use them).
    const password = (id: string) =>
      pulumi.secret(new random.RandomPassword(`${name}-${id}-password`, { length: 32, special: false, minLower: 2, minUpper: 2, minNumeric: 2 }, { parent: this, protect: args.protectData }).result);
    const passwords = pulumi.all([this.superuserPassword, password("replication"), password("rewind"), password("rest-api")]).apply(([superuser, replication, rewind, restApi]) => ({
      superuser,
      replication,
      rewind,
      restApi,
    }));

    // etcd: the three members start together (each resolves the others' names at start).
    this.etcd = members.etcd.map((m, i) => {
      const volume = new docker.Volume(`${name}-${m.name}`, { name: m.volume, labels: [{ label: "com.kryonix.stack", value: args.stack }] }, { parent: this, retainOnDelete: true, deleteBeforeReplace: true });
      return new docker.Container(
        `${name}-${m.name}`,
        {
          ...memberContainer(args, m.container, etcdImage, ETCD_MEMORY_BYTES, [], "etcd"),
          mounts: [{ type: "volume", source: volume.name, target: ETCD_DATA_DIR.replace(/\/data$/, "") }],
          uploads: [{ file: ETCD_CONFIG_FILE, content: renderEtcdYml({ members, member: i + 1 }), permissions: UPLOAD_MODE }],
          healthcheck: healthcheck(ETCD_HEALTHCHECK, 60, args.engine),
          waitTimeout: 120,
        },
        { parent: this, dependsOn: [volume], deleteBeforeReplace: true },
      );
    });

    const keyPassphrase = pulumi.secret(args.tlsKeyPassphrase);
    const encryptedKey = pulumi.secret(pulumi.all([args.tls.privateKeyPem, keyPassphrase]).apply(([key, passphrase]) => encryptPrivateKeyPem(key, passphrase)));
    // UTC as the single server's initdb gives it (CIS 3.1.26); Patroni's initdb would take the image's Etc/UTC.
    const localParameters: PgParams = { ...args.parameters, ...postgresTlsParameters(), log_timezone: "UTC", timezone: "UTC" };
    const pgHba = clusterClientHba();

    this.volumes = [];
    this.nodes = [];
    members.nodes.forEach((node, i) => {
      const n = i + 1;
      const volume = new docker.Volume(
        `${name}-node-${n}-data`,
        { name: node.volume, labels: [{ label: "com.kryonix.stack", value: args.stack }, { label: "com.kryonix.service", value: "postgres" }] },
        { parent: this, protect: args.protectData, retainOnDelete: true, deleteBeforeReplace: true },
      );
      this.volumes.push(volume);
      const logVolume =
        args.serverLog === "file" ? new docker.Volume(`${name}-node-${n}-log`, { name: `${node.container}-log`, labels: [{ label: "com.kryonix.stack", value: args.stack }] }, { parent: this, deleteBeforeReplace: true }) : undefined;
      const tls = serverTlsVolume(
        `${name}-node-${n}`,
        {
          container: node.container,
          labels: [{ label: "com.kryonix.stack", value: args.stack }],
          image: this.imageId,
          owner: SUPERUSER,
          reload: "postgres",
          // Through HAProxy: a renewed certificate is checked where clients meet it.
          hostPort: args.writePort,
          serverName: members.haproxy,
          tls: { ...args.tls, privateKeyPem: encryptedKey },
        },
        this,
      );
      const patroniYml = passwords.apply((p) =>
        renderPatroniYml({
          members,
          node: n,
          parameters: args.parameters,
          localParameters,
          pgHba,
          passwords: p,
          stanza: args.pgbackrest.stanza,
          synchronousMode: args.synchronousMode,
          replicaLagBoundBytes: args.replicaLagBoundBytes,
          tlsCaFile: TLS_CA_FILE,
        }),
      );
      const container = new docker.Container(
        `${name}-node-${n}`,
        {
          ...memberContainer(args, node.container, patroniImage, args.memoryBytes, [], "postgres"),
          cpus: cpusString(args.cpus),
          shmSize: Math.max(64, Math.floor(memoryMiB(args.memoryBytes) / 4)),
          mounts: [
            { type: "volume", source: volume.name, target: PATRONI_DATA_DIR },
            tls.mount,
            ...(logVolume ? [{ type: "volume", source: logVolume.name, target: SERVER_LOG_DIR }] : []),
          ],
          uploads: [
            { file: PATRONI_CONFIG_FILE, content: pulumi.secret(patroniYml), permissions: PATRONI_CONFIG_MODE },
            { file: POSTGRES_TLS_PASSPHRASE_FILE, content: keyPassphrase, permissions: UPLOAD_MODE },
            { file: PGBACKREST_CONF_FILE, content: args.pgbackrest.config, permissions: UPLOAD_MODE },
            { file: PGBACKREST_SECRETS_FILE, content: pulumi.secret(args.pgbackrest.secrets), permissions: UPLOAD_MODE },
            { file: PGBACKREST_CA_FILE, content: args.pgbackrest.caCertificate, permissions: UPLOAD_MODE },
            ...(args.crontab ? [{ file: CRONTAB_FILE, content: args.crontab, permissions: UPLOAD_MODE }] : []),
          ],
          healthcheck: healthcheck(NODE_HEALTHCHECK, 300, args.engine),
          waitTimeout: 600,
          // Patroni's signal: it stops the server and releases the leader key (a failover of seconds, not the key's TTL).
          stopSignal: "SIGTERM",
          stopTimeout: 60,
          destroyGraceSeconds: 60,
        },
        {
          parent: this,
          // Node 1 initialises the cluster; each other clones once the one before is healthy. A
          // changed node replaces them in the same order, one at a time (a rolling replacement).
          dependsOn: [volume, tls.files, ...(logVolume ? [logVolume] : []), ...this.etcd, ...(args.startAfter ?? []), ...(i > 0 ? [this.nodes[i - 1]] : [])],
          deleteBeforeReplace: true,
        },
      );
      this.nodes.push(container);
    });
    this.volume = this.volumes[0];
    this.firstNode = this.nodes[0];
    this.containerName = members.nodes[0].container;

    this.container = new docker.Container(
      `${name}-haproxy`,
      {
        ...memberContainer(
          args,
          members.haproxy,
          haproxyImage,
          HAPROXY_MEMORY_BYTES,
          [
            { internal: HAPROXY_WRITE_PORT, external: args.writePort },
            { internal: HAPROXY_READ_PORT, external: args.readPort },
          ],
          "haproxy",
        ),
        uploads: [{ file: HAPROXY_CONFIG_FILE, content: renderHaproxyCfg({ members, replicaLagBoundBytes: args.replicaLagBoundBytes }), permissions: UPLOAD_MODE }],
        healthcheck: healthcheck(HAPROXY_HEALTHCHECK, 30, args.engine),
        waitTimeout: 120,
      },
      { parent: this, dependsOn: this.nodes, deleteBeforeReplace: true },
    );

    // The DCS's share of the settings, after bootstrap: synchronous mode, the lag bound, max_connections and the like.
    this.dynamicConfig = new PatroniConfig(
      `${name}-dcs`,
      {
        containers: members.nodes.map((n) => n.container),
        scope: members.scope,
        config: patroniDynamicConfig({ parameters: args.parameters, stanza: args.pgbackrest.stanza, synchronousMode: args.synchronousMode, replicaLagBoundBytes: args.replicaLagBoundBytes }),
      },
      { parent: this, dependsOn: [this.container], deletedWith: this.volume },
    );

    // Patroni creates its replication and rewind roles without a connection limit (CIS 5.5).
    this.clusterRoleLimits = new SqlScript(
      `${name}-cluster-role-limits`,
      {
        connection: superuserConnection(this.superuser, MAINTENANCE_DATABASE),
        description: "connection limits of Patroni's roles",
        sql: Object.entries(CLUSTER_ROLE_CONNECTION_LIMITS)
          .map(([role, limit]) => `ALTER ROLE "${role}" CONNECTION LIMIT ${limit};`)
          .join("\n"),
      },
      { parent: this, dependsOn: [this.container], deletedWith: this.volume },
    );

    this.registerOutputs({ members, adminPort: this.adminPort, readPort: this.readPort });
  }
}
