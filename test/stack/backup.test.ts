/**
 * `npm run test:db:backup`: backups and point-in-time restore for real, on a stack of its own
 * ("bkptest": containers kryonix-bkptest-*, ports picked free on 127.0.0.1, its own file backend and
 * passphrase). Bad backup settings fail `npm run preview`; `npm run up` (which creates the stanza and
 * checks WAL archiving) with a bucket of its own, preview and refresh clean, a full backup with
 * `npm run backup`, marker rows at known times with their WAL archived, `npm run restore --
 * --target-time <between markers 2 and 3>` into a scratch container, exactly markers 1 and 2 in the
 * copy, `npm run backup:status -- --json`; pgBackRest's MinIO user allowed its repository path and
 * nothing else, the bucket's lifecycle noncurrent-only; MinIO stopped while rows are written
 * (KRYONIX_OUTAGE_SECONDS, default 60; `npm run test:db:backup:outage` sets 300): archiving fails
 * and retries, PostgreSQL keeps serving, no segment is lost, `pgbackrest check` passes afterwards,
 * a restore to a moment inside the outage has exactly the rows committed before it and dumps equal
 * to the live databases' at that moment, amcheck clean; `--in-place` refused without
 * --yes-destroy-current-data, and with it: a fresh backup, the live cluster back at a time, same
 * container, preview clean; `npm run restore -- --list` shows the copies, a name not among them is
 * refused, `--remove NAME` removes one, `npm run destroy` stops while the other is there (exit 3,
 * nothing touched), and `--including-data` removes it with everything else. Each step prints how
 * long it took.
 */
import { Client } from "pg";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pgSsl } from "../../model/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingSegments, segmentNames } from "../../model/wal";
import { postgresLog } from "../support/docker";
import { dockerLeftovers, sh, shAsync, sleep, waitFor } from "../support/process";
import { openTestStack, testStackName, type TestStack } from "../support/stack";

const STACK = testStackName("bkptest");
const PREFIX = `kryonix-${STACK}-`;
/** A bucket other than the default, so the setting is proven to reach MinIO, the policy and pgBackRest. */
const BUCKET = "kryonix-bkptest-repo";
/** How long MinIO is down in step 9; `npm run test:db:backup:outage` sets several minutes. */
const OUTAGE_SECONDS = Number(process.env.KRYONIX_OUTAGE_SECONDS ?? 60);

let t: TestStack;
const restores: string[] = [];
let restored: { container: string; port: number; database: string; user: string; seconds: number; copySeconds: number; recoverySeconds: number } | undefined;
const timed = <T>(step: string, fn: () => Promise<T> | T) => t.timed(step, fn);
const npmScript = (script: string, ...args: string[]) => t.npm(script, ...args);
const outputs = () => t.outputs();

/** The live server speaks TLS only (verify-full, stack CA); a restored scratch copy runs without the stack's TLS files. */
async function withClient<T>(port: number, fn: (c: Client) => Promise<T>, tls = true): Promise<T> {
  const o = await outputs();
  const client = new Client({
    host: "127.0.0.1",
    port,
    database: o.endpoints.postgres.database,
    user: o.credentials.postgres.user,
    password: o.credentials.postgres.password,
    ssl: tls ? pgSsl(o.caCertificate, "127.0.0.1") : false,
    connectionTimeoutMillis: 10_000,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
const live = async <T = any>(sql: string): Promise<T[]> => withClient((await outputs()).endpoints.postgres.port, async (c) => (await c.query(sql)).rows as T[]);

beforeAll(async () => {
  t = await openTestStack(STACK, "backup test");
  if (!(Number.isInteger(OUTAGE_SECONDS) && OUTAGE_SECONDS >= 30)) throw new Error(`KRYONIX_OUTAGE_SECONDS must be an integer of at least 30 (got ${process.env.KRYONIX_OUTAGE_SECONDS})`);
});

const setConfig = (key: string, value: string) => t.stack.setConfig(`kryonix:${key}`, { value });
/** psql as postgres in a container, one -c per statement, quiet: only the rows are printed. */
const psqlIn = (container: string, database: string, statements: string[]) =>
  shAsync("docker", ["exec", "-u", "postgres", container, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", database, ...statements.flatMap((s) => ["-c", s])]);
/** Plain-text pg_dump of one database, run in the container (pg_dump 17 for a 17 server); \restrict lines carry a random key per run. */
async function dump(container: string, database: string): Promise<string> {
  const r = await shAsync("docker", ["exec", "-u", "postgres", container, "pg_dump", "--no-sync", "-d", database]);
  if (r.code !== 0) throw new Error(`pg_dump ${database} in ${container} exited ${r.code}: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => !/^\\(un)?restrict /.test(l)).join("\n");
}
const DATABASES = ["kryonix_saas", "postgres"];

afterAll(() => {
  // Best effort after a failure; the last test asserts that destroy itself leaves nothing.
  t?.dispose();
});

describe.sequential("backups and point-in-time restore, for real", () => {
  it("0. bad backup settings fail `npm run preview` with the setting named, before anything is made", async () => {
    await setConfig("backupBucket", "Kryonix_Backups");
    await setConfig("backupRetentionDays", "0");
    const r = await timed("npm run preview (bad settings)", () => npmScript("preview"));
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/kryonix:backupBucket: "Kryonix_Backups" is invalid: 3 to 63 characters of a-z/);
    expect(r.out).toMatch(/kryonix:backupRetentionDays: "0" is invalid: an integer from 1 to 3650/);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
    await t.stack.removeConfig("kryonix:backupRetentionDays");
    await setConfig("backupBucket", BUCKET);
    // Short, so the outage below spans several segments.
    await setConfig("archiveTimeoutSeconds", "10");
  });

  it("1. `npm run up` creates the stanza and archives WAL; preview and refresh see no change", async () => {
    const up = await timed("npm run up (from empty)", () => npmScript("up"));
    expect(up.code, up.out).toBe(0);
    expect((await live<{ archive_mode: string }>("SHOW archive_mode"))[0].archive_mode).toBe("on");
    await timed("preview --expect-no-changes", () => t.stack.preview({ expectNoChanges: true }));
    await timed("refresh --preview-only --expect-no-changes", () => t.stack.previewRefresh({ expectNoChanges: true }));
  });

  it("2. `npm run backup` takes a full backup", async () => {
    const r = await timed("npm run backup (full)", () => npmScript("backup"));
    expect(r.code, r.out).toBe(0);
    // Progress: pgBackRest's detail lines, one per file copied (with its place in a bundle: repo1-bundle).
    expect(r.out).toMatch(/backup file \S+ \((bundle \d+\/\d+, )?\d+\w*, \d+(\.\d+)?%\)/);
    expect(r.out).toMatch(/backup file \S+ \(bundle \d+\/\d+, /);
  });

  let target = "";
  it("3. marker rows at known times, their WAL archived", async () => {
    await timed("write markers and archive their WAL", async () => {
      const port = (await outputs()).endpoints.postgres.port;
      await withClient(port, async (c) => {
        await c.query("CREATE SCHEMA backup_test; CREATE TABLE backup_test.markers (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
        await c.query("INSERT INTO backup_test.markers (n) VALUES (1)");
        await c.query("INSERT INTO backup_test.markers (n) VALUES (2)");
        await sleep(1000);
        // The target: after marker 2's commit, before marker 3's, in the server's own clock.
        target = (await c.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t")).rows[0].t;
        await sleep(1000);
        await c.query("INSERT INTO backup_test.markers (n) VALUES (3)");
        const { rows } = await c.query("SELECT pg_walfile_name(pg_switch_wal()) AS wal");
        const wal: string = rows[0].wal;
        // Archived once pg_stat_archiver has reached the segment that holds marker 3.
        await waitFor(`WAL segment ${wal} archived`, 120_000, async () => {
          const a = (await c.query("SELECT last_archived_wal FROM pg_stat_archiver")).rows[0].last_archived_wal;
          return typeof a === "string" && a >= wal;
        });
      });
    });
    expect(target).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00$/);
  });

  it("4. `npm run restore -- --target-time` between markers 2 and 3: the copy has exactly markers 1 and 2", async () => {
    const r = await timed("npm run restore (point in time)", () => npmScript("restore", "--target-time", target));
    expect(r.code, r.out).toBe(0);
    restored = JSON.parse(r.stdout.trim().split("\n").pop()!);
    restores.push(restored!.container);
    expect(restored!.container).toMatch(new RegExp(`^${PREFIX}restore-\\d{8}-\\d{6}$`));
    // Its two parts, as the bench reports them: pgBackRest's restore, then start, replay and promotion.
    expect(restored!.copySeconds).toBeGreaterThan(0);
    expect(restored!.recoverySeconds).toBeGreaterThan(0);
    expect(restored!.copySeconds + restored!.recoverySeconds).toBeLessThanOrEqual(restored!.seconds + 0.2);
    // Published on 127.0.0.1 only.
    const ports = sh("docker", ["port", restored!.container]).stdout.trim().split("\n");
    expect(ports.every((p) => p.includes(`127.0.0.1:${restored!.port}`))).toBe(true);
    const rows = await withClient(restored!.port, async (c) => (await c.query("SELECT n FROM backup_test.markers ORDER BY n")).rows, false);
    expect(rows.map((x) => x.n)).toEqual([1, 2]);
    // The copy archives nothing into the stack's repository.
    const mode = await withClient(restored!.port, async (c) => (await c.query("SHOW archive_mode")).rows[0].archive_mode, false);
    expect(mode).toBe("off");
    const o = await outputs();
    expect(r.out).not.toContain(o.credentials.postgres.password);
    expect(r.out).not.toContain(o.credentials.minio.secretKey);
  });

  it("5. `npm run backup:status -- --json` shows the full backup and archived WAL with no failure", async () => {
    const r = await timed("npm run backup:status --json", () => npmScript("backup-status", "--json"));
    expect(r.code, r.out).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.stanzaStatus).toBe("ok");
    expect(status.last.full).not.toBeNull();
    expect(status.last.full.ageSeconds).toBeLessThan(600);
    expect(status.last.full.repositoryBytes).toBeGreaterThan(0);
    expect(status.archive.archivedCount).toBeGreaterThan(0);
    expect(status.archive.failedCount).toBe(0);
    expect(status.archive.failing).toBe(false);
    expect(status.retention).toEqual({ fullType: "time", fullDays: 30 });
    const text = npmScript("backup-status");
    expect(text.code, text.out).toBe(0);
    expect(text.stdout).toContain("WAL archive: ok");
  });

  /** pgBackRest's MinIO keys, read where pgBackRest reads them (a test may; nothing prints them). */
  const pgbackrestKeys = () => {
    const conf = sh("docker", ["exec", `${PREFIX}postgres`, "cat", "/etc/pgbackrest/conf.d/kryonix-secrets.conf"]).stdout;
    return { accessKey: /^repo1-s3-key=(.*)$/m.exec(conf)?.[1] ?? "", secretKey: /^repo1-s3-key-secret=(.*)$/m.exec(conf)?.[1] ?? "" };
  };

  it("6. pgBackRest's own MinIO user may work in its repository path only; the bucket's lifecycle expires noncurrent versions only", async () => {
    const o = await outputs();
    expect(o.backup.bucket).toBe(BUCKET);
    const keys = pgbackrestKeys();
    expect(keys.accessKey).toBe("kryonix-pgbackrest");
    expect(keys.secretKey).toMatch(/^[A-Za-z0-9]{40}$/);
    expect([keys.accessKey, keys.secretKey]).not.toContain(o.credentials.minio.accessKey);
    expect(keys.secretKey).not.toBe(o.credentials.minio.secretKey);
    const work = mkdtempSync(path.join(os.tmpdir(), `${PREFIX}mc-`));
    try {
      const ca = path.join(work, "ca.crt");
      writeFileSync(ca, o.caCertificate);
      const mc = (who: { accessKey: string; secretKey: string }, ...args: string[]) =>
        sh("mc", args, {
          env: { ...t.env, MC_CONFIG_DIR: path.join(work, "mc"), SSL_CERT_FILE: ca, MC_HOST_kx: `https://${who.accessKey}:${who.secretKey}@127.0.0.1:${o.endpoints.minio.port}` },
        });
      const allowed = mc(keys, "ls", `kx/${BUCKET}/pgbackrest/`);
      expect(allowed.code, allowed.out).toBe(0);
      expect(allowed.stdout).toMatch(/archive\//);
      // Refused: listing the bucket's root or the buckets, making a bucket, writing outside its path,
      // versioning and lifecycle, the admin API.
      for (const refused of [
        ["ls", `kx/${BUCKET}/`],
        ["ls", "kx"],
        ["mb", `kx/${BUCKET}-other`],
        ["cp", ca, `kx/${BUCKET}/elsewhere/ca.crt`],
        ["version", "suspend", `kx/${BUCKET}`],
        ["ilm", "rule", "export", `kx/${BUCKET}`],
        ["admin", "user", "list", "kx"],
      ]) {
        const r = mc(keys, ...refused);
        expect(r.code, `mc ${refused.join(" ")} as pgBackRest's user: ${r.out}`).not.toBe(0);
        expect(r.out).toMatch(/Access Denied|Insufficient permissions/);
      }
      const lifecycle = mc(o.credentials.minio, "ilm", "rule", "export", `kx/${BUCKET}`);
      expect(lifecycle.code, lifecycle.out).toBe(0);
      // Exactly one rule, on noncurrent versions; nothing that expires or moves a current object.
      expect(JSON.parse(lifecycle.stdout)).toEqual({ Rules: [{ ID: "kryonix-expire-noncurrent", Status: "Enabled", NoncurrentVersionExpiration: { NoncurrentDays: 7 } }] });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  /** What step 7 leaves for the next ones. */
  const outage = { target: "", committedBefore: [] as number[], liveDumps: {} as Record<string, string>, seconds: 0, rowsDuring: 0, failures: 0, minioStartedAt: 0 };

  it(`7. MinIO stopped for ${OUTAGE_SECONDS} s while rows are written: archiving fails and retries, PostgreSQL keeps serving`, async () => {
    const o = await outputs();
    const minio = `${PREFIX}minio`;
    await withClient(o.endpoints.postgres.port, async (c) => {
      await c.query("CREATE TABLE backup_test.outage (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), filler text)");
      await c.query("CREATE INDEX ON backup_test.outage (at)");
      const archiver = async () => (await c.query("SELECT failed_count::int AS failed, last_archived_wal AS archived FROM pg_stat_archiver")).rows[0];
      const before = await archiver();

      // One writer: a row every 100 ms, each its own transaction; ids are the writer's own, so the
      // copy's rows can be compared one by one.
      const committed: number[] = [];
      const errors: string[] = [];
      let paused = false;
      let idle = true;
      let stop = false;
      const writer = (async () => {
        for (let id = 1; !stop; id++) {
          while (paused && !stop) {
            idle = true;
            await sleep(20);
          }
          idle = false;
          try {
            await c.query("INSERT INTO backup_test.outage (id, filler) VALUES ($1::int, repeat(md5($1::int::text), 20))", [id]);
            committed.push(id);
          } catch (err) {
            errors.push((err as Error).message);
          }
          idle = true;
          await sleep(100);
        }
      })();
      const pause = async () => {
        paused = true;
        await waitFor("the writer paused", 30_000, () => idle);
      };

      try {
        await waitFor("the first rows written", 30_000, () => {
          if (errors.length) throw new Error(`the writer failed: ${errors[0]}`);
          return committed.length >= 5;
        });
        const stopped = await timed("docker stop minio", () => shAsync("docker", ["stop", minio]));
        expect(stopped.code, stopped.out).toBe(0);
        const outageStart = Date.now();
        const rowsAtStart = committed.length;
        const archivedWhenStopped = (await archiver()).archived;
        // A segment to archive now, while MinIO is down.
        await c.query("SELECT pg_switch_wal()");
        await timed("first archive failure", () => waitFor("pg_stat_archiver.failed_count to grow", 180_000, async () => (await archiver()).failed > before.failed));

        // Halfway through (or now, if the first failure took longer): the moment to restore to, with
        // the writer paused around it so that "committed before it" is exact, and the live databases
        // dumped at that moment.
        await sleep(Math.max(0, outageStart + (OUTAGE_SECONDS * 1000) / 2 - Date.now()));
        await pause();
        outage.target = (await c.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t")).rows[0].t;
        outage.committedBefore = [...committed];
        for (const db of DATABASES) outage.liveDumps[db] = await dump(`${PREFIX}postgres`, db);
        await sleep(1000);
        paused = false;

        // Down for OUTAGE_SECONDS, and until PostgreSQL has retried (a second failed attempt).
        await sleep(Math.max(0, outageStart + OUTAGE_SECONDS * 1000 - Date.now()));
        await timed("a retry failed too", () => waitFor("a second archive failure", 180_000, async () => (await archiver()).failed >= before.failed + 2));
        const during = await archiver();
        // Nothing archived while MinIO was down.
        expect(during.archived).toBe(archivedWhenStopped);
        // PostgreSQL kept serving: rows kept committing through the outage, no statement failed.
        expect(errors).toEqual([]);
        expect(committed.length - rowsAtStart).toBeGreaterThan(OUTAGE_SECONDS * 2);
        outage.rowsDuring = committed.length - rowsAtStart;
        outage.failures = during.failed - before.failed;
        outage.seconds = (Date.now() - outageStart) / 1000;
        outage.minioStartedAt = Date.now();
        const started = await timed("docker start minio", () => shAsync("docker", ["start", minio]));
        expect(started.code, started.out).toBe(0);
        await timed("MinIO healthy again", () =>
          waitFor("MinIO healthy", 180_000, async () => (await shAsync("docker", ["inspect", "--format", "{{.State.Health.Status}}", minio])).stdout.trim() === "healthy"),
        );
        await sleep(2000);
      } finally {
        stop = true;
        paused = false;
        await writer;
        // After a failure above too: the later steps and the destroy need MinIO.
        await shAsync("docker", ["start", minio]);
      }
      expect(errors).toEqual([]);
      expect(outage.committedBefore.length).toBeGreaterThan(0);
      expect(committed.length).toBeGreaterThan(outage.committedBefore.length);
    });
    expect(outage.target).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00$/);
    process.stdout.write(
      `[backup test] MinIO was down ${outage.seconds.toFixed(0)} s: ${outage.rowsDuring} rows committed meanwhile, ${outage.failures} failed archive attempts; ${outage.committedBefore.length} rows committed before the target ${outage.target}\n`,
    );
  });

  it("8. MinIO back: the archive catches up with no segment missing, `pgbackrest check` passes", async () => {
    const o = await outputs();
    const container = `${PREFIX}postgres`;
    let last = "";
    await withClient(o.endpoints.postgres.port, async (c) => {
      // A record first: on a server that wrote nothing since the last switch, pg_switch_wal() is a
      // no-op that returns the current position, whose segment would wait for archive_timeout and
      // the next write (a wait that once measured 209 s and said nothing about the archive).
      await c.query("SELECT pg_logical_emit_message(false, 'kryonix-backup-test', 'after the outage')");
      last = (await c.query("SELECT pg_walfile_name(pg_switch_wal()) AS wal")).rows[0].wal;
      await timed("archive caught up", () =>
        waitFor(`WAL segment ${last} archived after the outage`, 300_000, async () => {
          const a = (await c.query("SELECT last_archived_wal FROM pg_stat_archiver")).rows[0].last_archived_wal;
          return typeof a === "string" && a >= last;
        }),
      );
    });
    const caughtUpSeconds = (Date.now() - outage.minioStartedAt) / 1000;
    // Nothing left waiting in pg_wal/archive_status.
    const ready = await shAsync("docker", ["exec", "-u", "postgres", container, "find", "/var/lib/postgresql/data/pg_wal/archive_status", "-name", "*.ready"]);
    expect(ready.stdout.trim()).toBe("");
    // Every segment from the archive's first to the last one, none missing.
    const info = JSON.parse((await shAsync("docker", ["exec", "-u", "postgres", container, "pgbackrest", "--stanza=kryonix", "info", "--output=json"])).stdout);
    const first: string = info[0].archive[0].min;
    const ls = await shAsync("docker", ["exec", "-u", "postgres", container, "pgbackrest", "--stanza=kryonix", "repo-ls", "--recurse", "--output=json", "archive/kryonix"]);
    expect(ls.code, ls.out).toBe(0);
    const names = segmentNames(Object.keys(JSON.parse(ls.stdout)));
    expect(names.length).toBeGreaterThan(3);
    const missing = missingSegments(names, first, last);
    expect(missing).toEqual([]);
    // From `docker start minio` to the last segment archived: the outage's backlog pushed.
    process.stdout.write(
      `[backup test] archive caught up ${caughtUpSeconds.toFixed(1)} s after MinIO was started (an upper bound: the wait starts once MinIO is healthy); ${names.length} segments ${first} to ${last} in the repository, ${missing.length} missing\n`,
    );
    const check = await timed("pgbackrest check", () => shAsync("docker", ["exec", "-u", "postgres", container, "pgbackrest", "--stanza=kryonix", "check"]));
    expect(check.code, check.out).toBe(0);
  });

  it("9. restore to a moment inside the outage: exactly the rows committed before it, dumps equal to the live ones then, amcheck clean", async () => {
    const r = await timed("npm run restore (inside the outage)", () => npmScript("restore", "--target-time", outage.target));
    expect(r.code, r.out).toBe(0);
    const copy = JSON.parse(r.stdout.trim().split("\n").pop()!);
    restores.push(copy.container);
    const ids = await withClient(copy.port, async (c) => (await c.query("SELECT id FROM backup_test.outage ORDER BY id")).rows.map((x) => x.id), false);
    expect(ids).toEqual(outage.committedBefore);
    await timed("pg_dump both databases of the copy, compare", async () => {
      for (const db of DATABASES) {
        const restoredDump = await dump(copy.container, db);
        expect(restoredDump).toContain("PostgreSQL database dump complete");
        // toBe on strings of this size prints an unreadable diff; compare, then show the first difference.
        const a = outage.liveDumps[db].split("\n");
        const b = restoredDump.split("\n");
        const at = a.findIndex((line, i) => line !== b[i]);
        expect({ db, at, live: a[at], restored: b[at], lines: [a.length, b.length] }).toEqual({ db, at: -1, live: undefined, restored: undefined, lines: [a.length, a.length] });
      }
    });
    await timed("amcheck on the copy", async () => {
      for (const db of DATABASES) {
        const checked = await psqlIn(copy.container, db, [
          "CREATE EXTENSION IF NOT EXISTS amcheck",
          // Every valid btree index, with its heap (heapallindexed); then every table's heap.
          "SELECT count(*) FROM (SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree' AND c.relkind = 'i' AND i.indisvalid AND c.relpersistence = 'p') checked",
          "SELECT count(*) FROM pg_class c, verify_heapam(c.oid) WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence = 'p'",
        ]);
        expect(checked.code, checked.out).toBe(0);
        const [indexes, corrupt] = checked.stdout.trim().split("\n").slice(-2).map(Number);
        expect(indexes, `btree indexes checked in ${db}`).toBeGreaterThan(10);
        expect(corrupt, `verify_heapam problems in ${db}`).toBe(0);
      }
    });
  });

  it("10. `npm run restore -- --in-place --yes-destroy-current-data`: a fresh backup, then the live cluster back at a time; preview clean", async () => {
    const refused = npmScript("restore", "--in-place", "--latest");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/add --yes-destroy-current-data to confirm/);

    const o = await outputs();
    const container = `${PREFIX}postgres`;
    let target = "";
    const before = await withClient(o.endpoints.postgres.port, async (c) => {
      await c.query("CREATE TABLE backup_test.in_place (n int PRIMARY KEY)");
      await c.query("INSERT INTO backup_test.in_place VALUES (1)");
      await sleep(1000);
      target = (await c.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t")).rows[0].t;
      await sleep(1000);
      await c.query("INSERT INTO backup_test.in_place VALUES (2)");
      return (await c.query("SELECT system_identifier::text AS id, (SELECT count(*)::int FROM backup_test.outage) AS outage FROM pg_control_system()")).rows[0];
    });
    const id = sh("docker", ["inspect", "--format", "{{.Id}}", container]).stdout.trim();
    const r = await timed("npm run restore --in-place (point in time)", () => npmScript("restore", "--in-place", "--target-time", target, "--yes-destroy-current-data"));
    expect(r.code, r.out).toBe(0);
    // The fresh backup came first.
    expect(r.out).toMatch(/backup command end: completed successfully/);
    const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(result).toMatchObject({ container, inPlace: true });
    process.stdout.write(`[backup test] in-place restore: fresh backup ${result.backupSeconds.toFixed(1)} s, server down ${result.downSeconds.toFixed(1)} s\n`);
    // The same container and cluster, on a new timeline, with row 1 and without row 2.
    expect(sh("docker", ["inspect", "--format", "{{.Id}}", container]).stdout.trim()).toBe(id);
    const after = await withClient(o.endpoints.postgres.port, async (c) => ({
      rows: (await c.query("SELECT n FROM backup_test.in_place ORDER BY n")).rows.map((x) => x.n),
      ...(await c.query("SELECT system_identifier::text AS id, (SELECT count(*)::int FROM backup_test.outage) AS outage, (SELECT timeline_id FROM pg_control_checkpoint()) AS timeline, pg_is_in_recovery() AS recovering, current_setting('archive_mode') AS archive_mode FROM pg_control_system()")).rows[0],
    }));
    expect(after).toMatchObject({ rows: [1], id: before.id, outage: before.outage, recovering: false, archive_mode: "on" });
    expect(after.timeline).toBeGreaterThan(1);
    // Archiving works on the new timeline; the stack's state still matches what runs.
    const check = await timed("pgbackrest check (after in-place)", () => shAsync("docker", ["exec", "-u", "postgres", container, "pgbackrest", "--stanza=kryonix", "check"]));
    expect(check.code, check.out).toBe(0);
    await timed("preview --expect-no-changes (after in-place)", () => t.stack.preview({ expectNoChanges: true }));
  });

  it("11. no credential of the stack in docker inspect of the postgres container or its log", async () => {
    const o = await outputs();
    const seen = `${sh("docker", ["inspect", `${PREFIX}postgres`]).out}\n${postgresLog(`${PREFIX}postgres`)}`;
    for (const secret of [o.credentials.minio.secretKey, o.credentials.minio.accessKey, o.credentials.postgres.password, pgbackrestKeys().secretKey]) expect(seen).not.toContain(secret);
  });

  it("12. the restore copies listed and removed by `npm run restore`; a destroy that keeps data stops while one is there, --including-data removes it", async () => {
    const [pointInTime, inOutage] = restores;
    const list = npmScript("restore", "--list");
    expect(list.code, list.out).toBe(0);
    const rows = list.stdout.split("\n").filter((l) => l.startsWith(PREFIX));
    expect(rows.map((l) => l.split(" ")[0])).toEqual([pointInTime, inOutage]);
    const re = (s: string) => s.replace(/[.+]/g, "\\$&");
    // Name, created (UTC), target as given, port, state.
    const row = (name: string, at: string, port: string) => new RegExp(`^${name} +\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z +${re(at)} +127\\.0\\.0\\.1:${port} +running$`);
    expect(rows[0]).toMatch(row(pointInTime, target, String(restored!.port)));
    expect(rows[1]).toMatch(row(inOutage, outage.target, "\\d+"));

    // A name that is not a copy of this stack (its live server) is refused before anything is removed.
    const refused = npmScript("restore", "--remove", pointInTime, "--remove", `${PREFIX}postgres`);
    expect(refused.code, refused.out).toBe(2);
    expect(refused.stderr).toContain(`not a restore copy of stack ${STACK}: ${PREFIX}postgres`);
    expect(sh("docker", ["inspect", "--format", "{{.State.Status}}", pointInTime]).stdout.trim()).toBe("running");

    const removed = await timed("npm run restore --remove NAME", () => npmScript("restore", "--remove", pointInTime));
    expect(removed.code, removed.out).toBe(0);
    expect(removed.stderr).toContain(`removed ${pointInTime} (container and volume)`);
    expect(dockerLeftovers(pointInTime)).toEqual([]);

    // The other copy is still there: a destroy that keeps the data names it and touches nothing.
    const before = t.containerNames();
    const stopped = await timed("npm run destroy (a restore copy present)", () => npmScript("destroy"));
    expect(stopped.code, stopped.out).toBe(3);
    expect(stopped.stderr).toContain(`stopped before touching anything: 1 restore copy of stack ${STACK} is on its network`);
    expect(stopped.stderr).toContain(`[destroy]   ${inOutage} (running, 127.0.0.1:`);
    expect(stopped.stderr).toContain(`npm run restore -- --stack ${STACK} --remove --all`);
    expect(stopped.stderr).toContain(`npm run destroy -- --stack ${STACK} --including-data`);
    expect(t.containerNames()).toEqual(before);
    expect(before).toContain(`${PREFIX}postgres`);
    expect(sh("docker", ["inspect", "--format", "{{.State.Status}}", `${PREFIX}postgres`]).stdout.trim()).toBe("running");

    const down = await timed("npm run destroy --including-data (a restore copy present)", () => npmScript("destroy", "--including-data"));
    expect(down.code, down.out).toBe(0);
    expect(down.stderr).toContain(`removed ${inOutage} (container and volume)`);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
