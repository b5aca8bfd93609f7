import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type DockerRunInput, makeTlsFilesProvider, tlsFilesChanges, tlsFilesInputProblems, type TlsFilesInputs, type TlsFilesOutputs } from "../../providers/tls-files";
import { TLS_FILES_TYPE, tlsVolumeChecks, tlsVolumeFileNames } from "../../io/tls-volume";
import { UNKNOWN_VALUE } from "../../model/unknown";
import { tlsVolumeFiles } from "../../model/tls";
import { createServer } from "node:tls";
import { digestDockerArgs, handshakeProtocol, parseSha256sum, reloadDockerArgs, reloadNeeded, tarArchive, writerDockerArgs, writerScript } from "../../render/tls-volume";
import { tlsHandshake } from "../../io/tls-probe";
import { createCertificateAuthority, issueServerCertificate } from "../support/pki";

const ca = createCertificateAuthority({ commonName: "unit CA", validityDays: 2 });
const issue = () => issueServerCertificate({ ca, commonName: "kryonix-dev-postgres", dnsNames: ["kryonix-dev-postgres"], ipAddresses: ["127.0.0.1"], validityDays: 2 });
const first = issue();
const renewed = issue();

const inputs = (cert = first): TlsFilesInputs => ({
  volume: "kryonix-dev-postgres-tls",
  image: "sha256:abc",
  owner: "postgres",
  container: "kryonix-dev-postgres",
  reload: "postgres",
  hostPort: 5432,
  certificatePem: cert.certificatePem,
  privateKeyPem: cert.privateKeyPem,
  caCertificate: ca.certificatePem,
});

describe("the TLS volume's archive", () => {
  it("is a tar that GNU tar lists and unpacks with the modes and owners given", () => {
    const files = tlsVolumeFiles({ certificatePem: "cert\n", privateKeyPem: "k".repeat(700), caCertificate: "ca\n" }, "root");
    const tar = tarArchive(files);
    expect(tar.length % 512).toBe(0);
    const list = spawnSync("tar", ["-tv", "--numeric-owner", "-f", "-"], { input: tar, encoding: "utf8" });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^-r--r--r-- 0\/0\s+5 .* server\.crt$/m);
    expect(list.stdout).toMatch(/^-rw------- 0\/0\s+700 .* server\.key$/m);
    const names = spawnSync("tar", ["-tv", "-f", "-"], { input: tar, encoding: "utf8" }).stdout;
    expect(names).toMatch(/root\/root/);
    const dir = mkdtempSync(join(os.tmpdir(), "kryonix-tar-"));
    try {
      expect(spawnSync("tar", ["-x", "-p", "-f", "-", "-C", dir], { input: tar }).status).toBe(0);
      expect(readFileSync(join(dir, "server.key"), "utf8")).toBe("k".repeat(700));
      expect(statSync(join(dir, "server.key")).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, "ca.crt"), "utf8")).toBe("ca\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the owner in the header, for the image's own user id", () => {
    const tar = tarArchive([{ name: "server.key", content: "k", mode: 0o600, owner: "postgres" }]);
    expect(tar.subarray(265, 273).toString()).toBe("postgres");
    expect(tar.subarray(257, 263).toString()).toBe("ustar\0");
  });

  it("refuses a path or an owner that is not a plain name", () => {
    expect(() => tarArchive([{ name: "../x", content: "", mode: 0o600, owner: "postgres" }])).toThrow(/bad file name/);
    expect(() => tarArchive([{ name: "x", content: "", mode: 0o600, owner: "a b" }])).toThrow(/bad owner/);
    expect(() => writerScript(["a;rm -rf /"])).toThrow(/bad file name/);
  });

  it("is written by a throw-away container with no network, the archive on stdin, staged then renamed into place", () => {
    const args = writerDockerArgs("kryonix-dev-postgres-tls", "sha256:abc", ["server.crt", "server.key"]);
    expect(args.slice(0, 6)).toEqual(["run", "--rm", "-i", "--network", "none", "--log-driver"]);
    expect(args).toContain("kryonix-dev-postgres-tls:/tls");
    const script = args[args.length - 1];
    expect(script).toContain("tar -x -p --same-owner -f - -C /tls/.incoming");
    expect(script).toMatch(/mv -f \/tls\/\.incoming\/server\.crt \/tls\/server\.crt\nmv -f \/tls\/\.incoming\/server\.key \/tls\/server\.key/);
    expect(script.indexOf("tar -x")).toBeLessThan(script.indexOf("mv -f"));
  });
});

describe("reading the volume back", () => {
  const names = ["server.crt", "ca.crt", "server.key"];
  it("hashes the files in the running container, or else in a short-lived one with the volume read-only", () => {
    const target = { container: "kryonix-dev-postgres", volume: "kryonix-dev-postgres-tls", image: "sha256:abc", dir: "/etc/kryonix/tls" };
    expect(digestDockerArgs({ ...target, running: true }, names)).toEqual(["exec", "kryonix-dev-postgres", "sha256sum", "/etc/kryonix/tls/server.crt", "/etc/kryonix/tls/ca.crt", "/etc/kryonix/tls/server.key"]);
    const off = digestDockerArgs({ ...target, running: false }, names);
    expect(off).toContain("kryonix-dev-postgres-tls:/tls:ro");
    expect(off.slice(-3)).toEqual(["/tls/server.crt", "/tls/ca.crt", "/tls/server.key"]);
  });

  it("parses sha256sum, a missing file as empty", () => {
    const a = "a".repeat(64);
    const b = "b".repeat(64);
    const out = `${a}  /etc/kryonix/tls/server.crt\nsha256sum: /etc/kryonix/tls/ca.crt: No such file or directory\n${b}  /etc/kryonix/tls/server.key\n`;
    expect(parseSha256sum(out, names)).toEqual({ "server.crt": a, "ca.crt": "", "server.key": b });
  });
});

describe("the reload", () => {
  const d = { certificate: "c", key: "k", ca: "a" };
  it("happens only when a file changed and the container runs", () => {
    expect(reloadNeeded(d, d, true)).toBe(false);
    expect(reloadNeeded(d, { ...d, certificate: "c2" }, true)).toBe(true);
    expect(reloadNeeded(d, { ...d, key: "k2" }, true)).toBe(true);
    expect(reloadNeeded(d, { ...d, ca: "a2" }, true)).toBe(true);
    expect(reloadNeeded(d, { ...d, certificate: "c2" }, false)).toBe(false);
    // First write: the container is created after it, with the files.
    expect(reloadNeeded(undefined, d, true)).toBe(false);
  });

  it("is pg_reload_conf() for PostgreSQL and SIGHUP for PgBouncer, nginx and MinIO", () => {
    expect(reloadDockerArgs("postgres", "kryonix-dev-postgres")).toEqual(["exec", "-u", "postgres", "kryonix-dev-postgres", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", "SELECT pg_reload_conf()"]);
    expect(reloadDockerArgs("pgbouncer", "kryonix-dev-pgbouncer")).toEqual(["kill", "--signal", "HUP", "kryonix-dev-pgbouncer"]);
    expect(reloadDockerArgs("nginx", "kryonix-dev-proxy")).toEqual(["kill", "--signal", "HUP", "kryonix-dev-proxy"]);
    expect(reloadDockerArgs("minio", "kryonix-dev-minio")).toEqual(["kill", "--signal", "HUP", "kryonix-dev-minio"]);
  });

  it("is seen on the wire with PostgreSQL's SSLRequest first, or TLS from the first byte (nginx, MinIO)", () => {
    expect(["postgres", "pgbouncer", "nginx", "minio"].map((m) => handshakeProtocol(m as never))).toEqual(["postgres", "postgres", "tls", "tls"]);
  });

  it("reads the certificate a TLS server serves for the SNI name asked, as the proxy's reload does", async () => {
    const server = createServer({ cert: first.certificatePem, key: first.privateKeyPem, SNICallback: (name, cb) => cb(name === "pgadmin.example.com" ? null : new Error("no such name"), undefined) });
    server.on("tlsClientError", () => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const named = await tlsHandshake(port, { servername: "pgadmin.example.com" }, "127.0.0.1", 5_000);
      expect(named.ok, named.error).toBe(true);
      expect(named.certificate?.fingerprint256).toBe(new X509Certificate(first.certificatePem).fingerprint256);
      expect((await tlsHandshake(port, { servername: "other.example.com" }, "127.0.0.1", 5_000)).ok).toBe(false);
    } finally {
      server.close();
    }
  });
});

describe("TlsFiles provider", () => {
  type Call = { args: string[]; input?: string };
  const fake = (running: boolean, served: string[]) => {
    const calls: Call[] = [];
    const docker: DockerRunInput = (args, input) => {
      calls.push({ args, input: input?.toString("latin1") });
      if (args[0] === "inspect") return { code: 0, out: running ? "true\n" : "false\n" };
      return { code: 0, out: "t\n" };
    };
    let i = 0;
    const provider = makeTlsFilesProvider({ docker, served: async () => served[Math.min(i++, served.length - 1)], sleep: async () => undefined, deadlineMs: 200 });
    return { calls, provider };
  };
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

  it("writes on create, before the container exists, and never reloads; the key is on stdin only and not an output", async () => {
    const { calls, provider } = fake(true, []);
    const { outs } = await provider.create!(inputs());
    expect(calls.map((c) => c.args[0])).toEqual(["run"]);
    expect(calls[0].input).toContain(first.privateKeyPem);
    expect(calls[0].args.join(" ")).not.toContain("PRIVATE KEY");
    expect(JSON.stringify(outs)).not.toContain("PRIVATE KEY");
    expect(outs.fingerprint).toBe(fingerprint(first.certificatePem));
  });

  it("on renewal: an update, never a replace; writes, reloads the running server and waits for the new certificate on the wire", async () => {
    const { provider: p0 } = fake(true, []);
    const olds = (await p0.create!(inputs())).outs as TlsFilesOutputs;
    const diff = await p0.diff!("id", olds, inputs(renewed));
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    expect(tlsFilesChanges(olds, inputs(renewed)).sort()).toEqual(["certificatePem", "privateKeyPem"]);
    expect(tlsFilesChanges(olds, inputs())).toEqual([]);
    // Another image (a rebuilt one) only changes the writer's tool: nothing to do.
    expect(tlsFilesChanges(olds, { ...inputs(), image: "sha256:def" })).toEqual([]);
    const { calls, provider } = fake(true, [fingerprint(first.certificatePem), fingerprint(first.certificatePem), fingerprint(renewed.certificatePem)]);
    await provider.update!("id", olds, inputs(renewed));
    expect(calls.map((c) => c.args.slice(0, 2).join(" "))).toEqual(["run --rm", "inspect -f", "exec -u"]);
  });

  it("on the proxy's renewal: SIGHUP, then the handshake asks for the proxy's public name on its HTTPS port", async () => {
    const proxy = (cert = first): TlsFilesInputs => ({ ...inputs(cert), volume: "kryonix-dev-proxy-tls", owner: "root", container: "kryonix-dev-proxy", reload: "nginx", hostPort: 15443, serverName: "pgadmin.kryonix.localhost" });
    const { provider: p0 } = fake(true, []);
    const olds = (await p0.create!(proxy())).outs as TlsFilesOutputs;
    expect(olds.serverName).toBe("pgadmin.kryonix.localhost");
    const asked: unknown[] = [];
    const calls: string[][] = [];
    const provider = makeTlsFilesProvider({
      docker: (args) => (calls.push(args), args[0] === "inspect" ? { code: 0, out: "true" } : { code: 0, out: "" }),
      served: async (server) => (asked.push({ ...server }), fingerprint(renewed.certificatePem)),
      sleep: async () => undefined,
      deadlineMs: 200,
    });
    await provider.update!("id", olds, proxy(renewed));
    expect(calls.at(-1)).toEqual(["kill", "--signal", "HUP", "kryonix-dev-proxy"]);
    expect(asked[0]).toMatchObject({ hostPort: 15443, reload: "nginx", serverName: "pgadmin.kryonix.localhost" });
  });

  it("fails the update, naming the container, when the server still serves the old certificate at the deadline", async () => {
    const { provider: p0 } = fake(true, []);
    const olds = (await p0.create!(inputs())).outs as TlsFilesOutputs;
    const { provider } = fake(true, [fingerprint(first.certificatePem)]);
    await expect(provider.update!("id", olds, inputs(renewed))).rejects.toThrow(/kryonix-dev-postgres still serves certificate .* on 127\.0\.0\.1:5432, not the new/);
  });

  it("refresh: reads the digests of the files in the volume, so a file changed by hand is an update", async () => {
    const { provider: p0 } = fake(true, []);
    const olds = (await p0.create!(inputs())).outs as TlsFilesOutputs;
    const sums = (d: { certificate: string; ca: string; key: string }) => `${d.certificate}  /etc/kryonix/tls/server.crt\n${d.ca}  /etc/kryonix/tls/ca.crt\n${d.key}  /etc/kryonix/tls/server.key\n`;
    const reader = (out: string, volumeThere = true) =>
      makeTlsFilesProvider({
        docker: (args) => (args[0] === "volume" ? { code: volumeThere ? 0 : 1, out: "" } : args[0] === "inspect" ? { code: 0, out: "true" } : { code: 0, out }),
        served: async () => undefined,
        sleep: async () => undefined,
        deadlineMs: 0,
      });
    const same = await reader(sums(olds.digests)).read!("id", olds);
    expect(tlsFilesChanges(same.props as TlsFilesOutputs, inputs())).toEqual([]);
    const tampered = await reader(sums({ ...olds.digests, ca: "0".repeat(64) })).read!("id", olds);
    expect(tlsFilesChanges(tampered.props as TlsFilesOutputs, inputs())).toEqual(["caCertificate"]);
    const gone = await reader("", false).read!("id", olds);
    expect(tlsFilesChanges(gone.props as TlsFilesOutputs, inputs())).toEqual(["certificatePem", "privateKeyPem", "caCertificate"]);
  });

  it("does not reload a stopped container (it reads the files when it starts)", async () => {
    const { provider: p0 } = fake(true, []);
    const olds = (await p0.create!(inputs())).outs as TlsFilesOutputs;
    const { calls, provider } = fake(false, []);
    await provider.update!("id", olds, inputs(renewed));
    expect(calls.map((c) => c.args[0])).toEqual(["run", "inspect"]);
  });

  it("takes a certificate not known yet (a preview renewing it) as a change, and does not judge it", async () => {
    const { provider } = fake(true, []);
    const olds = (await provider.create!(inputs())).outs as TlsFilesOutputs;
    expect(tlsFilesChanges(olds, { ...inputs(), certificatePem: UNKNOWN_VALUE, privateKeyPem: UNKNOWN_VALUE })).toEqual(["certificatePem", "privateKeyPem"]);
    expect(tlsFilesInputProblems({ ...inputs(), certificatePem: UNKNOWN_VALUE })).toEqual([]);
    expect(tlsFilesInputProblems({ ...inputs(), certificatePem: "x", reload: "apache" as never, serverName: "Not A Name", hostPort: 0 }).map((f) => f.property)).toEqual(["certificatePem", "reload", "serverName", "hostPort"]);
  });
});

describe("TLS volumes for `npm run drift`", () => {
  it("reads each kryonix:TlsFiles volume of the state through its running container, file by file", () => {
    const state = [
      { type: "docker:index/volume:Volume", outputs: { name: "kryonix-dev-postgres-tls" } },
      {
        type: TLS_FILES_TYPE,
        outputs: { volume: "kryonix-dev-postgres-tls", container: "kryonix-dev-postgres", image: "img", owner: "postgres", digests: { certificate: "c", key: "k", ca: "a" } },
      },
    ];
    const names = tlsVolumeFileNames("postgres");
    const calls: string[][] = [];
    const docker: DockerRunInput = (args) => {
      calls.push(args);
      if (args[0] === "volume") return { code: 0, out: "[]" };
      if (args[0] === "inspect") return { code: 0, out: "true\n" };
      const line = (d: string, n: string) => `${d.repeat(64)}  /etc/kryonix/tls/${n}`;
      return { code: 1, out: `${line("c", names.certificate)}\nsha256sum: /etc/kryonix/tls/${names.ca}: No such file or directory\n${line("0", names.key)}\n` };
    };
    const checks = tlsVolumeChecks(state, docker);
    expect(checks).toEqual([
      {
        volume: "kryonix-dev-postgres-tls",
        expected: { [names.certificate]: "c", [names.ca]: "a", [names.key]: "k" },
        found: { [names.certificate]: "c".repeat(64), [names.ca]: "", [names.key]: "0".repeat(64) },
      },
    ]);
    // Through the running container: no new container, no key on an argument list.
    expect(calls.find((a) => a[0] === "exec")).toEqual(["exec", "kryonix-dev-postgres", "sha256sum", ...[names.certificate, names.ca, names.key].map((n) => `/etc/kryonix/tls/${n}`)]);
    // A volume that is gone: every file missing.
    const gone = tlsVolumeChecks(state, (args) => (args[0] === "volume" ? { code: 1, out: "no such volume" } : { code: 0, out: "" }));
    expect(Object.values(gone[0].found!)).toEqual(["", "", ""]);
  });
});
