import * as pulumi from "@pulumi/pulumi";
import { PARTITIONS_JOB, partitionsJobSql } from "../model/backup-schedule";
import { PG_CRON_DATABASE } from "../model/config";
import { SqlScript } from "../providers/sql-script";
import { type SuperuserAccess, superuserConnection } from "./postgres";

export interface SchedulesArgs {
  /** Where the provider reaches the server as superuser (Postgres.superuser). */
  superuser: SuperuserAccess;
  /** The partitions job's cron schedule (validated by model/config.ts). */
  partitionsSchedule: string;
  /** The postgres data volume: the job lives in the cluster and goes with it. */
  dataVolume: pulumi.Resource;
  /** What must exist first: analytics.ensure_user_sessions_partitions (the migrations). */
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * The in-database schedule: pg_cron runs analytics.ensure_user_sessions_partitions in kryonix_saas
 * on the configured schedule (cron.job, its runs in cron.job_run_details). The OS-level jobs
 * (backups, the drill) are the postgres container's crontab (model/backup-schedule.ts renderCrontab),
 * uploaded with the container. A changed schedule updates the job in place (cron.schedule by name).
 */
export class Schedules extends pulumi.ComponentResource {
  public readonly partitionsJob: SqlScript;

  constructor(name: string, args: SchedulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("kryonix:db:Schedules", name, {}, opts);
    this.partitionsJob = new SqlScript(
      `${name}-partitions-job`,
      {
        description: "pg_cron partitions job",
        connection: superuserConnection(args.superuser, PG_CRON_DATABASE),
        sql: partitionsJobSql(args.partitionsSchedule),
        destroySql: `SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '${PARTITIONS_JOB}'`,
      },
      { parent: this, dependsOn: args.dependsOn, deletedWith: args.dataVolume },
    );
    this.registerOutputs({ partitionsJob: PARTITIONS_JOB });
  }
}
