import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { CRONTAB_FILE } from "../model/backup-schedule";
import { resourceName } from "../model/config";
import { UPLOAD_MODE, cpusString, healthcheck, serviceArgsProblems, serviceContainerArgs, throwProblems, type ServiceContainerArgs } from "../model/containers";
import { DRILL_CA_FILE, DRILL_CONF_FILE, DRILL_DATABASE, DRILL_PGPASS_FILE, drillGrantsSql, jobRunsSql, renderDrillConf, renderDrillPgpass } from "../model/drill";
import { invalid } from "../model/messages";
import { PGBACKREST_CA_FILE, PGBACKREST_CONF_FILE, PGBACKREST_SECRETS_FILE } from "../render/pgbackrest";
import { MAX_CPUS, MIN_CPUS } from "../model/tuning";
import { MiB } from "../model/size";
import { MAINTENANCE_DATABASE, POSTGRES_DATA_DIR } from "../model/database";
import { SqlScript } from "../providers/sql-script";
import { type SuperuserAccess, superuserConnection } from "./postgres";

/** Below this, pgBackRest's restore and the scratch server (32 MB of shared buffers) do not fit. */
export const MIN_DRILL_MEMORY = 256 * MiB;
/** The service script of the postgres image this container runs instead of the server. */
export const DRILL_SERVICE = "/usr/local/bin/kryonix-drill-service";

export interface RestoreDrillArgs extends ServiceContainerArgs {
  /** The postgres image's ID (Postgres.imageId): the drill runs the live server's own binaries. */
  imageId: pulumi.Input<string>;
  /** Container CPU limit (Docker --cpus). */
  cpus: number;
  /** The live server on the stack network (its container name, which its certificate names) and port. */
  live: { host: string; port: number };
  /** The drill's login role (model/drill.ts DRILL_ROLE) and its generated password (a secret, delivered as a pgpass file). */
  role: string;
  password: pulumi.Input<string>;
  /** The stack CA: the live server is verified against it (verify-full), as is MinIO by pgBackRest. */
  caCertificate: pulumi.Input<string>;
  /** pgBackRest's files, as the postgres container has them: the drill restores from the same repository. */
  pgbackrest: { config: string; secrets: pulumi.Input<string> };
  /** The drill's schedule (model/backup-schedule.ts renderCrontab with DRILL_CRON_JOBS). */
  crontab: string;
  /** Where the stack reaches the live server as superuser (Postgres.superuser), to grant the role what the drill calls. */
  admin: SuperuserAccess;
  /** The role itself, and what else must exist first. */
  dependsOn: pulumi.Input<pulumi.Resource>[];
  /** The live cluster's data volume: the grants live in it and go with it. */
  dataVolume: pulumi.Resource;
}

/** Throws one error naming every argument that cannot work. Pure. */
export function checkRestoreDrillArgs(args: RestoreDrillArgs): void {
  const problems = serviceArgsProblems(args, "restore-drill", "RestoreDrill", MIN_DRILL_MEMORY);
  if (typeof args.cpus !== "number" || !(args.cpus >= MIN_CPUS && args.cpus <= MAX_CPUS)) {
    problems.push(invalid("RestoreDrill cpus", args.cpus, `a number from ${MIN_CPUS} to ${MAX_CPUS}`));
  }
  try {
    renderDrillConf({ host: args.live?.host, port: args.live?.port, database: DRILL_DATABASE, user: args.role });
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (!args.crontab?.includes("kryonix-job")) problems.push(invalid("RestoreDrill crontab", args.crontab, "renderCrontab(schedules, DRILL_CRON_JOBS)"));
  throwProblems("RestoreDrill", problems);
}

/**
 * The restore drill in a container of its own (`kryonix-<stack>-restore-drill`): the postgres
 * image running cron (kryonix-drill-service) instead of a server, on the stack network, no
 * published port, memory and CPU limits of its own. The weekly schedule and `npm run
 * backup:verify` (docker exec) run kryonix-drill there: restore into a scratch directory of the
 * container's own filesystem, compare with the live server over TLS (verify-full) as the drill's role, amcheck,
 * `pgbackrest verify`, remove the copy, record the run in the live server's kryonix.job_runs.
 *
 * On the live server the role gets EXECUTE on pg_create_restore_point and pg_switch_wal in the
 * compared database, and kryonix.record_job_run in postgres: two scripts as superuser, kept with
 * the data volume like the other database objects.
 */
export class RestoreDrill extends pulumi.ComponentResource {
  public readonly containerName: string;
  public readonly container: docker.Container;

  constructor(name: string, args: RestoreDrillArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:RestoreDrill", name, {}, opts);
    checkRestoreDrillArgs(args);
    const dockerName = resourceName(args.stack, "restore-drill");
    this.containerName = dockerName;

    const connection = (database: string) => superuserConnection(args.admin, database);
    const sqlOpts = { parent: this, dependsOn: args.dependsOn, deletedWith: args.dataVolume };
    const grants = new SqlScript(`${name}-grants`, { description: "restore drill grants", connection: connection(DRILL_DATABASE), ...drillGrantsSql(args.role) }, sqlOpts);
    const jobRuns = new SqlScript(`${name}-job-runs`, { description: "job runs recorder", connection: connection(MAINTENANCE_DATABASE), ...jobRunsSql(args.role) }, sqlOpts);

    const secret = (content: pulumi.Input<string>) => pulumi.secret(content);

    this.container = new docker.Container(
      name,
      {
        ...serviceContainerArgs(args, "restore-drill", args.imageId, []),
        cpus: cpusString(args.cpus),
        command: [DRILL_SERVICE],
        // The copies go to the container's own layer (DRILL_SCRATCH_DIR), gone with the container; the
        // image's VOLUME, the data directory no server uses here, gets an empty tmpfs instead of an
        // anonymous volume that would outlive the container.
        mounts: [{ type: "tmpfs", target: POSTGRES_DATA_DIR, tmpfsOptions: { sizeBytes: MiB } }],
        uploads: [
          { file: DRILL_CONF_FILE, content: renderDrillConf({ host: args.live.host, port: args.live.port, database: DRILL_DATABASE, user: args.role }), permissions: UPLOAD_MODE },
          {
            file: DRILL_PGPASS_FILE,
            content: secret(pulumi.output(args.password).apply((password) => renderDrillPgpass({ host: args.live.host, port: args.live.port, user: args.role, password }))),
            permissions: UPLOAD_MODE,
          },
          { file: DRILL_CA_FILE, content: args.caCertificate, permissions: UPLOAD_MODE },
          { file: PGBACKREST_CONF_FILE, content: args.pgbackrest.config, permissions: UPLOAD_MODE },
          { file: PGBACKREST_SECRETS_FILE, content: secret(args.pgbackrest.secrets), permissions: UPLOAD_MODE },
          { file: PGBACKREST_CA_FILE, content: args.caCertificate, permissions: UPLOAD_MODE },
          // Root's and read-only, as cron requires of /etc/cron.d.
          { file: CRONTAB_FILE, content: args.crontab, permissions: UPLOAD_MODE },
        ],
        healthcheck: healthcheck([DRILL_SERVICE, "--check"], 30, args.engine),
        // A drill cut short leaves its copy; the next start of the container removes it.
        stopTimeout: 30,
        destroyGraceSeconds: 30,
      },
      { parent: this, dependsOn: [grants, jobRuns], deleteBeforeReplace: true },
    );

    this.registerOutputs({ containerName: this.containerName });
  }
}
