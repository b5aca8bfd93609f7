import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { resourceName } from "../model/config";
import {
  CONFIG_DIR,
  SECRETS_DIR,
  UPLOAD_MODE,
  type EngineFeatures,
  healthcheck,
  labels,
  portProblems,
  serviceArgsProblems,
  serviceContainerArgs,
  throwProblems,
} from "../model/containers";
import { invalid } from "../model/messages";
import { renderPgpass } from "../render/pgpass";
import {
  PGBOUNCER_EXPORTER_PORT,
  POSTGRES_EXPORTER_PORT,
  PROMETHEUS_PORT,
  PROMETHEUS_RULES_FILE,
  clusterTargets,
  pgbouncerExporterDsn,
  renderExporterQueries,
  renderPrometheusRules,
  renderPrometheusWebConfig,
  renderPrometheusYml,
} from "../render/prometheus";
import { DEFAULT_THRESHOLDS, mergeThresholds, type Thresholds } from "../model/thresholds";
import { MiB } from "../model/size";
import { TLS_CA_FILE } from "../model/tls";
import type { ClusterMembers } from "../model/cluster";

/** Each exporter's memory limit: a Go binary with a handful of connections. */
export const EXPORTER_MEMORY = 64 * MiB;
export const PROMETHEUS_WEB_USER = "kryonix";
const EXPORTER_HEALTHCHECK = "/usr/local/bin/kryonix-exporter-healthcheck";
const PROMETHEUS_HEALTHCHECK = "/usr/local/bin/kryonix-prometheus-healthcheck";

export interface MonitoringArgs {
  stack: string;
  network: pulumi.Input<string>;
  engine: EngineFeatures;
  images: { prometheus: string; postgresExporter: string; pgbouncerExporter: string };
  prometheusMemoryBytes: number;
  /** Prometheus' UI and API on 127.0.0.1:prometheusPort. */
  prometheusPort: number;
  /** PostgreSQL and PgBouncer by name on the stack network. */
  postgres: { host: string; port: number; database: string };
  pgbouncer: { host: string; port: number };
  /** The stack CA (PEM): both exporters verify their server against it (sslmode=verify-full). */
  caCertificate: pulumi.Input<string>;
  /** The monitoring role (pg_monitor, a PgBouncer stats user) the exporters log in as, and its password. */
  monitorUser: string;
  monitorPassword: pulumi.Input<string>;
  /** The generated Prometheus password's bcrypt hash (RandomPassword.bcryptHash): the web configuration holds only this. */
  webPasswordHash: pulumi.Input<string>;
  /** The alerting rules' thresholds (kryonix:healthThresholds over the defaults), the same `npm run health` applies. */
  thresholds: Thresholds;
  /** How long Prometheus keeps samples on its volume (kryonix:prometheusRetentionDays). */
  retentionDays: number;
  /** Protect the metrics volume (kryonix:protectData). It is retained on delete either way. */
  protectData: boolean;
  /**
   * `ha` only: the cluster's members, scraped by container name (each node's Patroni REST API, each
   * etcd member), and the lag bound its replicas are held to (kryonix:replicaLagBound), with the
   * cluster's alerts. Absent on `single`.
   */
  cluster?: { members: ClusterMembers; replicaLagBoundBytes: number };
}

/** Where the image keeps its TSDB (images/prometheus/entrypoint.sh); the volume kryonix-<stack>-prometheus is mounted here. */
export const PROMETHEUS_DATA_DIR = "/var/lib/prometheus/metrics";

/** Throws one error naming every argument that cannot work. Pure. */
export function checkMonitoringArgs(args: MonitoringArgs): void {
  const base = { stack: args.stack, network: args.network, engine: args.engine };
  const problems = [
    ...serviceArgsProblems({ ...base, image: args.images?.prometheus, memoryBytes: args.prometheusMemoryBytes }, "prometheus", "Monitoring prometheus", 64 * MiB),
    ...portProblems("Monitoring prometheusPort", args.prometheusPort),
    ...mergeThresholds(DEFAULT_THRESHOLDS, { ...(args.thresholds ?? {}) }, (key) => `Monitoring thresholds.${key}`).problems,
  ];
  if (!Number.isInteger(args.retentionDays) || args.retentionDays < 1 || args.retentionDays > 3650) {
    problems.push(invalid("Monitoring retentionDays", args.retentionDays, "a whole number of days from 1 to 3650"));
  }
  if (typeof args.protectData !== "boolean") problems.push(invalid("Monitoring protectData", args.protectData, "true or false"));
  if (args.cluster && !(Number.isSafeInteger(args.cluster.replicaLagBoundBytes) && args.cluster.replicaLagBoundBytes > 0)) {
    problems.push(invalid("Monitoring cluster.replicaLagBoundBytes", args.cluster.replicaLagBoundBytes, "a whole number of bytes greater than 0"));
  }
  for (const [key, image] of Object.entries(args.images ?? {})) {
    if (typeof image !== "string" || !image) problems.push(invalid(`Monitoring images.${key}`, image, "a local image tag"));
  }
  try {
    renderPrometheusYml({
      stack: args.stack,
      postgresExporter: `exporter:${POSTGRES_EXPORTER_PORT}`,
      pgbouncerExporter: `exporter:${PGBOUNCER_EXPORTER_PORT}`,
      cluster: args.cluster && clusterTargets(args.cluster.members),
    });
    pgbouncerExporterDsn(args.pgbouncer?.host, args.pgbouncer?.port, args.monitorUser);
  } catch (err) {
    problems.push((err as Error).message);
  }
  throwProblems("Monitoring", problems);
}

/**
 * Prometheus with postgres_exporter and pgbouncer_exporter, three containers from Debian's
 * packages on the stack network. Only Prometheus is published (127.0.0.1, basic auth with a
 * generated password); the exporters answer on the stack network alone. The exporters log in as
 * the monitoring role, with its password as an uploaded file, never in the environment.
 */
export class Monitoring extends pulumi.ComponentResource {
  public readonly prometheusContainer: docker.Container;
  public readonly postgresExporterContainer: docker.Container;
  public readonly pgbouncerExporterContainer: docker.Container;
  public readonly prometheusPort: number;
  public readonly prometheusVolume: docker.Volume;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Monitoring", name, {}, opts);
    checkMonitoringArgs(args);
    this.prometheusPort = args.prometheusPort;
    const common = { stack: args.stack, network: args.network, engine: args.engine };
    const image = (id: string, tag: string) => new docker.RemoteImage(`${name}-${id}-image`, { name: tag, keepLocally: true }, { parent: this });
    const monitorPassword = pulumi.secret(args.monitorPassword);
    const clusterRules = args.cluster && { nodes: args.cluster.members.nodes.map((n) => n.name), replicaLagBoundBytes: args.cluster.replicaLagBoundBytes };

    this.postgresExporterContainer = new docker.Container(
      `${name}-postgres-exporter`,
      {
        ...serviceContainerArgs({ ...common, image: args.images.postgresExporter, memoryBytes: EXPORTER_MEMORY }, "postgres-exporter", image("postgres-exporter", args.images.postgresExporter).imageId, []),
        // No password here: DATA_SOURCE_PASS_FILE points at the entrypoint's private copy of the upload.
        envs: [
          `DATA_SOURCE_URI=${args.postgres.host}:${args.postgres.port}/${args.postgres.database}?sslmode=verify-full&sslrootcert=${TLS_CA_FILE}`,
          `DATA_SOURCE_USER=${args.monitorUser}`,
        ],
        uploads: [
          { file: `${SECRETS_DIR}/monitor-password`, content: monitorPassword, permissions: UPLOAD_MODE },
          { file: `${CONFIG_DIR}/queries.yaml`, content: renderExporterQueries(), permissions: UPLOAD_MODE },
          { file: TLS_CA_FILE, content: args.caCertificate, permissions: UPLOAD_MODE },
        ],
        healthcheck: healthcheck([EXPORTER_HEALTHCHECK], 30, args.engine),
        waitTimeout: 120,
      },
      { parent: this, deleteBeforeReplace: true },
    );

    const pgpass = monitorPassword.apply((password) =>
      renderPgpass([{ host: args.pgbouncer.host, port: args.pgbouncer.port, database: "pgbouncer", username: args.monitorUser, password }]),
    );
    this.pgbouncerExporterContainer = new docker.Container(
      `${name}-pgbouncer-exporter`,
      {
        ...serviceContainerArgs({ ...common, image: args.images.pgbouncerExporter, memoryBytes: EXPORTER_MEMORY }, "pgbouncer-exporter", image("pgbouncer-exporter", args.images.pgbouncerExporter).imageId, []),
        envs: [`PGBOUNCER_EXPORTER_CONNECTION_STRING=${pgbouncerExporterDsn(args.pgbouncer.host, args.pgbouncer.port, args.monitorUser)}`],
        uploads: [
          { file: `${SECRETS_DIR}/monitor-pgpass`, content: pulumi.secret(pgpass), permissions: UPLOAD_MODE },
          { file: TLS_CA_FILE, content: args.caCertificate, permissions: UPLOAD_MODE },
        ],
        healthcheck: healthcheck([EXPORTER_HEALTHCHECK], 30, args.engine),
        waitTimeout: 120,
      },
      { parent: this, deleteBeforeReplace: true },
    );

    // The samples outlive a replaced container (a new image, new limits); like the other data volumes,
    // a plain destroy keeps it and `npm run destroy -- --including-data` removes it.
    this.prometheusVolume = new docker.Volume(
      `${name}-prometheus-data`,
      { name: resourceName(args.stack, "prometheus"), labels: labels(args.stack, "prometheus") },
      { parent: this, protect: args.protectData, retainOnDelete: true, deleteBeforeReplace: true },
    );

    const webConfig = pulumi.secret(pulumi.output(args.webPasswordHash).apply((hash) => renderPrometheusWebConfig(PROMETHEUS_WEB_USER, hash)));
    this.prometheusContainer = new docker.Container(
      `${name}-prometheus`,
      {
        ...serviceContainerArgs(
          { ...common, image: args.images.prometheus, memoryBytes: args.prometheusMemoryBytes },
          "prometheus",
          image("prometheus", args.images.prometheus).imageId,
          [{ internal: PROMETHEUS_PORT, external: args.prometheusPort }],
        ),
        mounts: [{ type: "volume", source: this.prometheusVolume.name, target: PROMETHEUS_DATA_DIR }],
        envs: [`PROMETHEUS_RETENTION=${args.retentionDays}d`],
        uploads: [
          {
            file: `${CONFIG_DIR}/prometheus.yml`,
            content: renderPrometheusYml({
              stack: args.stack,
              postgresExporter: `${resourceName(args.stack, "postgres-exporter")}:${POSTGRES_EXPORTER_PORT}`,
              pgbouncerExporter: `${resourceName(args.stack, "pgbouncer-exporter")}:${PGBOUNCER_EXPORTER_PORT}`,
              cluster: args.cluster && clusterTargets(args.cluster.members),
            }),
            permissions: UPLOAD_MODE,
          },
          { file: PROMETHEUS_RULES_FILE, content: renderPrometheusRules(args.thresholds, clusterRules), permissions: UPLOAD_MODE },
          { file: `${SECRETS_DIR}/prometheus-web.yml`, content: webConfig, permissions: UPLOAD_MODE },
        ],
        healthcheck: healthcheck([PROMETHEUS_HEALTHCHECK], 60, args.engine),
        waitTimeout: 180,
        stopTimeout: 30,
      },
      { parent: this, dependsOn: [this.postgresExporterContainer, this.pgbouncerExporterContainer, this.prometheusVolume], deleteBeforeReplace: true },
    );

    this.registerOutputs({ prometheusPort: this.prometheusPort, thresholds: args.thresholds });
  }
}
