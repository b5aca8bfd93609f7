import { describe, expect, it } from "vitest";
import {
  dataVolumes,
  keptVolumesMessage,
  managedDataVolumes,
  planDestroy,
  presentDataVolumes,
  protectedMessage,
  protectedUrns,
  shellQuote,
} from "../../lib/destroy-plan";

const PG_URN = "urn:pulumi:prod::kryonix-db::kryonix:db:Postgres$docker:index/volume:Volume::postgres-data";
const MINIO_URN = "urn:pulumi:prod::kryonix-db::kryonix:db:Minio$docker:index/volume:Volume::minio-data";

/** `pulumi stack export` output, as much of it as the script reads. */
function exported(resources: object[]) {
  return { version: 3, deployment: { manifest: {}, resources } };
}

describe("planDestroy", () => {
  it("destroys dev by default, keeping the data", () => {
    expect(planDestroy([])).toEqual({ stack: "dev", includingData: false, pulumiArgs: ["destroy", "--stack", "dev"] });
  });

  it.each([
    [["--stack", "prod"]],
    [["--stack=prod"]],
    [["-s", "prod"]],
  ])("reads the stack from %j", (args) => {
    expect(planDestroy(args)).toEqual({ stack: "prod", includingData: false, pulumiArgs: ["destroy", "--stack", "prod"] });
  });

  it("takes --including-data out of pulumi's arguments and passes the rest on", () => {
    expect(planDestroy(["--including-data", "--stack", "pr-42", "--yes", "--skip-preview"])).toEqual({
      stack: "pr-42",
      includingData: true,
      pulumiArgs: ["destroy", "--stack", "pr-42", "--yes", "--skip-preview"],
    });
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
      expect(planDestroy([flag]).pulumiArgs).toEqual(["destroy", "--stack", "dev", flag]);
    },
  );
});

describe("dataVolumes", () => {
  it("names PostgreSQL's and MinIO's volumes, kryonix-<stack>-<service>", () => {
    expect(dataVolumes("dev")).toEqual(["kryonix-dev-postgres", "kryonix-dev-minio"]);
    expect(dataVolumes("prod")).toEqual(["kryonix-prod-postgres", "kryonix-prod-minio"]);
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
    }
  });
});

describe("messages", () => {
  it("name the kept volumes and the exact command that removes them", () => {
    expect(keptVolumesMessage("dev", ["kryonix-dev-postgres", "kryonix-dev-minio"])).toBe(
      [
        "[destroy] kept the data volumes of stack dev on the Docker engine (no longer in the Pulumi state): kryonix-dev-postgres, kryonix-dev-minio",
        "[destroy] a later `npm run up -- --stack dev` mounts them again. To delete them, and the data with them:",
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
