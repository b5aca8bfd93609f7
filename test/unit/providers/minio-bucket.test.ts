import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { NONCURRENT_RULE_ID, type LifecycleRule } from "../../../model/minio-policy";
import {
  BACKUP_BUCKET,
  bucketNameProblems,
  makeMinioBucketProvider,
  minioBucketInputProblems,
  type BucketClient,
  type MinioBucketInputs,
  type MinioBucketOutputs,
} from "../../../providers/minio-bucket";
import { UNKNOWN_VALUE } from "../../../model/unknown";

/** An in-memory MinIO: buckets with a versioning status and a number of object versions. */
function fakeMinio() {
  const buckets = new Map<string, { status: string; versions: number; lifecycle?: { Rule: LifecycleRule[] } }>();
  const calls: string[] = [];
  const client: BucketClient = {
    async bucketExists(b) {
      calls.push(`bucketExists ${b}`);
      return buckets.has(b);
    },
    async makeBucket(b) {
      calls.push(`makeBucket ${b}`);
      if (buckets.has(b)) throw Object.assign(new Error("exists"), { code: "BucketAlreadyOwnedByYou" });
      buckets.set(b, { status: "", versions: 0 });
    },
    async getBucketVersioning(b) {
      return buckets.get(b)!.status ? { Status: buckets.get(b)!.status } : {};
    },
    async setBucketVersioning(b, config) {
      calls.push(`setBucketVersioning ${b} ${config.Status}`);
      buckets.get(b)!.status = config.Status;
    },
    async listObjectsQuery(b, _p, _m, opts) {
      expect(opts.IncludeVersion).toBe(true);
      return { objects: Array.from({ length: Math.min(buckets.get(b)!.versions, opts.MaxKeys) }, (_, i) => ({ name: `o${i}` })) };
    },
    async getBucketLifecycle(b) {
      const lifecycle = buckets.get(b)!.lifecycle;
      if (!lifecycle) throw Object.assign(new Error("none"), { code: "NoSuchLifecycleConfiguration" });
      return lifecycle;
    },
    async setBucketLifecycle(b, config) {
      calls.push(`setBucketLifecycle ${b}`);
      buckets.get(b)!.lifecycle = config;
    },
    async removeBucket(b) {
      calls.push(`removeBucket ${b}`);
      if (buckets.get(b)!.versions > 0) throw Object.assign(new Error("not empty"), { code: "BucketNotEmpty" });
      buckets.delete(b);
    },
  };
  return { buckets, calls, client };
}

describe("MinioBucket provider", () => {
  const inputs: MinioBucketInputs = {
    endpoint: "https://127.0.0.1:19000",
    caCertificatePem: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    accessKey: "access-key-0123",
    secretKey: "secret-key-4567",
    bucket: BACKUP_BUCKET,
    versioning: true,
  };

  it("creates the bucket with versioning Enabled, and a second create is a no-op", async () => {
    const s3 = fakeMinio();
    const provider = makeMinioBucketProvider(() => s3.client);
    const first = await provider.create!(inputs);
    expect(first.id).toBe(BACKUP_BUCKET);
    expect(first.outs).toEqual({ ...inputs, versioningStatus: "Enabled" });
    expect(s3.calls).toEqual([`bucketExists ${BACKUP_BUCKET}`, `makeBucket ${BACKUP_BUCKET}`, `setBucketVersioning ${BACKUP_BUCKET} Enabled`]);
    s3.calls.length = 0;
    expect((await provider.create!(inputs)).outs.versioningStatus).toBe("Enabled");
    expect(s3.calls).toEqual([`bucketExists ${BACKUP_BUCKET}`]);
  });

  it("reads drift: versioning suspended behind its back is a change, a missing bucket reads as gone", async () => {
    const s3 = fakeMinio();
    const provider = makeMinioBucketProvider(() => s3.client);
    const { outs } = await provider.create!(inputs);
    expect((await provider.read!(BACKUP_BUCKET, outs)).props).toEqual(outs);
    expect((await provider.diff!(BACKUP_BUCKET, outs, inputs)).changes).toBe(false);
    s3.buckets.get(BACKUP_BUCKET)!.status = "Suspended";
    const read = await provider.read!(BACKUP_BUCKET, outs);
    expect(read.props.versioningStatus).toBe("Suspended");
    const diff = await provider.diff!(BACKUP_BUCKET, read.props as MinioBucketOutputs, inputs);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    expect((await provider.update!(BACKUP_BUCKET, read.props as MinioBucketOutputs, inputs)).outs.versioningStatus).toBe("Enabled");
    s3.buckets.delete(BACKUP_BUCKET);
    expect((await provider.read!(BACKUP_BUCKET, outs)).id).toBe("");
  });

  it("replaces on a new name, updates in place for anything else", async () => {
    const provider = makeMinioBucketProvider(() => fakeMinio().client);
    const outs: MinioBucketOutputs = { ...inputs, versioningStatus: "Enabled" };
    expect(await provider.diff!(BACKUP_BUCKET, outs, { ...inputs, bucket: "other-bucket" })).toMatchObject({ changes: true, replaces: ["bucket"] });
    expect(await provider.diff!(BACKUP_BUCKET, outs, { ...inputs, endpoint: "https://127.0.0.1:19100" })).toMatchObject({ changes: true, replaces: [] });
    expect(await provider.diff!(BACKUP_BUCKET, outs, { ...inputs, secretKey: "rotated" })).toMatchObject({ changes: true, replaces: [] });
  });

  it("deletes an empty bucket and keeps one that holds object versions, saying why", async () => {
    const s3 = fakeMinio();
    const logged: string[] = [];
    const provider = makeMinioBucketProvider(() => s3.client, (m) => logged.push(m));
    const { outs } = await provider.create!(inputs);
    s3.buckets.get(BACKUP_BUCKET)!.versions = 2;
    await provider.delete!(BACKUP_BUCKET, outs);
    expect(s3.buckets.has(BACKUP_BUCKET)).toBe(true);
    expect(s3.calls).not.toContain(`removeBucket ${BACKUP_BUCKET}`);
    expect(logged).toEqual([expect.stringMatching(/kryonix-backups .* is not empty: left in place/)]);
    for (const line of logged) expect(line).not.toMatch(/access-key-0123|secret-key-4567/);
    s3.buckets.get(BACKUP_BUCKET)!.versions = 0;
    await provider.delete!(BACKUP_BUCKET, outs);
    expect(s3.buckets.has(BACKUP_BUCKET)).toBe(false);
    // Already gone: nothing to do.
    await provider.delete!(BACKUP_BUCKET, outs);
  });

  it("keeps a lifecycle rule that expires only noncurrent versions, and sees it changed behind its back", async () => {
    const s3 = fakeMinio();
    const provider = makeMinioBucketProvider(() => s3.client);
    const withRule = { ...inputs, noncurrentVersionDays: 7 };
    const { outs } = await provider.create!(withRule);
    expect(outs.noncurrentDays).toBe(7);
    const rules = s3.buckets.get(BACKUP_BUCKET)!.lifecycle!.Rule;
    expect(rules).toEqual([{ ID: NONCURRENT_RULE_ID, Status: "Enabled", Filter: { Prefix: "" }, NoncurrentVersionExpiration: { NoncurrentDays: 7 } }]);
    expect(rules[0]).not.toHaveProperty("Expiration");
    expect((await provider.diff!(BACKUP_BUCKET, (await provider.read!(BACKUP_BUCKET, outs)).props as MinioBucketOutputs, withRule)).changes).toBe(false);
    // Someone adds an expiration of current objects: that would fight pgBackRest's retention.
    rules[0].Expiration = { Days: 1 };
    const read = await provider.read!(BACKUP_BUCKET, outs);
    expect(read.props.noncurrentDays).toBe(0);
    expect((await provider.diff!(BACKUP_BUCKET, read.props as MinioBucketOutputs, withRule)).changes).toBe(true);
    expect((await provider.update!(BACKUP_BUCKET, read.props as MinioBucketOutputs, withRule)).outs.noncurrentDays).toBe(7);
    expect(s3.buckets.get(BACKUP_BUCKET)!.lifecycle!.Rule[0]).not.toHaveProperty("Expiration");
    // Without the input, the lifecycle is not managed (and not read).
    expect((await provider.create!(inputs)).outs).not.toHaveProperty("noncurrentDays");
  });

  it("keeps the credentials out of its errors", async () => {
    const provider = makeMinioBucketProvider(() => ({
      ...fakeMinio().client,
      bucketExists: async () => {
        throw Object.assign(new Error(`The access key access-key-0123 with secret-key-4567 is wrong`), { code: "InvalidAccessKeyId" });
      },
    }));
    const err = await provider.create!(inputs).then(() => new Error("created"), (e: Error) => e);
    expect(err.message).toBe(
      "MinIO bucket kryonix-backups at https://127.0.0.1:19000: bucketExists failed: InvalidAccessKeyId: The access key [secret] with [secret] is wrong",
    );
  });

  it("checks its inputs without echoing a credential", async () => {
    expect(minioBucketInputProblems(inputs)).toEqual([]);
    const failures = minioBucketInputProblems({ ...inputs, endpoint: "http://127.0.0.1:9000", caCertificatePem: "", secretKey: "", bucket: "Backups" });
    expect(failures.map((f) => f.property)).toEqual(["endpoint", "caCertificatePem", "secretKey", "bucket"]);
    expect(JSON.stringify(failures)).not.toContain("access-key-0123");
    expect(bucketNameProblems("kryonix-backups")).toEqual([]);
    expect(bucketNameProblems("ab")).toHaveLength(1);
    expect(bucketNameProblems("10.0.0.1")).toHaveLength(1);
    expect(bucketNameProblems("a..b")).toHaveLength(1);
  });

  it("does not judge a value not known yet: a preview before the CA is made passes check", async () => {
    expect(UNKNOWN_VALUE).toBe(pulumi.runtime.unknownValue);
    // The CA certificate and the credentials of a first preview.
    const preview = { ...inputs, caCertificatePem: UNKNOWN_VALUE, accessKey: UNKNOWN_VALUE, secretKey: UNKNOWN_VALUE };
    expect(minioBucketInputProblems(preview)).toEqual([]);
    expect(await makeMinioBucketProvider(() => fakeMinio().client).check!({}, preview)).toMatchObject({ failures: [] });
    expect(minioBucketInputProblems({ ...inputs, endpoint: UNKNOWN_VALUE, bucket: UNKNOWN_VALUE, versioning: UNKNOWN_VALUE as never })).toEqual([]);
    // Known values are still judged next to unknown ones.
    const failures = minioBucketInputProblems({ ...preview, endpoint: "http://127.0.0.1:9000", bucket: "Backups" });
    expect(failures.map((f) => f.property)).toEqual(["endpoint", "bucket"]);
    // A missing value is not an unknown one.
    expect(minioBucketInputProblems({ ...inputs, caCertificatePem: undefined }).map((f) => f.property)).toEqual(["caCertificatePem"]);
  });
});
