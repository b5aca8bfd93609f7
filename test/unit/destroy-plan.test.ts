import { describe, expect, it } from "vitest";
import {
  dataVolumes,
  KEPT_WITH_DATA_TYPES,
  keptVolumesMessage,
  keptWithDataUrns,
  managedDataVolumes,
  planDestroy,
  presentDataVolumes,
  protectedMessage,
  protectedUrns,
  shellQuote,
} from "../../ops/destroy-plan";

const PG_URN = "urn:pulumi:prod::kryonix-db::kryonix:db:Postgres$docker:index/volume:Volume::postgres-data";
const MINIO_URN = "urn:pulumi:prod::kryonix-db::kryonix:db:Minio$docker:index/volume:Volume::minio-data";

/** `pulumi stack export` output, as much of it as the script reads. */
function exported(resources: object[]) {
  return { version: 3, deployment: { manifest: {}, resources } };
}

/** What planDestroy adds unless given: `npm run destroy` is the confirmation, and there may be no terminal. */
const UNATTENDED = ["--yes", "--non-interactive"];

describe("planDestroy", () => {
  it("destroys dev by default, keeping the data, without asking", () => {
    expect(planDestroy([])).toEqual({ stack: "dev", includingData: false, pulumiArgs: ["destroy", "--stack", "dev", ...UNATTENDED] });
  });

  it.each([
    [["--stack", "prod"]],
    [["--stack=prod"]],
    [["-s", "prod"]],
  ])("reads the stack from %j", (args) => {
    expect(planDestroy(args)).toEqual({ stack: "prod", includingData: false, pulumiArgs: ["destroy", "--stack", "prod", ...UNATTENDED] });
  });

  it("takes --including-data out of pulumi's arguments and passes the rest on", () => {
    expect(planDestroy(["--including-data", "--stack", "pr-42", "--yes", "--skip-preview"])).toEqual({
      stack: "pr-42",
      includingData: true,
      pulumiArgs: ["destroy", "--stack", "pr-42", "--non-interactive", "--yes", "--skip-preview"],
    });
  });

  it.each([
    [["--yes"], ["--non-interactive", "--yes"]],
    [["-y"], ["--non-interactive", "-y"]],
    [["--yes=true"], ["--non-interactive", "--yes=true"]],
    [["--non-interactive"], ["--yes", "--non-interactive"]],
    [["--non-interactive", "--yes"], ["--non-interactive", "--yes"]],
  ])("adds --yes and --non-interactive only when %j lacks them", (args, rest) => {
    const { pulumiArgs } = planDestroy(args);
    expect(pulumiArgs).toEqual(["destroy", "--stack", "dev", ...rest]);
    expect(pulumiArgs.filter((a) => a === "--yes" || a === "-y" || a.startsWith("--yes="))).toHaveLength(1);
    expect(pulumiArgs.filter((a) => a === "--non-interactive")).toHaveLength(1);
  });

  it.each([[["--stack"]], [["--stack", "--yes"]], [["-s"]]])("refuses %j rather than fall back to dev", (args) => {
    expect(() => planDestroy(args)).toThrow(/^npm run destroy (--stack|-s): .* is invalid: a stack name after it/);
  });

  it("refuses two stacks", () => {
    expect(() => planDestroy(["--stack", "dev", "--stack=prod"])).toThrow('npm run destroy --stack: "--stack dev, --stack=prod" is invalid: one stack per run');
  });

  it("refuses an invalid stack name", () => {
    expect(() => planDestroy(["--stack", "Prod"])).toThrow(/^Pulumi stack name: "Prod" is invalid/);
  });

  it.each(["--target=urn:x", "-t", "--exclude-protected", "--preview-only", "--target-dependents", "--exclude"])(
    "refuses --including-data with %s, which leaves part of the stack",
    (flag) => {
      expect(() => planDestroy(["--including-data", flag])).toThrow(/^npm run destroy --including-data: .* is invalid: only with a whole-stack destroy/);
      expect(planDestroy([flag]).pulumiArgs).toEqual(["destroy", "--stack", "dev", ...UNATTENDED, flag]);
    },
  );
});

describe("dataVolumes", () => {
  it("names PostgreSQL's (single, and each ha node's and etcd member's), MinIO's and Prometheus' volumes", () => {
    const members = (stack: string, kind: string) => [1, 2, 3].map((n) => `kryonix-${stack}-${kind}-${n}`);
    expect(dataVolumes("dev")).toEqual(["kryonix-dev-postgres", ...members("dev", "postgres"), ...members("dev", "etcd"), "kryonix-dev-minio", "kryonix-dev-prometheus"]);
    expect(dataVolumes("prod")).toEqual(["kryonix-prod-postgres", ...members("prod", "postgres"), ...members("prod", "etcd"), "kryonix-prod-minio", "kryonix-prod-prometheus"]);
    expect(dataVolumes("dev", "single")).toEqual(["kryonix-dev-postgres", "kryonix-dev-minio", "kryonix-dev-prometheus"]);
    expect(dataVolumes("dev", "ha")).toEqual([...members("dev", "postgres"), ...members("dev", "etcd"), "kryonix-dev-minio", "kryonix-dev-prometheus"]);
  });

  it("rejects an invalid stack name", () => {
    expect(() => dataVolumes("a b")).toThrow(/Pulumi stack name/);
  });

  it("finds them in docker volume ls output, and only them", () => {
    expect(presentDataVolumes("dev", "kryonix-dev-minio\nkryonix-prod-postgres\nkryonix-dev-postgres-old\n")).toEqual(["kryonix-dev-minio"]);
    expect(presentDataVolumes("dev", "")).toEqual([]);
  });
});

describe("reading the state", () => {
  const state = exported([
    { urn: "urn:pulumi:prod::kryonix-db::pulumi:pulumi:Stack::kryonix-db-prod", type: "pulumi:pulumi:Stack" },
    { urn: PG_URN, type: "docker:index/volume:Volume", protect: true, inputs: { name: "kryonix-prod-postgres" }, outputs: { name: "kryonix-prod-postgres" } },
    { urn: MINIO_URN, type: "docker:index/volume:Volume", protect: true, inputs: { name: "kryonix-prod-minio" } },
    { urn: "urn:pulumi:prod::kryonix-db::docker:index/network:Network::network", type: "docker:index/network:Network", protect: false, inputs: { name: "kryonix-prod-minio" } },
  ]);

  it("lists the protected resources", () => {
    expect(protectedUrns(state)).toEqual([PG_URN, MINIO_URN]);
    expect(protectedUrns(exported([]))).toEqual([]);
  });

  it("lists the data volumes still managed, by Volume resources only", () => {
    expect(managedDataVolumes(state, "prod")).toEqual(["kryonix-prod-postgres", "kryonix-prod-minio"]);
    expect(managedDataVolumes(state, "dev")).toEqual([]);
    expect(managedDataVolumes(exported([]), "prod")).toEqual([]);
  });

  it("treats an unreadable export as an empty one", () => {
    for (const bad of [undefined, null, "x", {}, { deployment: { resources: "x" } }]) {
      expect(protectedUrns(bad)).toEqual([]);
      expect(managedDataVolumes(bad, "dev")).toEqual([]);
      expect(keptWithDataUrns(bad)).toEqual([]);
    }
  });
});

describe("keptWithDataUrns", () => {
  const STACK_URN = "urn:pulumi:dev::kryonix-db::pulumi:pulumi:Stack::kryonix-db-dev";
  const urn = (qualifiedType: string, name: string) => `urn:pulumi:dev::kryonix-db::${qualifiedType}::${name}`;
  const SECRETS = urn("kryonix:db:Secrets", "secrets");
  const PASSWORD = urn("kryonix:db:Secrets$random:index/randomPassword:RandomPassword", "secrets-postgres-superuser");
  const SALT = urn("kryonix:db:Secrets$random:index/randomBytes:RandomBytes", "secrets-kryonix_app-salt");
  const PKI = urn("kryonix:db:Pki", "pki");
  const CA_KEY = urn("kryonix:db:Pki$tls:index/privateKey:PrivateKey", "pki-ca-key");
  const CA = urn("kryonix:db:Pki$tls:index/selfSignedCert:SelfSignedCert", "pki-ca");
  const POSTGRES = urn("kryonix:db:Postgres", "postgres");
  const PG_VOLUME = urn("kryonix:db:Postgres$docker:index/volume:Volume", "postgres-data");
  const PG_CONTAINER = urn("kryonix:db:Postgres$docker:index/container:Container", "postgres");
  const RANDOM_ELSEWHERE = urn("kryonix:db:Postgres$random:index/randomPassword:RandomPassword", "postgres-other");
  const state = exported([
    { urn: STACK_URN, type: "pulumi:pulumi:Stack" },
    { urn: SECRETS, type: "kryonix:db:Secrets", parent: STACK_URN },
    { urn: PASSWORD, type: "random:index/randomPassword:RandomPassword", parent: SECRETS },
    { urn: SALT, type: "random:index/randomBytes:RandomBytes", parent: SECRETS },
    { urn: PKI, type: "kryonix:db:Pki", parent: STACK_URN },
    { urn: CA_KEY, type: "tls:index/privateKey:PrivateKey", parent: PKI },
    { urn: CA, type: "tls:index/selfSignedCert:SelfSignedCert", parent: PKI, dependencies: [CA_KEY] },
    { urn: POSTGRES, type: "kryonix:db:Postgres", parent: STACK_URN },
    { urn: PG_VOLUME, type: "docker:index/volume:Volume", parent: POSTGRES },
    // Depends on a secret but is not below a kept component: not kept.
    { urn: PG_CONTAINER, type: "docker:index/container:Container", parent: POSTGRES, dependencies: [PG_VOLUME, PASSWORD] },
    { urn: RANDOM_ELSEWHERE, type: "random:index/randomPassword:RandomPassword", parent: POSTGRES },
  ]);

  it("keeps the Secrets and Pki components", () => {
    expect(KEPT_WITH_DATA_TYPES).toEqual(["kryonix:db:Secrets", "kryonix:db:Pki"]);
  });

  it("lists the Secrets and Pki components and everything below them, nothing else", () => {
    expect(keptWithDataUrns(state).sort()).toEqual([SECRETS, PASSWORD, SALT, PKI, CA_KEY, CA].sort());
  });

  it("follows parents down more than one level", () => {
    const nested = urn("kryonix:db:Pki$kryonix:db:Inner", "pki-inner");
    const deeper = urn("kryonix:db:Pki$kryonix:db:Inner$tls:index/privateKey:PrivateKey", "pki-inner-key");
    const more = exported([
      { urn: PKI, type: "kryonix:db:Pki" },
      { urn: nested, type: "kryonix:db:Inner", parent: PKI },
      { urn: deeper, type: "tls:index/privateKey:PrivateKey", parent: nested },
    ]);
    expect(keptWithDataUrns(more)).toEqual([PKI, nested, deeper]);
  });

  it("is empty for a stack without them (never deployed, or destroyed with its data)", () => {
    expect(keptWithDataUrns(exported([]))).toEqual([]);
    expect(keptWithDataUrns(exported([{ urn: STACK_URN, type: "pulumi:pulumi:Stack" }, { urn: POSTGRES, type: "kryonix:db:Postgres", parent: STACK_URN }]))).toEqual([]);
  });
});

describe("messages", () => {
  it("name the kept volumes and the exact command that removes them", () => {
    expect(keptVolumesMessage("dev", ["kryonix-dev-postgres", "kryonix-dev-minio"])).toBe(
      [
        "[destroy] kept the data volumes of stack dev on the Docker engine (no longer in the Pulumi state): kryonix-dev-postgres, kryonix-dev-minio",
        "[destroy] and kept the stack's generated secrets and CA in its state, so that the data opens with the same keys.",
        "[destroy] a later `npm run up -- --stack dev` mounts them again and adopts the database in them. To delete them, and the data with them:",
        "[destroy]   docker volume rm kryonix-dev-postgres kryonix-dev-minio",
        "[destroy] (or `npm run destroy -- --stack dev --including-data`)",
        "",
      ].join("\n"),
    );
    expect(keptVolumesMessage("dev", [])).toBe("[destroy] stack dev has no data volume on the Docker engine; nothing was kept.\n");
  });

  it("print the unprotect commands for the user to run, never run them", () => {
    const message = protectedMessage(planDestroy(["--stack", "prod", "--including-data"]), [PG_URN, MINIO_URN]);
    expect(message).toContain(`[destroy]   npm run pulumi -- state unprotect --stack prod '${PG_URN}'\n`);
    expect(message).toContain(`[destroy]   npm run pulumi -- state unprotect --stack prod '${MINIO_URN}'\n`);
    expect(message).toContain("removed no volume");
    expect(message.trimEnd().split("\n").pop()).toBe("[destroy]   npm run destroy -- --stack prod --including-data");
    const plain = protectedMessage(planDestroy(["--stack", "prod"]), [PG_URN]);
    expect(plain.trimEnd().split("\n").pop()).toBe("[destroy]   npm run destroy -- --stack prod");
    expect(plain).not.toContain("removed no volume");
  });

  it("shellQuote leaves plain words alone and single-quotes the rest", () => {
    expect(shellQuote("kryonix-dev-postgres")).toBe("kryonix-dev-postgres");
    expect(shellQuote("a$b")).toBe("'a$b'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});
