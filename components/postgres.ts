import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { resourceName } from "../model/config";
import {
  CONFIG_DIR,
  LOOPBACK,
  SECRETS_DIR,
  UPLOAD_MODE,
  cpusString,
  healthcheck,
  labels,
  memoryMiB,
  portProblems,
  throwProblems,
  type ServiceContainerArgs,
  serviceContainerArgs,
  serviceArgsProblems,
} from "../model/containers";
import { CRONTAB_FILE } from "../model/backup-schedule";
import { MAINTENANCE_DATABASE, POSTGRES_DATA_DIR, POSTGRES_PORT, SUPERUSER } from "../model/database";
import type { PgConnection } from "../io/pg-connect";
import { SERVER_LOG_DIR, SERVER_LOG_MODES, type ServerLogMode } from "../model/server-log";
import { invalid } from "../model/messages";
import { type PooledLogins, renderPgHbaConf } from "../render/pg-hba";
import { PG_SOCKET_DIR, postgresSocketParameters } from "../model/pg-socket";
import { PGBACKREST_CA_FILE, PGBACKREST_CONF_FILE, PGBACKREST_SECRETS_FILE } from "../render/pgbackrest";
import { POSTGRES_TLS_PASSPHRASE_FILE, type ServerTls, postgresTlsParameters } from "../model/tls";
import { encryptPrivateKeyPem } from "../model/tls-key";
import { serverTlsVolume } from "../providers/tls-files";
import { MAX_CPUS, MIN_CPUS, MIN_POSTGRES_MEMORY, type PgParams, containerParameters, renderPostgresqlConf } from "../model/tuning";

export const POSTGRES_PASSWORD_FILE = `${SECRETS_DIR}/postgres-password`;
export const POSTGRES_CONF_FILE = `${CONFIG_DIR}/postgresql.conf`;
export const PG_HBA_FILE = `${CONFIG_DIR}/pg_hba.conf`;
export const PG_HBA_MODE = "0400";
export const POSTGRES_HEALTHCHECK = ["pg_isready", "-q", "-t", "3", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT), "-U", SUPERUSER, "-d", MAINTENANCE_DATABASE];

/**
 * How this machine reaches the server as superuser: 127.0.0.1 and the published port, TLS
 * verify-full against the stack CA (the server accepts nothing else).
 */
export interface SuperuserAccess {
  host: string;
  port: number;
  user: string;
  /** A secret. */
  password: pulumi.Input<string>;
  /** The stack CA (PEM). */
  ca: pulumi.Input<string>;
}

/** The superuser's connection to `database` (a secret): what the SQL the stack runs as superuser connects with. */
export function superuserConnection(access: SuperuserAccess, database: pulumi.Input<string>): pulumi.Output<PgConnection> {
  return pulumi.secret(
    pulumi.all([access.password, database, access.ca]).apply(([password, db, ca]) => ({ host: access.host, port: access.port, database: db, user: access.user, password, ca })),
  );
}

export interface PostgresArgs extends ServiceContainerArgs {
  /** Container CPU limit (Docker --cpus). */
  cpus: number;
  /** The superuser's password (Secrets), a secret: written to a file for initdb, never to the environment. */
  superuserPassword: pulumi.Input<string>;
  /** What PostgreSQL's TLS key is encrypted with in its volume; only the container gets it (CIS 6.8). */
  tlsKeyPassphrase: pulumi.Input<string>;
  /** The final postgresql.conf parameters, e.g. postgresParameters(config). */
  parameters: PgParams;
  /**
   * 5432 is always published on 127.0.0.1:hostPort, and only there (never 0.0.0.0): the
   * postgresql provider and DBAs on the host connect through it. The host never addresses the
   * container's own IP.
   */
  hostPort: number;
  /**
   * Protect the data volume: `pulumi destroy` and replacements refuse to delete it. Either way the
   * volume is retained on delete: a destroy drops it from the state and leaves it on the engine.
   */
  protectData: boolean;
  /**
   * pgBackRest's files (render/pgbackrest.ts), uploaded like the others: archive_command and the
   * backup commands read them inside the container, so the secrets file is the only place its
   * credentials exist there.
   */
  pgbackrest: {
    /** renderPgbackrestConf: no credential. */
    config: string;
    /** renderPgbackrestSecrets: the S3 key and secret and the cipher passphrase, a secret. */
    secrets: pulumi.Input<string>;
    /** The stack CA's certificate, which MinIO's certificate is checked against. */
    caCertificate: pulumi.Input<string>;
  };
  /**
   * The OS-level job schedule (model/backup-schedule.ts renderCrontab), uploaded to
   * /etc/cron.d/kryonix: the image's entrypoint runs cron on it for as long as the container runs.
   */
  crontab?: string;
  /**
   * Resources the server starts after and is stopped before: MinIO, where archive_command pushes
   * WAL. Stopping PostgreSQL archives what is still pending, so with MinIO already gone a destroy
   * would wait out the stop timeout and kill the server.
   */
  startAfter?: pulumi.Resource[];
  /**
   * The server's TLS certificate (stack CA, naming the container, its alias, localhost and
   * 127.0.0.1), its key (a secret) and the CA. The server accepts TLS connections only. They are
   * files in a volume of their own (providers/tls-files.ts): a renewed certificate is written
   * there and the server reloads, with no restart and no new container.
   */
  tls: ServerTls;
  /**
   * Who PgBouncer logs in as over the Unix socket the two containers share (model/pg-socket.ts):
   * pg_hba.conf's `local` lines for them. Without it no role but postgres (peer) uses a socket.
   */
  pooledLogins?: PooledLogins;
  /** How long `pulumi up` waits for the healthcheck; initdb runs on first start. Default 300 s. */
  waitTimeoutSeconds?: number;
  /**
   * kryonix:serverLog. With `file` (parameters from model/server-log.ts serverLogParameters), the
   * log files live in a volume of their own, `kryonix-<stack>-postgres-log`, which a destroy
   * removes with the stack, as the TLS volumes: it is not data (`npm run destroy` keeps only
   * those). Default `docker`: no volume.
   */
  serverLog?: ServerLogMode;
}

/**
 * postgresql.conf for the arguments: the parameters, TLS, and listening on the loopback and the
 * container's own name only (its address on the stack network, CIS 5.2), not on every address; a
 * second Unix socket in the volume PgBouncer shares. Pure.
 */
export function postgresConf(args: Pick<PostgresArgs, "parameters" | "stack">): string {
  return renderPostgresqlConf({
    ...args.parameters,
    ...containerParameters(resourceName(args.stack, "postgres")),
    ...postgresTlsParameters(),
    ...postgresSocketParameters(),
  });
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkPostgresArgs(args: PostgresArgs): void {
  const problems = serviceArgsProblems(args, "postgres", "Postgres", MIN_POSTGRES_MEMORY);
  if (typeof args.cpus !== "number" || !(args.cpus >= MIN_CPUS && args.cpus <= MAX_CPUS)) {
    problems.push(invalid("Postgres cpus", args.cpus, `a number from ${MIN_CPUS} to ${MAX_CPUS}`));
  }
  problems.push(...portProblems("Postgres hostPort", args.hostPort));
  if (typeof args.protectData !== "boolean") problems.push(invalid("Postgres protectData", args.protectData, "true or false"));
  const maxConnections = Number(args.parameters?.max_connections);
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    problems.push(invalid("Postgres parameters.max_connections", args.parameters?.max_connections, "an integer (PgBouncer's pools are sized from it)"));
  }
  if (!args.tls?.certificatePem || !args.tls?.privateKeyPem || !args.tls?.caCertificate) {
    problems.push(invalid("Postgres tls", undefined, "{certificatePem, privateKeyPem, caCertificate} from the stack CA"));
  }
  for (const render of [() => postgresConf(args), () => renderPgHbaConf(args.pooledLogins)]) {
    try {
      render();
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (args.serverLog !== undefined && !SERVER_LOG_MODES.includes(args.serverLog)) {
    problems.push(invalid("Postgres serverLog", args.serverLog, SERVER_LOG_MODES.join(" or ")));
  } else if ((args.serverLog === "file") !== (args.parameters?.logging_collector === "on")) {
    problems.push(invalid("Postgres parameters.logging_collector", args.parameters?.logging_collector, `${args.serverLog === "file" ? "on" : "off"} for serverLog ${args.serverLog ?? "docker"} (serverLogParameters)`));
  }
  const wait = args.waitTimeoutSeconds;
  if (wait !== undefined && !(Number.isInteger(wait) && wait >= 10 && wait <= 3600)) {
    problems.push(invalid("Postgres waitTimeoutSeconds", wait, "an integer from 10 to 3600"));
  }
  throwProblems("Postgres", problems);
}

/**
 * PostgreSQL 17 in a container, published on 127.0.0.1 only: a named data volume
 * (retained on delete, and protected when asked),
 * a generated superuser password handed over as a file, postgresql.conf and
 * pg_hba.conf rendered from the stack configuration, and a TCP healthcheck
 * that `pulumi up` waits on, so nothing downstream connects early.
 */
export class Postgres extends pulumi.ComponentResource {
  /** `kryonix-<stack>-postgres`: the container's name, and its host name on the stack's network. */
  public readonly containerName: string;
  public readonly internalHost: string;
  public readonly internalPort = POSTGRES_PORT;
  public readonly volume: docker.Volume;
  /** The server log's volume (serverLog file), else undefined. */
  public readonly logVolume?: docker.Volume;
  /** The volume holding the Unix socket PgBouncer connects to (no data: the server recreates the socket on start). */
  public readonly socketVolume: docker.Volume;
  public readonly container: docker.Container;
  /** The superuser (postgres) password, a secret. */
  public readonly superuserPassword: pulumi.Output<string>;
  /** Where this machine reaches the server as superuser: 127.0.0.1 and the published port, nothing else. */
  public readonly adminHost: string = LOOPBACK;
  public readonly adminPort: number;
  /** The superuser's access from this machine (superuserConnection). */
  public readonly superuser: SuperuserAccess;
  /** The image's ID, which the restore drill's container runs too. */
  public readonly imageId: pulumi.Output<string>;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Postgres", name, {}, opts);
    checkPostgresArgs(args);
    const dockerName = resourceName(args.stack, "postgres");
    this.containerName = dockerName;
    this.internalHost = dockerName;
    this.adminPort = args.hostPort;
    const memory = memoryMiB(args.memoryBytes);

    this.superuserPassword = pulumi.secret(args.superuserPassword);
    this.superuser = { host: this.adminHost, port: this.adminPort, user: SUPERUSER, password: this.superuserPassword, ca: args.tls.caCertificate };

    this.volume = new docker.Volume(
      `${name}-data`,
      { name: dockerName, labels: labels(args.stack, "postgres") },
      // retainOnDelete in every stack: `pulumi destroy` (and a replacement or `stack rm`) drops the
      // volume from the state but leaves the data on the engine; `npm run destroy -- --including-data`
      // removes it. protect (prod) makes destroy and replacements refuse outright.
      { parent: this, protect: args.protectData, retainOnDelete: true, deleteBeforeReplace: true },
    );

    if (args.serverLog === "file") {
      this.logVolume = new docker.Volume(`${name}-log`, { name: `${dockerName}-log`, labels: labels(args.stack, "postgres") }, { parent: this, deleteBeforeReplace: true });
    }

    this.socketVolume = new docker.Volume(
      `${name}-socket`,
      { name: `${dockerName}-socket`, labels: labels(args.stack, "postgres") },
      { parent: this, deleteBeforeReplace: true },
    );

    const image = new docker.RemoteImage(
      `${name}-image`,
      // The tag is local (built by scripts/images.ts); keepLocally leaves it for the build cache.
      { name: args.image, keepLocally: true },
      { parent: this },
    );
    this.imageId = image.imageId;

    // The key goes to its volume encrypted; the passphrase only into the container (CIS 6.8).
    const keyPassphrase = pulumi.secret(args.tlsKeyPassphrase);
    const encryptedKey = pulumi.secret(pulumi.all([args.tls.privateKeyPem, keyPassphrase]).apply(([key, passphrase]) => encryptPrivateKeyPem(key, passphrase)));
    const tls = serverTlsVolume(
      name,
      {
        container: dockerName,
        labels: labels(args.stack, "postgres"),
        image: image.imageId,
        owner: SUPERUSER,
        reload: "postgres",
        hostPort: args.hostPort,
        tls: { ...args.tls, privateKeyPem: encryptedKey },
      },
      this,
    );

    this.container = new docker.Container(
      name,
      {
        // Ports on loopback only: the host reaches PostgreSQL there and never at the container's own address.
        ...serviceContainerArgs(args, "postgres", image.imageId, [{ internal: POSTGRES_PORT, external: args.hostPort }]),
        cpus: cpusString(args.cpus),
        // Parallel query uses dynamic shared memory in /dev/shm (Docker's default is 64 MiB).
        shmSize: Math.max(64, Math.floor(memory / 4)),
        mounts: [
          { type: "volume", source: this.volume.name, target: POSTGRES_DATA_DIR },
          tls.mount,
          ...(this.logVolume ? [{ type: "volume", source: this.logVolume.name, target: SERVER_LOG_DIR }] : []),
          { type: "volume", source: this.socketVolume.name, target: PG_SOCKET_DIR },
        ],
        uploads: [
          { file: POSTGRES_PASSWORD_FILE, content: this.superuserPassword, permissions: UPLOAD_MODE },
          { file: POSTGRES_TLS_PASSPHRASE_FILE, content: keyPassphrase, permissions: UPLOAD_MODE },
          { file: POSTGRES_CONF_FILE, content: postgresConf(args), permissions: UPLOAD_MODE },
          // Root-only: the entrypoint hands PostgreSQL a private 0600 copy (CIS 2.5).
          { file: PG_HBA_FILE, content: renderPgHbaConf(args.pooledLogins), permissions: PG_HBA_MODE },
          { file: PGBACKREST_CONF_FILE, content: args.pgbackrest.config, permissions: UPLOAD_MODE },
          { file: PGBACKREST_SECRETS_FILE, content: pulumi.secret(args.pgbackrest.secrets), permissions: UPLOAD_MODE },
          { file: PGBACKREST_CA_FILE, content: args.pgbackrest.caCertificate, permissions: UPLOAD_MODE },
          // Root's and read-only, as cron requires of /etc/cron.d.
          ...(args.crontab ? [{ file: CRONTAB_FILE, content: args.crontab, permissions: UPLOAD_MODE }] : []),
        ],
        // A TCP check (not the socket): the server accepts connections from the network.
        healthcheck: healthcheck(POSTGRES_HEALTHCHECK, 120, args.engine),
        waitTimeout: args.waitTimeoutSeconds ?? 300,
        // SIGINT is PostgreSQL's fast shutdown: sessions end, a checkpoint is written.
        stopSignal: "SIGINT",
        stopTimeout: 60,
        destroyGraceSeconds: 60,
      },
      // Fixed name and host ports: the old container must go before its replacement starts.
      { parent: this, dependsOn: [this.volume, this.socketVolume, tls.files, ...(this.logVolume ? [this.logVolume] : []), ...(args.startAfter ?? [])], deleteBeforeReplace: true },
    );

    this.registerOutputs({
      containerName: this.containerName,
      volumeName: this.volume.name,
      logVolumeName: this.logVolume?.name,
      adminHost: this.adminHost,
      adminPort: this.adminPort,
    });
  }
}

