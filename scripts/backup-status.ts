/**
 * `npm run backup:status [-- --stack NAME] [--json]`: the last backup of each type (age, size),
 * the WAL archive (pg_stat_archiver and the repository's range), and the retention. Read inside
 * the postgres container (pgbackrest info; psql as postgres over the local socket, peer), so no
 * password is needed. Exit code: 0; 1 when the stanza is not ok or archiving is failing now; 2
 * when the stack or the commands cannot be read.
 */
import { spawnSync } from "node:child_process";
import { backupStatus, parseStatusArgs, renderStatus, type ArchiverRow } from "../lib/backup-cli";
import { STANZA } from "../lib/pgbackrest";
import { readBackupTarget } from "../lib/stack-run";

function main(): number {
  let options;
  let stack;
  try {
    options = parseStatusArgs(process.argv.slice(2));
    stack = readBackupTarget(options.stack);
  } catch (err) {
    process.stderr.write(`backup:status: ${(err as Error).message}\n`);
    return 2;
  }
  const exec = (args: string[]) => {
    const r = spawnSync("docker", ["exec", "-u", "postgres", stack.target.container, ...args], { env: stack.env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${(r.stderr || r.stdout || "").trim()}`);
    return r.stdout;
  };
  let status;
  try {
    const info = JSON.parse(exec(["pgbackrest", `--stanza=${STANZA}`, "--output=json", "--log-level-console=warn", "info"]));
    const archiver = JSON.parse(exec(["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", "SELECT row_to_json(a) FROM pg_stat_archiver a"])) as ArchiverRow;
    status = backupStatus({
      stack: options.stack,
      info,
      archiver,
      retentionFullDays: stack.target.retentionFullDays,
      archiveTimeoutSeconds: stack.target.archiveTimeoutSeconds,
      now: new Date(),
    });
  } catch (err) {
    process.stderr.write(`backup:status: ${(err as Error).message}\n`);
    return 2;
  }
  process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
  return status.stanzaStatus === "ok" && !status.archive.failing ? 0 : 1;
}

process.exitCode = main();
