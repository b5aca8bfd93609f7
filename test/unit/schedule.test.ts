import { describe, expect, it } from "vitest";
import { CRON_JOBS, DRILL_CRON_JOBS, PARTITIONS_JOB, POSTGRES_CRON_JOBS, partitionsJobSql, renderCrontab } from "../../model/backup-schedule";
import { postgresParameters, SCHEDULE_DEFAULTS, schedulerParameters, validateStackConfig } from "../../model/config";
import { parseSchedule, scheduleProblem } from "../../model/schedule";

describe("parseSchedule", () => {
  it("reads the five cron fields: numbers, *, ranges, steps and lists", () => {
    const s = parseSchedule("*/15 7,13,19 1-3 */6 1-5");
    expect(s.minutes).toEqual([0, 15, 30, 45]);
    expect(s.hours).toEqual([7, 13, 19]);
    expect(s.daysOfMonth).toEqual([1, 2, 3]);
    expect(s.months).toEqual([1, 7]);
    expect(s.daysOfWeek).toEqual([1, 2, 3, 4, 5]);
    expect(parseSchedule("5/20 0 * * *").minutes).toEqual([5, 25, 45]);
    expect(parseSchedule("0 0 * * 7").daysOfWeek).toEqual([0]);
    expect(parseSchedule("0-30/10 * * * *").minutes).toEqual([0, 10, 20, 30]);
  });

  it("expands the macros cron and pg_cron both know, keeping the text as written", () => {
    expect(parseSchedule("@daily")).toMatchObject({ text: "@daily", fields: "0 0 * * *" });
    expect(parseSchedule("@weekly").fields).toBe("0 0 * * 0");
    expect(parseSchedule("@monthly").fields).toBe("0 0 1 * *");
    expect(parseSchedule("  0   1 * *  * ").fields).toBe("0 1 * * *");
  });

  it.each([
    ["0 24 * * *", 'hour "24": 24 is outside 0-23'],
    ["60 * * * *", 'minute "60": 60 is outside 0-59'],
    ["* * 0 * *", 'day-of-month "0": 0 is outside 1-31'],
    ["* * * 13 *", 'month "13": 13 is outside 1-12'],
    ["* * * * 8", 'day-of-week "8": 8 is outside 0-7'],
    ["* * * *", "4 field(s), not 5"],
    ["* * * * * *", "6 field(s), not 5"],
    ["*/0 * * * *", "step 0 is outside 1-59"],
    ["5-1 * * * *", "range 5-1 runs backwards"],
    ["0 1 * jan *", '"jan" is not a number'],
    ["0 1 30 2 *", "day-of-month 30 never occurs in month 2"],
    ["@reboot", "unknown macro @reboot"],
    ["", "1 field(s), not 5"],
  ])("refuses %j: %s", (text, why) => {
    expect(() => parseSchedule(text)).toThrow(why);
    expect(scheduleProblem(text, false)).toContain(why);
  });

  it("accepts off only where the key allows it", () => {
    expect(scheduleProblem("off", true)).toBeUndefined();
    expect(scheduleProblem("off", false)).toBeDefined();
    expect(scheduleProblem(7, false)).toBe("not a string");
  });
});

describe("the schedules' defaults and their config keys", () => {
  it("default to a daily full, diffs between, the monthly partitions job and a weekly drill", () => {
    expect(validateStackConfig({}, "dev").schedules).toEqual(SCHEDULE_DEFAULTS);
    expect(SCHEDULE_DEFAULTS).toEqual({ backupFull: "0 1 * * *", backupDiff: "0 7,13,19 * * *", partitions: "0 3 1 * *", restoreDrill: "0 4 * * 0" });
  });

  it("fail the whole config naming each bad key", () => {
    expect(() => validateStackConfig({ "kryonix:backupFullSchedule": "daily", "kryonix:restoreDrillSchedule": "0 4 * * 9" }, "dev")).toThrow(
      /kryonix:backupFullSchedule: "daily" is invalid: a cron schedule in UTC[\s\S]*kryonix:restoreDrillSchedule: "0 4 \* \* 9" is invalid/,
    );
  });
});

describe("renderCrontab", () => {
  it("has one root line per job through kryonix-job, its output to the container log", () => {
    const text = renderCrontab(SCHEDULE_DEFAULTS, POSTGRES_CRON_JOBS);
    expect(text).toContain("0 1 * * * root /usr/local/bin/kryonix-job backup-full pgbackrest --stanza=kryonix --type=full backup >>/proc/1/fd/1 2>&1\n");
    expect(text).toContain("0 7,13,19 * * * root /usr/local/bin/kryonix-job backup-diff pgbackrest --stanza=kryonix --type=diff backup >>/proc/1/fd/1 2>&1\n");
    // The drill runs in its own container, from its own crontab.
    expect(text).not.toContain("restore-drill");
    const drill = renderCrontab(SCHEDULE_DEFAULTS, DRILL_CRON_JOBS);
    expect(drill).toContain("0 4 * * 0 root /usr/local/bin/kryonix-job restore-drill kryonix-drill >>/proc/1/fd/1 2>&1\n");
    expect(drill).not.toContain("pgbackrest");
    expect(text).toContain('MAILTO=""\n');
    expect(text).toMatch(/^PATH=\/usr\/lib\/postgresql\/17\/bin:/m);
    expect(text.endsWith("\n")).toBe(true);
  });

  it("leaves out a job that is off, and expands macros to fields", () => {
    const text = renderCrontab({ ...SCHEDULE_DEFAULTS, backupDiff: "off", restoreDrill: "@weekly" }, [...POSTGRES_CRON_JOBS, ...DRILL_CRON_JOBS]);
    expect(text).toContain("# backup-diff: off\n");
    expect(text).not.toMatch(/kryonix-job backup-diff/);
    expect(text).toContain("0 0 * * 0 root /usr/local/bin/kryonix-job restore-drill");
    expect(Object.values(CRON_JOBS).map((j) => j.job)).toEqual(["backup-full", "backup-diff", "restore-drill"]);
  });

  it("refuses a schedule that does not parse (a caller that skipped the config)", () => {
    expect(() => renderCrontab({ ...SCHEDULE_DEFAULTS, backupFull: "0 1 * *" }, POSTGRES_CRON_JOBS)).toThrow(/backupFull: "0 1 \* \*" is invalid: a cron schedule \(4 field\(s\), not 5\)/);
  });
});

describe("the pg_cron partitions job", () => {
  it("creates the extension and schedules the function by name, months ahead included", () => {
    expect(partitionsJobSql("0 3 1 * *")).toBe(
      `CREATE EXTENSION IF NOT EXISTS pg_cron;\nSELECT cron.schedule('${PARTITIONS_JOB}', '0 3 1 * *', 'SELECT analytics.ensure_user_sessions_partitions(3)');\n`,
    );
    expect(partitionsJobSql("@monthly")).toContain("'0 0 1 * *'");
  });

  it("preloads pg_cron in kryonix_saas with background workers, after the tuning's libraries", () => {
    const p = postgresParameters(validateStackConfig({}, "dev"));
    expect(p.shared_preload_libraries).toBe("pg_stat_statements,pgaudit,auth_delay,pg_cron");
    expect(p["cron.database_name"]).toBe("kryonix_saas");
    expect(p["cron.use_background_workers"]).toBe("on");
    expect(schedulerParameters({ shared_preload_libraries: "pg_cron,pgaudit" }).shared_preload_libraries).toBe("pgaudit,pg_cron");
  });
});
