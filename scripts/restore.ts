/**
 * `npm run restore -- [--stack NAME] --list` lists the stack's scratch copies (name, created, target,
 * port, state); `--remove NAME` (repeatable) or `--remove --all` removes them, container and volume,
 * and refuses (exit 2, nothing removed) a name that is not a copy of the stack. Both find the copies
 * by their labels, so neither needs the stack to be up.
 *
 * `npm run restore -- [--stack NAME] --target-time "<timestamp>" | --latest`: restores the stack's
 * backups (plus WAL up to the target) into a NEW scratch container, never the live one:
 *
 * 1. a volume `kryonix-<stack>-restore-<UTC time>`;
 * 2. a one-off container (the postgres image, as postgres, on the stack network so it reaches
 *    MinIO) runs `pgbackrest restore` into it;
 * 3. the scratch server (same name as the volume) starts on it, published on 127.0.0.1 only on a
 *    free port, replays WAL to the target and promotes; this waits (with a deadline) until it
 *    accepts connections out of recovery, then prints how to connect and how to remove it.
 *
 * pgBackRest's configuration and secrets are streamed from the live container into the new ones
 * (`docker cp` through a pipe): no file on the host, nothing on a command line. The copy's
 * archive_mode is off, so it never writes into the stack's repository.
 *
 * `--in-place --yes-destroy-current-data` restores over the stack's own cluster instead:
 * 1. a fresh backup (incremental) and `pgbackrest check` (WAL switched and archived, so --latest
 *    reaches what was committed until now); if either fails, nothing is stopped and it exits 1;
 * 2. the postgres container stopped (fast shutdown);
 * 3. a one-off container on its data volume runs `pgbackrest restore --delta` to the target;
 * 4. the same container started again (same ID: the stack's state still matches, so preview stays
 *    clean), waited for (deadline) until healthy and out of recovery (promoted on a new timeline,
 *    archiving on).
 * Whatever was committed after the target is gone from the live cluster (it stays in the fresh
 * backup and the archive until retention expires them).
 */
import { dockerOrThrow, runDocker } from "../io/docker-cli";
import { createServer } from "node:net";
import { Client } from "pg";
import { PRE_RESTORE_BACKUP_TYPE, backupCommand, inPlaceRestoreCommand, restoreCommand, restoreName, type RestoreOptions } from "../render/backup-cli";
import { runMain, ScriptError } from "../ops/cli";
import { parseRestoreCommand, type RestoreCommand } from "./args";
import { listRestoreCopies, removeRestoreCopies } from "../ops/restore-copies";
import { removeCommand, renderCopies, restoreLabels, unknownCopies } from "../render/restore-copies";
import type { BackupTarget } from "../ops/stack-run";
import { pgSsl } from "../model/tls";
import { LOOPBACK } from "../model/containers";
import { POSTGRES_DATA_DIR, POSTGRES_PORT } from "../model/database";
import { readBackupTarget, stackCli } from "../ops/stack-run";

const READY_DEADLINE_MS = 600_000;
const say = (m: string) => process.stderr.write(`[restore] ${m}\n`);

/** `--list` and `--remove`: only the copies labelled with this stack are seen or removed. */
function manageCopies(command: Exclude<RestoreCommand, { kind: "restore" }>): number {
  const { env } = stackCli(command.stack);
  let copies;
  try {
    copies = listRestoreCopies(command.stack, env);
  } catch (err) {
    say(`cannot list the restore copies of stack ${command.stack}: ${(err as Error).message}`);
    return 1;
  }
  if (command.kind === "list") {
    process.stdout.write(renderCopies(command.stack, copies));
    return 0;
  }
  const unknown = command.names === "all" ? [] : unknownCopies(command.names, copies);
  if (unknown.length) {
    throw new ScriptError(`not a restore copy of stack ${command.stack}: ${unknown.join(", ")} (its copies: ${copies.map((c) => c.name).join(", ") || "none"}); nothing was removed`);
  }
  const chosen = command.names === "all" ? copies : copies.filter((c) => command.names.includes(c.name));
  if (!chosen.length) {
    say(`no restore copies of stack ${command.stack}; nothing to remove`);
    return 0;
  }
  const errors = removeRestoreCopies(chosen, env, say);
  for (const e of errors) say(`could not remove ${e}`);
  return errors.length ? 1 : 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, LOOPBACK, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

type Docker = (args: string[], opts?: { input?: Buffer; inherit?: boolean }) => Buffer;

/**
 * Polls until the server at 127.0.0.1:port accepts connections and is out of recovery; throws at
 * the deadline or if the container stops. `tls`: the live server (TLS only, verify-full against the
 * stack CA); a scratch copy runs without the stack's TLS files.
 */
async function waitOutOfRecovery(docker: Docker, container: string, port: number, target: BackupTarget, tls: boolean): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  let last = "";
  for (;;) {
    const ssl = tls ? pgSsl(target.caCertificate, LOOPBACK) : false;
    const client = new Client({ host: LOOPBACK, port, database: target.database, user: target.superuser.user, password: target.superuser.password, ssl, connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      const { rows } = await client.query("SELECT pg_is_in_recovery() AS recovering");
      if (!rows[0].recovering) return;
      last = "still in recovery";
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
    const state = docker(["inspect", "--format", "{{.State.Status}}", container]).toString().trim();
    if (state !== "running") throw new Error(`${container} is ${state}, not running: see \`docker logs ${container}\``);
    if (Date.now() > deadline) throw new Error(`${container} did not accept connections out of recovery within ${READY_DEADLINE_MS / 1000} s (${last}); see \`docker logs ${container}\``);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `--in-place --yes-destroy-current-data`: see the header. */
/** The scratch copy's server settings over what the restored postgresql.conf says. */
const SCRATCH_SERVER_OPTIONS = ["-c", "ssl=off", "-c", "archive_mode=off", "-c", "synchronous_standby_names="];

async function restoreInPlace(options: RestoreOptions, target: BackupTarget, env: NodeJS.ProcessEnv, docker: Docker): Promise<number> {
  if (target.cluster) {
    say(`refused: stack ${options.stack} runs kryonix:topology ha; a restore in place of a Patroni cluster is not supported yet (nothing was stopped or changed). Restore a copy instead (without --in-place) and move the data with pg_dump/pg_restore, or see docs/cluster.md`);
    return 2;
  }
  const t0 = Date.now();
  const live = target.container;
  const pgbackrest = (args: string[]) => runDocker(["exec", "-u", "postgres", live, ...args], { env, inherit: "all", timeoutMs: 0 }).code;
  say(`in place: stack ${options.stack}, ${options.target.kind === "time" ? `to ${options.target.time}` : "to the end of the archive"}; first a fresh ${PRE_RESTORE_BACKUP_TYPE} backup`);
  if (pgbackrest(backupCommand(PRE_RESTORE_BACKUP_TYPE)) !== 0) {
    say("refused: the fresh backup failed; nothing was stopped or changed");
    return 1;
  }
  if (pgbackrest(["pgbackrest", "--stanza=kryonix", "check"]) !== 0) {
    say("refused: `pgbackrest check` failed after the backup (WAL not archived); nothing was stopped or changed");
    return 1;
  }
  const backupSeconds = (Date.now() - t0) / 1000;
  const image = docker(["inspect", "--format", "{{.Config.Image}}", live]).toString().trim();
  const mounts = JSON.parse(docker(["inspect", "--format", "{{json .Mounts}}", live]).toString()) as { Name?: string; Destination: string }[];
  const volume = mounts.find((m) => m.Destination === POSTGRES_DATA_DIR)?.Name;
  if (!volume) throw new Error(`${live} has no volume at ${POSTGRES_DATA_DIR}`);
  const config = docker(["cp", `${live}:/etc/pgbackrest`, "-"]);
  const step = `${live}-restore-step`;
  say(`stopping ${live}`);
  const t1 = Date.now();
  docker(["stop", live]);
  docker(["create", "--name", step, ...restoreLabels(options.stack, options.target), "-u", "postgres", "--network", target.network, "-v", `${volume}:${POSTGRES_DATA_DIR}`, image, ...inPlaceRestoreCommand(options.target)]);
  try {
    docker(["cp", "-", `${step}:/etc`], { input: config });
    docker(["start", "-a", step], { inherit: true });
  } finally {
    runDocker(["rm", "-f", step], { env });
  }
  say(`pgbackrest restore --delta into ${volume} done; starting ${live}`);
  docker(["start", live]);
  await waitOutOfRecovery(docker, live, target.port, target, true);
  const downSeconds = (Date.now() - t1) / 1000;
  process.stdout.write(
    [
      `restored stack ${options.stack} in place: ${live} is back, out of recovery (fresh backup ${backupSeconds.toFixed(1)} s, server down ${downSeconds.toFixed(1)} s)`,
      `  check: npm run backup:status -- --stack ${options.stack}; npm run preview -- --stack ${options.stack}`,
      "",
    ].join("\n"),
  );
  process.stdout.write(`${JSON.stringify({ container: live, volume, inPlace: true, backupSeconds, downSeconds, seconds: (Date.now() - t0) / 1000 })}\n`);
  return 0;
}

async function main(): Promise<number> {
  const command = parseRestoreCommand(process.argv.slice(2));
  if (command.kind !== "restore") return manageCopies(command);
  const { options } = command;
  let stack;
  try {
    stack = readBackupTarget(options.stack);
  } catch (err) {
    process.stderr.write(`restore: ${(err as Error).message}\n`);
    return 2;
  }
  const { target, env } = stack;
  const docker: Docker = (args, opts = {}) => dockerOrThrow(args, { env, input: opts.input, inherit: opts.inherit ? "all" : undefined, timeoutMs: 0 }).stdoutBytes;
  if (options.inPlace) {
    try {
      return await restoreInPlace(options, target, env, docker);
    } catch (err) {
      say(`failed: ${(err as Error).message}`);
      say(`the postgres container may be stopped: look at \`docker logs ${target.container}\`, then \`docker start ${target.container}\` or run the restore again`);
      return 1;
    }
  }
  const t0 = Date.now();
  const name = restoreName(options.stack, new Date());
  const step = `${name}-step`;
  const label = restoreLabels(options.stack, options.target);
  const removal = removeCommand(options.stack, name);
  try {
    const image = docker(["inspect", "--format", "{{.Config.Image}}", target.container]).toString().trim();
    // pgbackrest.conf, its secrets and the CA, as a tar stream from the live container.
    const config = docker(["cp", `${target.container}:/etc/pgbackrest`, "-"]);
    docker(["volume", "create", ...label, name]);
    say(`volume ${name}; restoring ${options.target.kind === "time" ? `to ${options.target.time}` : "to the end of the archive"} with ${image}`);

    docker(["create", "--name", step, ...label, "-u", "postgres", "--network", target.network, "-v", `${name}:${POSTGRES_DATA_DIR}`, image, ...restoreCommand(options.target)]);
    try {
      docker(["cp", "-", `${step}:/etc`], { input: config });
      docker(["start", "-a", step], { inherit: true });
    } finally {
      runDocker(["rm", "-f", step], { env });
    }
    const copySeconds = (Date.now() - t0) / 1000;
    say(`pgbackrest restore done in ${copySeconds.toFixed(1)} s`);

    const port = await freePort();
    // The postgres image's entrypoint, also inside a cluster node's image (built FROM it), and a server
    // that neither serves TLS (the stack's certificate files are not in the copy's container; a `ha`
    // node's postgresql.conf, restored with the data, names them), nor archives into the live
    // stanza, nor waits for a synchronous standby.
    docker([
      "create", "--name", name, ...label, "--network", target.network, "-p", `${LOOPBACK}:${port}:${POSTGRES_PORT}`, "-v", `${name}:${POSTGRES_DATA_DIR}`, "--stop-signal", "SIGINT",
      "--entrypoint", "/usr/bin/tini", image, "--", "/usr/local/bin/kryonix-postgres-entrypoint", "postgres", ...SCRATCH_SERVER_OPTIONS,
    ]);
    docker(["cp", "-", `${name}:/etc`], { input: config });
    docker(["start", name]);
    say(`${name} started on ${LOOPBACK}:${port}; waiting for recovery to finish (deadline ${READY_DEADLINE_MS / 1000} s)`);

    const started = Date.now();
    await waitOutOfRecovery(docker, name, port, target, false);
    const recoverySeconds = (Date.now() - started) / 1000;
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    process.stdout.write(
      [
        `restored stack ${options.stack} into ${name} in ${seconds} s (a copy: the live cluster is untouched)`,
        `  connect:  psql "host=${LOOPBACK} port=${port} dbname=${target.database} user=${target.superuser.user}"`,
        `  password: the stack's superuser password (the cluster is a copy): npm run pulumi -- stack output --show-secrets credentials --stack ${options.stack}  (credentials.postgres.password)`,
        `  remove:   ${removal}`,
        "",
      ].join("\n"),
    );
    // copySeconds: until pgBackRest's restore ended (volume and step container included); recoverySeconds: the server's start, WAL replay and promotion.
    process.stdout.write(
      `${JSON.stringify({ container: name, volume: name, host: LOOPBACK, port, database: target.database, user: target.superuser.user, seconds: Number(seconds), copySeconds: Number(copySeconds.toFixed(1)), recoverySeconds: Number(recoverySeconds.toFixed(1)) })}\n`,
    );
    return 0;
  } catch (err) {
    say(`failed: ${(err as Error).message}`);
    say(`what was made is left for inspection; remove it with: ${removal}`);
    return 1;
  }
}

runMain("restore", main);
