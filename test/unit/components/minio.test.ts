import { describe, expect, it } from "vitest";
import { checkMinioArgs, type MinioArgs } from "../../../components/minio";
import type { EngineFeatures } from "../../../model/containers";
import { MiB } from "../../../model/size";

const engine: EngineFeatures = { healthcheckStartInterval: false };
const minioArgs: MinioArgs = {
  stack: "dev",
  image: "kryonix/minio:x",
  network: "kryonix-dev-net",
  memoryBytes: 512 * MiB,
  engine,
  apiPort: 19000,
  consolePort: 19001,
  tlsCertificate: "cert",
  tlsKey: "key",
  caCertificate: "ca",
  protectData: false,
  rootUser: "u",
  rootPassword: "p",
  bucket: "kryonix-backups",
  pgbackrest: { secretKey: "s", repoPath: "/pgbackrest" },
  drill: { secretKey: "d" },
};

describe("Minio arguments", () => {
  it("accept the defaults", () => {
    expect(() => checkMinioArgs(minioArgs)).not.toThrow();
  });

  it("Minio: clashing ports and a missing certificate", () => {
    expect(() => checkMinioArgs({ ...minioArgs, consolePort: 19000 })).toThrow(/Minio consolePort: 19000 is invalid: a port other than apiPort/);
    expect(() => checkMinioArgs({ ...minioArgs, tlsKey: "" })).toThrow(/Minio tlsKey/);
  });
});
