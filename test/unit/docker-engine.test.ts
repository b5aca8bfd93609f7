import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROVIDER_DEFAULT_HOST, adoptExistingCluster, dockerConfigProblems, pinnedDockerEnv, probeKeptCluster, probeRunArgs, viewEngine } from "../../io/docker-engine";
import { renderProbeScript } from "../../checks/kept-cluster";
import { installFakeDocker, probeAnswer, type FakeDocker } from "../support/fake-docker";

describe("adoptExistingCluster", () => {
  it.each([
    [true, false, true],
    [true, true, false],
    [false, false, false],
    [false, true, false],
  ])("volume %s, container %s: adopt %s", (postgresVolume, postgresContainer, adopt) => {
    expect(adoptExistingCluster({ postgresVolume, postgresContainer })).toBe(adopt);
  });
});

// Against a fake `docker` first on PATH: never the real engine.
let docker: FakeDocker;
beforeAll(() => {
  docker = installFakeDocker();
});
afterAll(() => docker.restore());

describe("viewEngine", () => {
  it("asks the engine's API version and looks for the stack's postgres volume and container, by name", () => {
    docker.set({ apiVersion: "1.41" });
    expect(viewEngine("dev")).toEqual({
      apiVersion: "1.41",
      features: { healthcheckStartInterval: false },
      postgresVolume: false,
      postgresContainer: false,
      clusterVolume: false,
    });
    expect(docker.calls()).toEqual([
      "version --format {{.Server.APIVersion}}",
      "volume inspect kryonix-dev-postgres",
      "container inspect kryonix-dev-postgres",
      "volume inspect kryonix-dev-postgres-1",
    ]);
  });

  it("sees a newer engine's features", () => {
    docker.set({ apiVersion: "1.44" });
    expect(viewEngine("prod").features).toEqual({ healthcheckStartInterval: true });
  });

  it("finds a volume that outlived its container (a destroy that kept the data): adopt", () => {
    docker.set({ apiVersion: "1.41", volumes: ["kryonix-dev-postgres"] });
    const view = viewEngine("dev");
    expect(view).toMatchObject({ postgresVolume: true, postgresContainer: false });
    expect(adoptExistingCluster(view)).toBe(true);
  });

  it("does not adopt while the container is still there, nor for another stack's volume", () => {
    docker.set({ apiVersion: "1.41", volumes: ["kryonix-dev-postgres"], containers: ["kryonix-dev-postgres"] });
    expect(adoptExistingCluster(viewEngine("dev"))).toBe(false);
    docker.set({ apiVersion: "1.41", volumes: ["kryonix-prod-postgres", "kryonix-dev-minio"] });
    expect(viewEngine("dev")).toMatchObject({ postgresVolume: false, postgresContainer: false });
  });

  it("fails, saying what to do, when the engine does not answer", () => {
    docker.set({ apiVersion: "" });
    expect(() => viewEngine("dev")).toThrow(/the Docker engine does not answer .*npm run toolchain/);
    docker.set({ apiVersion: "Cannot connect to the Docker daemon" });
    expect(() => viewEngine("dev")).toThrow(/Cannot connect to the Docker daemon/);
  });

  it("rejects an invalid stack name before asking about volumes", () => {
    docker.set({ apiVersion: "1.41" });
    expect(() => viewEngine("Dev!")).toThrow(/Pulumi stack name/);
    expect(docker.calls().filter((c) => c.includes("inspect"))).toEqual([]);
  });
});

describe("pinnedDockerEnv", () => {
  const inner = "unix:///run/kryonix-dind13/docker.sock";
  it("writes the CLI's endpoint into DOCKER_HOST and drops DOCKER_CONTEXT, which the provider would prefer", () => {
    const env = pinnedDockerEnv({ DOCKER_CONTEXT: "other", PATH: "/bin" }, inner);
    expect(env).toEqual({ DOCKER_HOST: inner, PATH: "/bin" });
  });
  it("falls back to DOCKER_HOST, then to the provider's default socket", () => {
    expect(pinnedDockerEnv({ DOCKER_HOST: inner }, undefined).DOCKER_HOST).toBe(inner);
    expect(pinnedDockerEnv({}, undefined).DOCKER_HOST).toBe(PROVIDER_DEFAULT_HOST);
  });
});

describe("dockerConfigProblems", () => {
  const inner = "unix:///run/kryonix-dind13/docker.sock";
  it("accepts no docker:* settings, or a docker:host equal to DOCKER_HOST", () => {
    expect(dockerConfigProblems({}, {})).toEqual([]);
    expect(dockerConfigProblems({ host: inner }, { DOCKER_HOST: inner })).toEqual([]);
    expect(dockerConfigProblems({ host: PROVIDER_DEFAULT_HOST }, {})).toEqual([]);
  });
  it("refuses a docker:host the CLI does not use, and any docker:context", () => {
    expect(dockerConfigProblems({ host: inner }, {})).toEqual([expect.stringContaining(`set DOCKER_HOST=${inner} instead`)]);
    expect(dockerConfigProblems({ context: "dind" }, { DOCKER_HOST: inner })).toEqual([expect.stringContaining("docker:context")]);
  });
});

describe("probeRunArgs", () => {
  const args = probeRunArgs("kryonix-dev-postgres", "kryonix/postgres:abc", "kryonix-dev-postgres-probe-7");

  it("runs the stack's postgres image, never pulled, removed on exit, with no network", () => {
    expect(args.slice(0, 8)).toEqual(["run", "--rm", "--pull", "never", "--name", "kryonix-dev-postgres-probe-7", "--network", "none"]);
    expect(args.slice(-5)).toEqual(["--entrypoint", "bash", "kryonix/postgres:abc", "-c", renderProbeScript()]);
  });

  it("mounts the volume read-only, keeps no capability beyond copying and dropping to postgres, and publishes nothing", () => {
    const flags = args.slice(0, -5);
    expect(flags[flags.indexOf("--mount") + 1]).toBe("type=volume,source=kryonix-dev-postgres,target=/kept,readonly");
    expect(flags.filter((a) => a === "--mount")).toHaveLength(1);
    expect(flags[flags.indexOf("--cap-drop") + 1]).toBe("ALL");
    expect(flags.filter((_, i) => flags[i - 1] === "--cap-add").sort()).toEqual(["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "SETGID", "SETUID"]);
    expect(flags).toContain("no-new-privileges");
    for (const f of ["-v", "--volume", "-p", "--publish", "--privileged", "-e", "--env"]) expect(flags, f).not.toContain(f);
  });
});

describe("probeKeptCluster", () => {
  it("returns what the probe found in the stack's volume", () => {
    docker.set({ apiVersion: "1.41", probe: probeAnswer(["postgres", "kryonix_app"], ["kryonix_saas"]) });
    expect(probeKeptCluster("dev", "kryonix/postgres:abc")).toEqual({ copy: "clean", roles: ["kryonix_app", "postgres"], databases: ["kryonix_saas"] });
    expect(docker.calls()).toHaveLength(1);
    expect(docker.calls()[0]).toMatch(/^run --rm --pull never --name kryonix-dev-postgres-probe-\d+ .* kryonix\/postgres:abc -c \.\.\.$/);
  });

  it("fails naming the volume, the image and docker's last words, and removes the container", () => {
    docker.set({ apiVersion: "1.41", probe: { stdout: "", stderr: "FATAL:  database files are incompatible with server", code: 4 } });
    expect(() => probeKeptCluster("dev", "kryonix/postgres:abc")).toThrow(
      /cannot tell which roles the cluster in the kept volume kryonix-dev-postgres holds, so which to import and which to create \(a container of kryonix\/postgres:abc on the volume, read-only\): FATAL: {2}database files are incompatible/,
    );
    expect(docker.calls()[1]).toMatch(/^rm -f kryonix-dev-postgres-probe-\d+$/);
  });

  it("fails when the probe exits 0 without an answer", () => {
    docker.set({ apiVersion: "1.41", probe: { stdout: "hello\n" } });
    expect(() => probeKeptCluster("dev", "kryonix/postgres:abc")).toThrow(/the probe printed no answer/);
  });
});
