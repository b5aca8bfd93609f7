import { describe, expect, it } from "vitest";
import { makeMinioUserProvider, minioUserInputProblems, type McRun, type MinioUserInputs, type MinioUserOutputs } from "../../providers/minio-user";
import {
  NONCURRENT_RULE_ID,
  PGBACKREST_MINIO_POLICY,
  PGBACKREST_MINIO_USER,
  bucketNameProblems,
  noncurrentLifecycle,
  noncurrentOnlyDays,
  pgbackrestPolicy,
} from "../../model/minio-policy";

describe("bucket names (S3 rules MinIO enforces)", () => {
  it.each(["kryonix-backups", "abc", "a.b-c", "kryonix.backups.2026", "a".repeat(63)])("accepts %s", (name) => {
    expect(bucketNameProblems(name)).toEqual([]);
  });
  it.each(["ab", "a".repeat(64), "Backups", "kryonix_backups", "-backups", "backups-", ".backups", "a..b", "a.-b", "a-.b", "10.0.0.1", "xn--abc", "sthree-abc", "abc-s3alias", "abc--ol-s3", "", 42, undefined])(
    "refuses %j, naming the setting",
    (name) => {
      const problems = bucketNameProblems(name, "kryonix:backupBucket");
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^kryonix:backupBucket: .* is invalid: 3 to 63 characters/);
    },
  );
});

describe("pgBackRest's MinIO policy", () => {
  const policy = JSON.parse(pgbackrestPolicy("kryonix-backups", "/pgbackrest"));
  it("allows listing only its prefix, and object reads, writes and deletes only under it", () => {
    expect(policy.Statement).toEqual([
      {
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: ["arn:aws:s3:::kryonix-backups"],
        Condition: { StringLike: { "s3:prefix": ["pgbackrest", "pgbackrest/*"] } },
      },
      {
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: ["arn:aws:s3:::kryonix-backups/pgbackrest/*"],
      },
    ]);
  });
  it("read only for the restore drill's user: the same listing, object reads, nothing else", () => {
    const readOnly = JSON.parse(pgbackrestPolicy("kryonix-backups", "/pgbackrest", true));
    expect(readOnly.Statement).toEqual([policy.Statement[0], { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::kryonix-backups/pgbackrest/*"] }]);
  });
  it("grants nothing on buckets themselves, other buckets, versioning, lifecycle or admin", () => {
    const actions: string[] = policy.Statement.flatMap((s: { Action: string[] }) => s.Action);
    expect(actions.some((a) => /\*|CreateBucket|DeleteBucket|Versioning|Lifecycle|admin:|PutBucketPolicy/.test(a))).toBe(false);
    expect(policy.Statement.every((s: { Effect: string }) => s.Effect === "Allow")).toBe(true);
  });
  it("is the same text every time (no perpetual diff) and refuses a bad bucket or path", () => {
    expect(pgbackrestPolicy("kryonix-backups", "/pgbackrest")).toBe(pgbackrestPolicy("kryonix-backups", "pgbackrest/"));
    expect(() => pgbackrestPolicy("Bad_Bucket", "/pgbackrest")).toThrow(/bucket: "Bad_Bucket" is invalid/);
    expect(() => pgbackrestPolicy("kryonix-backups", "/")).toThrow(/repoPath/);
  });
});

describe("the bucket's lifecycle: noncurrent versions only", () => {
  it("is one enabled rule for the whole bucket that expires noncurrent versions and nothing else", () => {
    expect(noncurrentLifecycle(7)).toEqual({ Rule: [{ ID: NONCURRENT_RULE_ID, Status: "Enabled", Filter: { Prefix: "" }, NoncurrentVersionExpiration: { NoncurrentDays: 7 } }] });
    expect(() => noncurrentLifecycle(0)).toThrow(/from 1 to 3650/);
  });
  it("reads as its days only when that is all the lifecycle does", () => {
    const ours = noncurrentLifecycle(7);
    expect(noncurrentOnlyDays(ours)).toBe(7);
    // As the minio client parses the XML: a single rule not in a list, days as text.
    expect(noncurrentOnlyDays({ Rule: { ...ours.Rule[0], NoncurrentVersionExpiration: { NoncurrentDays: "7" } } })).toBe(7);
    expect(noncurrentOnlyDays(null)).toBe(0);
    expect(noncurrentOnlyDays({ Rule: [{ ...ours.Rule[0], Expiration: { Days: 30 } }] })).toBe(0);
    expect(noncurrentOnlyDays({ Rule: [{ ...ours.Rule[0], Transition: { Days: 1, StorageClass: "X" } }] })).toBe(0);
    expect(noncurrentOnlyDays({ Rule: [{ ...ours.Rule[0], Status: "Disabled" }] })).toBe(0);
    expect(noncurrentOnlyDays({ Rule: [{ ...ours.Rule[0], Filter: { Prefix: "pgbackrest/" } }] })).toBe(0);
    expect(noncurrentOnlyDays({ Rule: [ours.Rule[0], { ID: "other", Status: "Enabled", Expiration: { Days: 1 } }] })).toBe(0);
  });
});

/** An in-memory MinIO admin API behind a fake `mc`, recording each command and its environment. */
function fakeMc() {
  const users = new Map<string, { secret: string; status: string; policies: string[] }>();
  const policies = new Map<string, string>();
  const calls: { args: string[]; env: Record<string, string>; input?: string }[] = [];
  const run: McRun = (args, env, input) => {
    calls.push({ args, env, input });
    const [, what, verb, , ...rest] = args;
    const key = `${what} ${verb}`;
    if (key === "policy create") {
      policies.set(rest[0], require("node:fs").readFileSync(rest[1], "utf8"));
      return { code: 0, out: "" };
    }
    if (key === "user add") {
      const [ak, sk] = (input ?? "").split("\n");
      const prior = users.get(ak);
      users.set(ak, { secret: sk, status: "enabled", policies: prior?.policies ?? [] });
      return { code: 0, out: "" };
    }
    if (key === "user info") {
      const u = users.get(rest[0]);
      if (!u) return { code: 1, out: `mc: <ERROR> Unable to get user info. The specified user does not exist.` };
      return { code: 0, out: JSON.stringify({ status: "success", accessKey: rest[0], policyName: u.policies.join(","), userStatus: u.status }) };
    }
    if (key === "policy attach") {
      users.get(rest[2])!.policies.push(rest[0]);
      return { code: 0, out: "" };
    }
    if (key === "policy detach") {
      const u = users.get(rest[2])!;
      u.policies = u.policies.filter((p) => p !== rest[0]);
      return { code: 0, out: "" };
    }
    if (key === "user enable") {
      users.get(rest[0])!.status = "enabled";
      return { code: 0, out: "" };
    }
    if (key === "user remove") return users.delete(rest[0]) ? { code: 0, out: "" } : { code: 1, out: "The specified user does not exist." };
    if (key === "policy remove") return policies.delete(rest[0]) ? { code: 0, out: "" } : { code: 1, out: "The canned policy does not exist." };
    return { code: 1, out: `unexpected mc ${args.join(" ")}` };
  };
  return { users, policies, calls, run };
}

describe("MinioUser provider", () => {
  const inputs: MinioUserInputs = {
    endpoint: "https://127.0.0.1:19000",
    caCertificatePem: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    adminAccessKey: "rootuser0123",
    adminSecretKey: "RootSecret4567",
    accessKey: PGBACKREST_MINIO_USER,
    secretKey: "PgbrSecret89ab",
    policyName: PGBACKREST_MINIO_POLICY,
    policy: pgbackrestPolicy("kryonix-backups", "/pgbackrest"),
  };

  it("creates the policy, the user (keys on stdin) and attaches the policy; no credential on a command line", async () => {
    const mc = fakeMc();
    const { id, outs } = await makeMinioUserProvider(mc.run).create!(inputs);
    expect(id).toBe(PGBACKREST_MINIO_USER);
    expect(outs).toEqual({ ...inputs, userStatus: "enabled", policyAttached: true });
    expect(mc.policies.get(PGBACKREST_MINIO_POLICY)).toBe(inputs.policy);
    expect(mc.users.get(PGBACKREST_MINIO_USER)).toEqual({ secret: "PgbrSecret89ab", status: "enabled", policies: [PGBACKREST_MINIO_POLICY] });
    for (const call of mc.calls) {
      expect(call.args.join(" ")).not.toMatch(/rootuser0123|RootSecret4567|PgbrSecret89ab/);
      // Root credentials only in mc's alias variable; the CA is the only one trusted.
      expect(call.env.MC_HOST_kx).toBe("https://rootuser0123:RootSecret4567@127.0.0.1:19000");
      expect(call.env.SSL_CERT_FILE).toMatch(/ca\.crt$/);
    }
    expect(mc.calls.find((c) => c.args[2] === "add")!.input).toBe(`${PGBACKREST_MINIO_USER}\nPgbrSecret89ab\n`);
  });

  it("reads drift (another policy attached, user disabled, user gone) and repairs it", async () => {
    const mc = fakeMc();
    const provider = makeMinioUserProvider(mc.run);
    const { outs } = await provider.create!(inputs);
    const clean = await provider.read!(PGBACKREST_MINIO_USER, outs as MinioUserOutputs);
    expect(clean.props).toEqual(outs);
    expect((await provider.diff!(PGBACKREST_MINIO_USER, clean.props as MinioUserOutputs, inputs)).changes).toBe(false);
    mc.users.get(PGBACKREST_MINIO_USER)!.policies.push("readwrite");
    mc.users.get(PGBACKREST_MINIO_USER)!.status = "disabled";
    const drifted = (await provider.read!(PGBACKREST_MINIO_USER, outs as MinioUserOutputs)).props as MinioUserOutputs;
    expect(drifted).toMatchObject({ policyAttached: false, userStatus: "disabled" });
    expect((await provider.diff!(PGBACKREST_MINIO_USER, drifted, inputs)).changes).toBe(true);
    expect((await provider.update!(PGBACKREST_MINIO_USER, drifted, inputs)).outs).toMatchObject({ policyAttached: true, userStatus: "enabled" });
    expect(mc.users.get(PGBACKREST_MINIO_USER)!.policies).toEqual([PGBACKREST_MINIO_POLICY]);
    mc.users.delete(PGBACKREST_MINIO_USER);
    expect((await provider.read!(PGBACKREST_MINIO_USER, outs as MinioUserOutputs)).id).toBe("");
  });

  it("updates a rotated secret key in place, replaces on a new access key, deletes user and policy", async () => {
    const mc = fakeMc();
    const provider = makeMinioUserProvider(mc.run);
    const { outs } = await provider.create!(inputs);
    expect(await provider.diff!(PGBACKREST_MINIO_USER, outs as MinioUserOutputs, { ...inputs, secretKey: "Rotated0123" })).toMatchObject({ changes: true, replaces: [] });
    expect(await provider.diff!(PGBACKREST_MINIO_USER, outs as MinioUserOutputs, { ...inputs, accessKey: "other-user" })).toMatchObject({ changes: true, replaces: ["accessKey"] });
    await provider.update!(PGBACKREST_MINIO_USER, outs as MinioUserOutputs, { ...inputs, secretKey: "Rotated0123" });
    expect(mc.users.get(PGBACKREST_MINIO_USER)!.secret).toBe("Rotated0123");
    await provider.delete!(PGBACKREST_MINIO_USER, outs as MinioUserOutputs);
    expect(mc.users.size + mc.policies.size).toBe(0);
    // Already gone: no error.
    await provider.delete!(PGBACKREST_MINIO_USER, outs as MinioUserOutputs);
  });

  it("keeps credentials out of its errors and checks its inputs", async () => {
    const leaky: McRun = () => ({ code: 1, out: "Access Denied for rootuser0123 / RootSecret4567" });
    const err = await makeMinioUserProvider(leaky).create!(inputs).then(() => new Error("created"), (e: Error) => e);
    expect(err.message).toMatch(/policy create failed: mc admin policy create kx [\s\S]*Access Denied for \[secret\] \/ \[secret\]/);
    expect(minioUserInputProblems(inputs)).toEqual([]);
    const failures = minioUserInputProblems({ ...inputs, endpoint: "http://x", secretKey: "short", policy: "{}", accessKey: "a" });
    expect(failures.map((f) => f.property)).toEqual(["endpoint", "accessKey", "secretKey", "policy"]);
    expect(JSON.stringify(failures)).not.toContain("short");
  });
});
