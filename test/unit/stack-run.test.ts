import { describe, expect, it } from "vitest";
import { connectionTargetFrom, dockerUrns, exportedResources } from "../../ops/stack-run";

/** `pulumi stack export` output, as much of it as the scripts read. */
function exported(resources: unknown[]) {
  return { version: 3, deployment: { manifest: {}, resources } };
}

const urn = (qualifiedType: string, name: string) => `urn:pulumi:dev::kryonix-db::${qualifiedType}::${name}`;
const STACK = { urn: "urn:pulumi:dev::kryonix-db::pulumi:pulumi:Stack::kryonix-db-dev", type: "pulumi:pulumi:Stack" };
const NETWORK = { urn: urn("kryonix:db:Network$docker:index/network:Network", "network"), type: "docker:index/network:Network" };
const VOLUME = { urn: urn("kryonix:db:Postgres$docker:index/volume:Volume", "postgres-data"), type: "docker:index/volume:Volume" };
const CONTAINER = { urn: urn("kryonix:db:Postgres$docker:index/container:Container", "postgres"), type: "docker:index/container:Container" };
const IMAGE = { urn: urn("kryonix:db:Postgres$docker:index/remoteImage:RemoteImage", "postgres-image"), type: "docker:index/remoteImage:RemoteImage" };
const DOCKER_PROVIDER = { urn: urn("pulumi:providers:docker", "default_5_0_0"), type: "pulumi:providers:docker" };
const ROLE = { urn: urn("kryonix:db:Database$postgresql:index/role:Role", "database-kryonix_app"), type: "postgresql:index/role:Role" };
const COMPONENT = { urn: urn("kryonix:db:Postgres", "postgres"), type: "kryonix:db:Postgres" };
const PASSWORD = { urn: urn("kryonix:db:Secrets$random:index/randomPassword:RandomPassword", "secrets-postgres-superuser"), type: "random:index/randomPassword:RandomPassword" };

describe("exportedResources", () => {
  it("reads the resources of an export, skipping entries without a URN", () => {
    expect(exportedResources(exported([STACK, { type: "x" }, null, VOLUME]))).toEqual([STACK, VOLUME]);
  });

  it("treats a stack never deployed, or an unreadable export, as empty", () => {
    for (const bad of [undefined, null, "x", {}, { deployment: {} }, { deployment: { resources: "x" } }, exported([])]) {
      expect(exportedResources(bad)).toEqual([]);
    }
  });
});

describe("dockerUrns", () => {
  it("lists the containers, networks, volumes and images, in the export's order", () => {
    const state = exported([STACK, DOCKER_PROVIDER, COMPONENT, NETWORK, PASSWORD, VOLUME, IMAGE, CONTAINER, ROLE]);
    expect(dockerUrns(state)).toEqual([NETWORK.urn, VOLUME.urn, IMAGE.urn, CONTAINER.urn]);
  });

  it("leaves out the docker provider, the database objects and the components", () => {
    const urns = dockerUrns(exported([STACK, DOCKER_PROVIDER, COMPONENT, ROLE, PASSWORD]));
    expect(urns).toEqual([]);
  });

  it("is empty for a stack never deployed", () => {
    expect(dockerUrns(exported([]))).toEqual([]);
    expect(dockerUrns({})).toEqual([]);
    expect(dockerUrns(undefined)).toEqual([]);
  });
});

describe("connectionTargetFrom", () => {
  // `pulumi stack output --json --show-secrets` of a deployed stack (index.ts's exports).
  const outputs = {
    endpoints: {
      postgres: { host: "127.0.0.1", port: 15432, database: "kryonix_saas" },
      pgbouncer: { host: "127.0.0.1", port: 16432, database: "kryonix_saas" },
      pgadmin: { host: "127.0.0.1", port: 15050, url: "http://127.0.0.1:15050", email: "admin@kryonix.com.br" },
      minio: { host: "127.0.0.1", port: 19000, url: "https://127.0.0.1:19000", consoleUrl: "https://127.0.0.1:19001", bucket: "kryonix-backups" },
    },
    dockerNetwork: "kryonix-dev-net",
    caCertificate: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    appliedMigrations: ["001_schemas.sql"],
    credentials: {
      postgres: { user: "postgres", password: "superuser-pw" },
      pgadmin: { email: "admin@kryonix.com.br", password: "pgadmin-pw" },
      minio: { accessKey: "minio-user", secretKey: "minio-pw" },
      roles: { kryonix_migrator: "m-pw", kryonix_app: "a-pw", metabase_readonly: "r-pw", kryonix_monitor: "mo-pw", kryonix_pgbouncer: "b-pw" },
    },
  };

  it("takes the endpoints, the superuser, the roles' passwords and the CA, nothing else", () => {
    expect(connectionTargetFrom("dev", outputs)).toEqual({
      stack: "dev",
      postgres: { host: "127.0.0.1", port: 15432, database: "kryonix_saas" },
      pgbouncer: { host: "127.0.0.1", port: 16432, database: "kryonix_saas" },
      superuser: { user: "postgres", password: "superuser-pw" },
      roles: outputs.credentials.roles,
      caCertificate: outputs.caCertificate,
      pgbouncerLeg: "socket",
    });
    // ha: PgBouncer reaches the leader over TLS through HAProxy.
    expect(connectionTargetFrom("dev", { ...outputs, cluster: { topology: "ha" } }).pgbouncerLeg).toBe("tls");
  });

  it("carries no pgAdmin or MinIO credential", () => {
    const text = JSON.stringify(connectionTargetFrom("prod", outputs));
    for (const other of ["pgadmin-pw", "minio-user", "minio-pw"]) expect(text).not.toContain(other);
    expect(connectionTargetFrom("prod", outputs).stack).toBe("prod");
  });
});
