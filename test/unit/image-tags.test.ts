import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseImageTags, readImageTags } from "../../toolchain/image-tags";

const TAGS = {
  postgres: "kryonix/postgres:3f2a9c1b",
  pgbouncer: "kryonix/pgbouncer:3f2a9c1b",
  pgadmin: "kryonix/pgadmin:77aa",
  minio: "kryonix/minio:1",
  proxy: "kryonix/proxy:2",
  prometheus: "kryonix/prometheus:3",
  "postgres-exporter": "kryonix/postgres-exporter:4",
  "pgbouncer-exporter": "kryonix/pgbouncer-exporter:5",
};

const dirs: string[] = [];
function statusFile(content: string | undefined): string {
  const dir = mkdtempSync(path.join(tmpdir(), "kryonix-images-"));
  dirs.push(dir);
  const file = path.join(dir, "toolchain-status.json");
  if (content !== undefined) writeFileSync(file, content);
  return file;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("readImageTags", () => {
  it("reads the tags the toolchain recorded", () => {
    expect(readImageTags(statusFile(JSON.stringify({ pulumi: "/x", images: TAGS })))).toEqual(TAGS);
  });

  it("tells the operator to run the toolchain when the file is missing", () => {
    const file = statusFile(undefined);
    expect(() => readImageTags(file)).toThrow(`no images built yet (${file} is missing): run \`npm run toolchain\` to build them`);
  });

  it("... or has no images, or is not JSON", () => {
    expect(() => readImageTags(statusFile("{}"))).toThrow(/records no built images .*npm run toolchain/);
    expect(() => readImageTags(statusFile("{"))).toThrow(/is not valid JSON .*npm run toolchain/);
  });

  it("names every missing or foreign tag", () => {
    const bad = { ...TAGS, pgadmin: undefined, minio: "docker.io/minio/minio:latest", pgbouncer: "kryonix/postgres:1" };
    expect(() => parseImageTags(bad, "status.json")).toThrow(
      'status.json does not list every image the stack needs (images.pgbouncer: "kryonix/postgres:1" is invalid: a local tag kryonix/pgbouncer:<hash>; ' +
        "images.pgadmin is missing; " +
        'images.minio: "docker.io/minio/minio:latest" is invalid: a local tag kryonix/minio:<hash>): run `npm run toolchain` to build them',
    );
  });
});
