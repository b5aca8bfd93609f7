import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { resourceName } from "../model/config";
import {
  CONFIG_DIR,
  UPLOAD_MODE,
  healthcheck,
  labels,
  portProblems,
  throwProblems,
  type ServiceContainerArgs,
  serviceContainerArgs,
  serviceArgsProblems,
} from "../model/containers";
import { invalid } from "../model/messages";
import { MiB } from "../model/size";
import type { PgbouncerPools } from "../model/connection-budget";
import { PGBOUNCER_PORT } from "../model/database";
import { pgbouncerAuthQuery, renderPgbouncerIni } from "../render/pgbouncer";
import { type ServerTls } from "../model/tls";
import { serverTlsVolume } from "../providers/tls-files";
import { PG_SOCKET_DIR, PGBOUNCER_USER } from "../model/pg-socket";

export const PGBOUNCER_INI_FILE = `${CONFIG_DIR}/pgbouncer.ini`;
export const PGBOUNCER_USERLIST_FILE = `${CONFIG_DIR}/userlist.txt`;
/**
 * PgBouncer's CPU weight (Docker's default is 1024). It is one thread on every query's path: when
 * the host's cores are contended, each statement waits for it to be scheduled, and a waiting pooler
 * stalls all its clients at once. Measured on the shared 2-core machine at load average ~35,
 * 10 clients through PgBouncer: 3,607 tps at 1024, 5,863 at 8192 (BENCHMARKS.md). A weight, not a
 * limit: it only decides who runs first when the cores are busy.
 */
export const PGBOUNCER_CPU_SHARES = 8192;
/** The image's check: pg_isready against PgBouncer's admin console (no PostgreSQL backend needed). */
export const PGBOUNCER_HEALTHCHECK = "/usr/local/bin/kryonix-pgbouncer-healthcheck";

export interface PgbouncerArgs extends ServiceContainerArgs {
  /** Published on 127.0.0.1:hostPort. */
  hostPort: number;
  /** PostgreSQL's name and port on the stack's network. */
  postgresHost: string;
  postgresPort: number;
  /**
   * The volume holding PostgreSQL's shared Unix socket (Postgres.socketVolume): when given, PgBouncer
   * mounts it read-only and reaches PostgreSQL there (model/pg-socket.ts), not over TCP and TLS.
   * On 2 shared cores the TLS of that leg cost the server a third of its throughput (BENCHMARKS.md).
   */
  postgresSocketVolume?: pulumi.Input<string>;
  /** The pools, sized from PostgreSQL's max_connections (model/connection-budget.ts connectionBudget). */
  pools: PgbouncerPools;
  database: string;
  /** The role PgBouncer logs in as to run auth_query. */
  authUser: string;
  authPassword: pulumi.Input<string>;
  /** The schema of the get_auth() function. */
  authSchema: string;
  /**
   * Roles that may read the admin console's SHOW commands (stats_users), with their SCRAM
   * verifier in userlist.txt: the console has no backend to look a role up in. The monitoring
   * role, for pgbouncer_exporter.
   */
  statsUsers?: { user: string; scramVerifier: pulumi.Input<string> }[];
  /**
   * PgBouncer's certificate (stack CA; naming the container, its alias, localhost, 127.0.0.1), key
   * and the CA PostgreSQL's certificate is verified against: files in a volume of their own
   * (providers/tls-files.ts), rewritten on renewal and reloaded with SIGHUP, no restart.
   */
  tls: ServerTls;
}

/** userlist.txt: the auth_user's line, then any stats users' (with their SCRAM verifiers); `"` in a value is doubled. Pure. */
export function renderUserlist(user: string, password: string, more: readonly { user: string; secret: string }[] = []): string {
  const quote = (v: string) => `"${v.replace(/"/g, '""')}"`;
  return [{ user, secret: password }, ...more]
    .map((e) => {
      if (/[\r\n]/.test(e.user) || /[\r\n]/.test(e.secret)) throw new Error("userlist.txt: user and password must be single lines");
      return `${quote(e.user)} ${quote(e.secret)}\n`;
    })
    .join("");
}

/** pgbouncer.ini for the arguments (throws on a bad value). Pure. */
export function pgbouncerIni(args: PgbouncerArgs): string {
  return renderPgbouncerIni({
    listenPort: PGBOUNCER_PORT,
    dbHost: args.postgresSocketVolume === undefined ? args.postgresHost : PG_SOCKET_DIR,
    dbPort: args.postgresPort,
    dbName: args.database,
    authUser: args.authUser,
    authQuery: pgbouncerAuthQuery(args.authSchema),
    authFile: PGBOUNCER_USERLIST_FILE,
    pools: args.pools,
    statsUsers: [args.authUser, ...(args.statsUsers ?? []).map((s) => s.user)],
  });
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkPgbouncerArgs(args: PgbouncerArgs): void {
  const problems = serviceArgsProblems(args, "pgbouncer", "Pgbouncer", 16 * MiB);
  problems.push(...portProblems("Pgbouncer hostPort", args.hostPort));
  if (!Number.isInteger(args.postgresPort) || args.postgresPort < 1 || args.postgresPort > 65535) {
    problems.push(invalid("Pgbouncer postgresPort", args.postgresPort, "an integer from 1 to 65535"));
  }
  if (!args.tls?.certificatePem || !args.tls?.privateKeyPem || !args.tls?.caCertificate) {
    problems.push(invalid("Pgbouncer tls", undefined, "{certificatePem, privateKeyPem, caCertificate} from the stack CA"));
  }
  try {
    pgbouncerIni(args);
  } catch (err) {
    problems.push((err as Error).message);
  }
  throwProblems("Pgbouncer", problems);
}

/**
 * PgBouncer in transaction pooling mode in front of PostgreSQL, published on
 * 127.0.0.1. Clients authenticate with SCRAM against the secret get_auth()
 * returns; userlist.txt (a file, never an environment variable) holds only
 * the lookup role. Pass the role and get_auth() in the component's
 * `dependsOn`: the container starts after them.
 */
export class Pgbouncer extends pulumi.ComponentResource {
  public readonly containerName: string;
  public readonly internalHost: string;
  public readonly internalPort = PGBOUNCER_PORT;
  public readonly hostPort: number;
  public readonly container: docker.Container;

  constructor(name: string, args: PgbouncerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Pgbouncer", name, {}, opts);
    checkPgbouncerArgs(args);
    const dockerName = resourceName(args.stack, "pgbouncer");
    this.containerName = dockerName;
    this.internalHost = dockerName;
    this.hostPort = args.hostPort;

    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });

    // The image runs PgBouncer as a user of its own (images/pgbouncer, model/pg-socket.ts).
    const tls = serverTlsVolume(
      name,
      { container: dockerName, labels: labels(args.stack, "pgbouncer"), image: image.imageId, owner: PGBOUNCER_USER, reload: "pgbouncer", hostPort: args.hostPort, tls: args.tls },
      this,
    );
    const stats = args.statsUsers ?? [];
    const userlist = pulumi.secret(
      pulumi
        .all([args.authPassword, ...stats.map((s) => s.scramVerifier)])
        .apply(([password, ...verifiers]) => renderUserlist(args.authUser, password, stats.map((s, i) => ({ user: s.user, secret: verifiers[i] })))),
    );
    this.container = new docker.Container(
      name,
      {
        ...serviceContainerArgs(args, "pgbouncer", image.imageId, [{ internal: PGBOUNCER_PORT, external: args.hostPort }]),
        uploads: [
          { file: PGBOUNCER_INI_FILE, content: pgbouncerIni(args), permissions: UPLOAD_MODE },
          { file: PGBOUNCER_USERLIST_FILE, content: userlist, permissions: UPLOAD_MODE },
        ],
        mounts: [
          tls.mount,
          // Read-only: PgBouncer connects to the socket (a connect needs no write access to the file
          // system) and can neither remove it nor put one of its own in its place.
          ...(args.postgresSocketVolume === undefined ? [] : [{ type: "volume", source: args.postgresSocketVolume, target: PG_SOCKET_DIR, readOnly: true }]),
        ],
        cpuShares: PGBOUNCER_CPU_SHARES,
        healthcheck: healthcheck([PGBOUNCER_HEALTHCHECK], 30, args.engine),
        waitTimeout: 120,
        // SIGINT: PgBouncer's safe shutdown, waiting for transactions in flight.
        stopSignal: "SIGINT",
        stopTimeout: 30,
      },
      // Fixed name and host ports: the old container must go before its replacement starts.
      { parent: this, dependsOn: [...(Array.isArray(opts?.dependsOn) ? opts.dependsOn : opts?.dependsOn ? [opts.dependsOn as pulumi.Resource] : []), tls.files], deleteBeforeReplace: true },
    );

    this.registerOutputs({ containerName: this.containerName, hostPort: this.hostPort });
  }
}
