/**
 * `npm run test:db:backup`: backups and point-in-time restore for real, on a stack of its own
 * ("bkptest": containers kryonix-bkptest-*, ports picked free on 127.0.0.1, its own file backend and
 * passphrase). `npm run up` (which creates the stanza and checks WAL archiving), preview and
 * refresh clean, a full backup with `npm run backup`, marker rows at known times with their WAL
 * archived, `npm run restore -- --target-time <between markers 2 and 3>` into a scratch container,
 * exactly markers 1 and 2 in the copy, `npm run backup:status -- --json`, `--in-place` refused,
 * then everything removed (restore container and volume too). Each step prints how long it took.
 */
import { Client } from "pg";
import { pgSsl } from "../../lib/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerLeftovers, sh, sleep, waitFor } from "../support/process";
import { openTestStack, testStackName, type TestStack } from "../support/stack";

const STACK = testStackName("bkptest");
const PREFIX = `kryonix-${STACK}-`;

let t: TestStack;
let restored: { container: string; port: number; database: string; user: string } | undefined;
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
});

afterAll(() => {
  // Best effort after a failure; the last test asserts that destroy itself leaves nothing.
  t?.dispose();
});

describe.sequential("backups and point-in-time restore, for real", () => {
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
    // Progress: pgBackRest's detail lines, one per file copied.
    expect(r.out).toMatch(/backup file \S+ \(\d+\w*, \d+(\.\d+)?%\)/);
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
    expect(restored!.container).toMatch(new RegExp(`^${PREFIX}restore-\\d{8}-\\d{6}$`));
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

  it("6. `npm run restore -- --in-place` is refused: not in phase 1", () => {
    const r = npmScript("restore", "--in-place", "--latest");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--in-place is not supported yet/);
  });

  it("7. no credential of the stack in docker inspect of the postgres container or its log", async () => {
    const o = await outputs();
    const seen = `${sh("docker", ["inspect", `${PREFIX}postgres`]).out}\n${sh("docker", ["logs", `${PREFIX}postgres`]).out}`;
    for (const secret of [o.credentials.minio.secretKey, o.credentials.minio.accessKey, o.credentials.postgres.password]) expect(seen).not.toContain(secret);
  });

  it("8. the restore copy and the stack removed: nothing with the stack's name is left", async () => {
    if (restored) {
      const rm = sh("docker", ["rm", "-f", restored.container]);
      expect(rm.code, rm.out).toBe(0);
      const vol = sh("docker", ["volume", "rm", restored.container]);
      expect(vol.code, vol.out).toBe(0);
    }
    const down = await timed("npm run destroy --including-data", () => npmScript("destroy", "--including-data"));
    expect(down.code, down.out).toBe(0);
    expect(dockerLeftovers(PREFIX)).toEqual([]);
  });
});
