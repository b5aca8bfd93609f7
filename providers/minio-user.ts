import * as pulumi from "@pulumi/pulumi";
import { invalid } from "../model/messages";
import { cliError, runMc as runMcCli } from "../io/docker-cli";
import { knownFailures } from "../model/unknown";

/**
 * A MinIO user with one policy of its own (a dynamic resource), for a service that must not hold
 * MinIO's root credentials: pgBackRest gets a user whose policy covers only its repository path.
 *
 * MinIO's user and policy API is its admin API (signed, with the request bodies encrypted with the
 * root secret), which the `minio` npm client does not speak; `mc`, built by the toolchain and on
 * the PATH of every Pulumi command the scripts run, does. The provider runs it on the host against
 * MinIO's published port on 127.0.0.1, trusting only the stack CA (SSL_CERT_FILE), with the root
 * credentials in mc's MC_HOST_<alias> environment variable and the new user's keys on its stdin:
 * no credential on a command line (`ps`) or in a file. mc's config folder is a temporary one.
 *
 * create/update: the policy is created (or replaced), the user added (or its secret key set
 * again), the policy attached. read: the user, its status and whether exactly our policy is attached;
 * a user that is gone reads as gone (a refresh drops it, the next up makes it again); a policy
 * detached or a disabled user shows as a change. delete: the user and the policy removed. The
 * stack makes it `deletedWith` MinIO's volume, like the bucket: a destroy that keeps the data keeps
 * the user too.
 */
export interface MinioUserInputs {
  /** `https://127.0.0.1:<published api port>`. */
  endpoint: string;
  /** The stack CA (PEM): the only one trusted. */
  caCertificatePem: string;
  /** MinIO's root credentials (secrets): only they may manage users. */
  adminAccessKey: string;
  adminSecretKey: string;
  /** The user's access key (its name) and secret key (a secret). */
  accessKey: string;
  secretKey: string;
  policyName: string;
  /** The policy document, JSON text. */
  policy: string;
}

export interface MinioUserOutputs extends MinioUserInputs {
  /** As last read: "enabled", "disabled" or "" (not found). */
  userStatus: string;
  /** As last read: whether the user's policies are exactly `policyName`. */
  policyAttached: boolean;
}

/** Runs `mc <args>` with this environment and stdin; resolves its exit code and output. Injected by tests. */
export type McRun = (args: string[], env: Record<string, string>, input?: string) => { code: number; out: string };

/** What is wrong with the inputs, as check failures; a value not known yet is not judged, and no credential is shown. Pure. */
export function minioUserInputProblems(inputs: Partial<MinioUserInputs>): { property: string; reason: string }[] {
  const failures: { property: string; reason: string }[] = [];
  const report = (property: string, reason: string) => failures.push({ property, reason });
  let url: URL | undefined;
  try {
    url = new URL(String(inputs.endpoint));
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== "https:" || url.pathname !== "/" || url.username || url.password) {
    report("endpoint", invalid("MinioUser endpoint", inputs.endpoint, "an https://host:port URL without a path"));
  }
  if (typeof inputs.caCertificatePem !== "string" || !inputs.caCertificatePem.includes("-----BEGIN CERTIFICATE-----")) {
    report("caCertificatePem", "MinioUser caCertificatePem: a PEM certificate is required");
  }
  for (const key of ["adminAccessKey", "adminSecretKey"] as const) {
    if (typeof inputs[key] !== "string" || inputs[key] === "") report(key, `MinioUser ${key}: required`);
  }
  // MinIO: access keys of 3 to 128 characters and secret keys of 8 to 40.
  if (typeof inputs.accessKey !== "string" || !/^[A-Za-z0-9._-]{3,128}$/.test(inputs.accessKey)) {
    report("accessKey", invalid("MinioUser accessKey", inputs.accessKey, "3 to 128 characters of letters, digits, '.', '_' and '-'"));
  }
  if (typeof inputs.secretKey !== "string" || !/^[A-Za-z0-9]{8,40}$/.test(inputs.secretKey)) {
    report("secretKey", "MinioUser secretKey: 8 to 40 letters and digits required (value not shown)");
  }
  if (typeof inputs.policyName !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(inputs.policyName)) {
    report("policyName", invalid("MinioUser policyName", inputs.policyName, "letters, digits, '_' and '-'"));
  }
  try {
    const doc = JSON.parse(String(inputs.policy));
    if (!Array.isArray(doc?.Statement) || doc.Statement.length === 0) throw new Error("no Statement");
  } catch {
    report("policy", invalid("MinioUser policy", inputs.policy, "an IAM policy document (JSON with a Statement list)"));
  }
  return knownFailures(inputs, failures);
}

/** `mc` from the PATH (io/docker-cli.ts), with `env` added to ours. */
export const runMc: McRun = (args, env, input) => runMcCli(args, { env: { ...process.env, ...env }, input });

/** The dynamic provider; `mc` defaults to the mc binary on the PATH. */
export function makeMinioUserProvider(mc: McRun = runMc): pulumi.dynamic.ResourceProvider {
  /** Runs fn with a temporary mc config folder, the CA file and the policy file; the folder is removed after. */
  function withMc<T>(inputs: MinioUserInputs, fn: (run: (args: string[], input?: string) => { code: number; out: string; args: string[] }, policyFile: string) => T): T {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs: typeof import("node:fs") = require("node:fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const os: typeof import("node:os") = require("node:os");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path: typeof import("node:path") = require("node:path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kryonix-mc-"));
    try {
      const ca = path.join(dir, "ca.crt");
      const policyFile = path.join(dir, "policy.json");
      fs.writeFileSync(ca, inputs.caCertificatePem, { mode: 0o600 });
      fs.writeFileSync(policyFile, inputs.policy, { mode: 0o600 });
      const url = new URL(inputs.endpoint);
      const env = {
        MC_HOST_kx: `https://${encodeURIComponent(inputs.adminAccessKey)}:${encodeURIComponent(inputs.adminSecretKey)}@${url.host}`,
        SSL_CERT_FILE: ca,
        MC_CONFIG_DIR: path.join(dir, "mc"),
        MC_NO_COLOR: "1",
      };
      const secrets = [inputs.adminAccessKey, inputs.adminSecretKey, inputs.secretKey].filter((s) => typeof s === "string" && s.length > 0);
      const run = (args: string[], input?: string) => {
        const r = mc(args, env, input);
        let out = r.out;
        for (const s of secrets) out = out.split(s).join("[secret]");
        return { code: r.code, out, args };
      };
      return fn(run, policyFile);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  function must(r: { code: number; out: string; args?: string[] }, what: string, inputs: MinioUserInputs): string {
    if (r.code !== 0) throw new Error(`MinIO user ${inputs.accessKey} at ${inputs.endpoint}: ${what} failed: ${cliError("mc", r.args ?? [], r)}`);
    return r.out;
  }

  /** `mc admin user info --json`, or undefined when the user does not exist. */
  function info(run: (args: string[]) => { code: number; out: string; args: string[] }, inputs: MinioUserInputs): { userStatus: string; policies: string[] } | undefined {
    const r = run(["admin", "user", "info", "kx", inputs.accessKey, "--json"]);
    const parsed = (() => {
      try {
        return JSON.parse(r.out.trim().split("\n").pop() ?? "");
      } catch {
        return undefined;
      }
    })();
    if (r.code !== 0 || parsed?.status !== "success") {
      if (/does not exist|XMinioAdminNoSuchUser|not found/i.test(r.out)) return undefined;
      must({ ...r, code: r.code || 1 }, "user info", inputs);
    }
    const policies = String(parsed.policyName ?? "").split(",").map((p: string) => p.trim()).filter(Boolean);
    return { userStatus: String(parsed.userStatus ?? ""), policies };
  }

  function outputs(inputs: MinioUserInputs, found: { userStatus: string; policies: string[] } | undefined): MinioUserOutputs {
    return {
      ...inputs,
      userStatus: found?.userStatus ?? "",
      policyAttached: !!found && found.policies.length === 1 && found.policies[0] === inputs.policyName,
    };
  }

  function ensure(inputs: MinioUserInputs): MinioUserOutputs {
    return withMc(inputs, (run, policyFile) => {
      // create replaces the document of an existing policy of that name.
      must(run(["admin", "policy", "create", "kx", inputs.policyName, policyFile]), "policy create", inputs);
      // The keys on stdin: an existing user gets this secret key and is enabled again.
      must(run(["admin", "user", "add", "kx"], `${inputs.accessKey}\n${inputs.secretKey}\n`), "user add", inputs);
      let found = info(run, inputs);
      for (const other of found?.policies.filter((p) => p !== inputs.policyName) ?? []) {
        must(run(["admin", "policy", "detach", "kx", other, "--user", inputs.accessKey]), `policy detach ${other}`, inputs);
      }
      if (!found?.policies.includes(inputs.policyName)) {
        must(run(["admin", "policy", "attach", "kx", inputs.policyName, "--user", inputs.accessKey]), "policy attach", inputs);
      }
      if (found?.userStatus === "disabled") must(run(["admin", "user", "enable", "kx", inputs.accessKey]), "user enable", inputs);
      found = info(run, inputs);
      return outputs(inputs, found);
    });
  }

  return {
    async check(_olds: MinioUserInputs, news: MinioUserInputs) {
      return { inputs: news, failures: minioUserInputProblems(news) };
    },
    async diff(_id: string, olds: MinioUserOutputs, news: MinioUserInputs) {
      const replaces = olds.accessKey !== news.accessKey ? ["accessKey"] : [];
      const changed = (["endpoint", "caCertificatePem", "adminAccessKey", "adminSecretKey", "secretKey", "policyName", "policy"] as const).filter((k) => olds[k] !== news[k]);
      // Drift a refresh found: the user disabled or its policies changed behind our back.
      const drift = olds.userStatus !== "enabled" || !olds.policyAttached;
      return { changes: replaces.length + changed.length > 0 || drift, replaces, deleteBeforeReplace: true };
    },
    async create(inputs: MinioUserInputs) {
      return { id: inputs.accessKey, outs: ensure(inputs) };
    },
    async update(_id: string, _olds: MinioUserOutputs, news: MinioUserInputs) {
      return { outs: ensure(news) };
    },
    async read(id: string, props: MinioUserOutputs) {
      const found = withMc(props, (run) => info(run, props));
      if (!found) return { id: "", props: {} };
      return { id, props: outputs(props, found) };
    },
    async delete(_id: string, props: MinioUserOutputs) {
      withMc(props, (run) => {
        const r = run(["admin", "user", "remove", "kx", props.accessKey]);
        if (r.code !== 0 && !/does not exist|XMinioAdminNoSuchUser|not found/i.test(r.out)) must(r, "user remove", props);
        const p = run(["admin", "policy", "remove", "kx", props.policyName]);
        if (p.code !== 0 && !/does not exist|XMinioAdminNoSuchPolicy|not found/i.test(p.out)) must(p, "policy remove", props);
      });
    },
  };
}

const minioUserProvider = makeMinioUserProvider();

export type MinioUserArgs = { [K in keyof MinioUserInputs]: pulumi.Input<MinioUserInputs[K]> };

/** See makeMinioUserProvider. Every key is a secret in the inputs and in the state, except the access key. */
export class MinioUser extends pulumi.dynamic.Resource {
  declare public readonly accessKey: pulumi.Output<string>;
  declare public readonly secretKey: pulumi.Output<string>;
  declare public readonly policyAttached: pulumi.Output<boolean>;

  constructor(name: string, args: MinioUserArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      minioUserProvider,
      name,
      {
        ...args,
        adminAccessKey: pulumi.secret(args.adminAccessKey),
        adminSecretKey: pulumi.secret(args.adminSecretKey),
        secretKey: pulumi.secret(args.secretKey),
        userStatus: undefined,
        policyAttached: undefined,
      },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "adminAccessKey", "adminSecretKey", "secretKey"] },
      "kryonix",
      "MinioUser",
    );
  }
}
