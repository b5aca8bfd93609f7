import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROVIDER_DEFAULT_HOST, adoptExistingCluster, dockerConfigProblems, pinnedDockerEnv, viewEngine } from "../../lib/docker-engine";
import { installFakeDocker, type FakeDocker } from "../support/fake-docker";

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
describe("viewEngine", () => {
  let docker: FakeDocker;
  beforeAll(() => {
    docker = installFakeDocker();
  });
  afterAll(() => docker.restore());

  it("asks the engine's API version and looks for the stack's postgres volume and container, by name", () => {
    docker.set({ apiVersion: "1.41" });
    expect(viewEngine("dev")).toEqual({
      apiVersion: "1.41",
      features: { healthcheckStartInterval: false },
      postgresVolume: false,
      postgresContainer: false,
    });
    expect(docker.calls()).toEqual([
      "version --format {{.Server.APIVersion}}",
      "volume inspect kryonix-dev-postgres",
      "container inspect kryonix-dev-postgres",
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
