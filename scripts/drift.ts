/**
 * `npm run drift [-- --stack NAME] [--json | --markdown] [--write DIR]`: what differs between the
 * running stack and what it declares (README, "Drift detection"):
 *  - `pulumi refresh --preview-only --expect-no-changes`: each resource a provider sees changed,
 *    which properties, old and new values (secrets masked);
 *  - what no provider reads: roles, memberships, grants, default privileges, extensions, tables and
 *    indexes in the managed schemas against components/database.ts and sql/; the migration ledger
 *    against sql/; ALTER SYSTEM, pending restarts and ALTER ROLE/DATABASE SET; the containers.
 * Each finding says whether `npm run up` repairs it and, if not, what to do.
 * Exit code: 0 no drift, 1 drift found, 2 the check could not complete (an error).
 * `--write DIR` also writes drift-<stack>.json and drift-<stack>.md there (CI artifacts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  EXIT,
  containerFindings,
  databaseFindings,
  exitCode,
  migrationFindings,
  refreshFindings,
  tlsFileFindings,
  renderDrift,
  settingFindings,
  type DriftReport,
  type Finding,
} from "../checks/drift";
import { CHECKED_SCHEMAS, declaredDatabase } from "../checks/drift-declared";
import { inspectContainers, readDbSnapshot, refreshPreview } from "../ops/drift-probe";
import { loadMigrationFiles } from "../io/migrations-fs";
import { connectPg } from "../io/pg-connect";
import { ensureCaFile, exportedResources, readOutputs, stackCli } from "../ops/stack-run";
import { tlsVolumeChecks } from "../io/tls-volume";
import { runDocker } from "../io/docker-cli";
import { parsedOrExit } from "../ops/cli";
import { parseDriftArgs } from "./args";

const { stack, format, write: writeDir } = parsedOrExit("drift", () => parseDriftArgs(process.argv.slice(2)), EXIT.error);

async function check(): Promise<DriftReport> {
  const t0 = Date.now();
  const findings: Finding[] = [];
  const errors: string[] = [];
  const cli = stackCli(stack);
  ensureCaFile(stack, cli);

  // What the providers see.
  const refresh = refreshPreview(stack);
  let refreshJson: { steps?: unknown[] } | undefined;
  try {
    refreshJson = JSON.parse(refresh.stdout);
  } catch {
    errors.push(`pulumi refresh --preview-only failed (exit ${refresh.code}): ${refresh.stderr.trim().split("\n").slice(-3).join(" ")}`);
  }
  const exported = cli.capture(["stack", "export", "--stack", stack]);
  const resources = exported.code === 0 ? exportedResources(JSON.parse(exported.stdout || "{}")) : [];
  if (exported.code !== 0) errors.push(`cannot read the state of stack ${stack}: ${exported.stderr.trim()}`);

  // The TLS files in the servers' volumes, file by file (the refresh sees a change but cannot name it).
  const tls = tlsFileFindings(stack, tlsVolumeChecks(resources, (args, input) => runDocker(args, { input, env: cli.env, timeoutMs: 60_000 })));
  findings.push(...tls.findings);
  errors.push(...tls.errors);

  if (refreshJson) {
    const found = refreshFindings(stack, refreshJson as Parameters<typeof refreshFindings>[1], refresh.events);
    findings.push(...found);
    // --expect-no-changes fails on drift; any other failure is an error.
    if (refresh.code !== 0 && !found.length && !tls.findings.length) errors.push(`pulumi refresh --preview-only exited ${refresh.code}: ${refresh.stderr.trim().split("\n").slice(-3).join(" ")}`);
  }

  // The containers the state holds.
  const containers = (resources as { type: string; outputs?: { name?: string; image?: string } }[])
    .filter((r) => r.type === "docker:index/container:Container" && r.outputs?.name)
    .map((r) => ({ name: r.outputs!.name!, image: r.outputs!.image }));
  const seen = inspectContainers(
    containers.map((c) => c.name),
    cli.env,
  );
  findings.push(...containerFindings(stack, containers, seen));

  // Inside the database.
  let outputs: Record<string, any> | undefined;
  try {
    outputs = readOutputs(stack);
  } catch (e) {
    errors.push((e as Error).message);
  }
  const postgresName = `kryonix-${stack}-postgres`;
  const postgresUp = seen.find((c) => c.name === postgresName)?.running ?? false;
  if (outputs && postgresUp) {
    try {
      const client = await connectPg(
        {
          host: outputs.endpoints.postgres.host,
          port: outputs.endpoints.postgres.port,
          database: outputs.endpoints.postgres.database,
          user: outputs.credentials.postgres.user,
          password: outputs.credentials.postgres.password,
          ca: outputs.caCertificate,
        },
        "kryonix-drift",
      );
      try {
        const db = await readDbSnapshot(client, CHECKED_SCHEMAS);
        const files = loadMigrationFiles();
        const declared = declaredDatabase(files);
        findings.push(...databaseFindings(stack, declared, db));
        findings.push(...migrationFindings(stack, files, db.ledger));
        findings.push(...settingFindings(stack, postgresName, db, declared));
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (e) {
      errors.push(`the database checks failed: ${(e as Error).message}`);
    }
  } else if (outputs && containers.some((c) => c.name === postgresName)) {
    process.stderr.write(`[drift] ${postgresName} is not running: the database checks are skipped until npm run up starts it\n`);
  }
  return { stack, checkedAt: new Date().toISOString(), durationSeconds: (Date.now() - t0) / 1000, findings, errors };
}

check()
  .catch((e): DriftReport => ({ stack, checkedAt: new Date().toISOString(), durationSeconds: 0, findings: [], errors: [(e as Error).message] }))
  .then((report) => {
    if (writeDir) {
      mkdirSync(writeDir, { recursive: true });
      writeFileSync(path.join(writeDir, `drift-${stack}.json`), JSON.stringify(report, null, 2) + "\n");
      writeFileSync(path.join(writeDir, `drift-${stack}.md`), renderDrift(report, "markdown"));
    }
    process.stdout.write(format === "json" ? JSON.stringify({ ...report, exitCode: exitCode(report) }, null, 2) + "\n" : renderDrift(report, format));
    process.exit(exitCode(report));
  })
  .catch(() => process.exit(EXIT.error));
