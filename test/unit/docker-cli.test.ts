import { describe, expect, it } from "vitest";
import { cliError, runCli, runCliOrThrow } from "../../io/docker-cli";

describe("the CLI runner (io/docker-cli.ts)", () => {
  it("hands the child stdin and an environment, and returns its exit code, stdout and stderr", () => {
    const r = runCli("sh", ["-c", 'read line; echo "got $line $KX_TEST"; echo warn >&2; exit 3'], { input: "hello\n", env: { PATH: process.env.PATH, KX_TEST: "env" } });
    expect(r).toMatchObject({ code: 3, stdout: "got hello env\n", stderr: "warn\n", failure: "" });
    expect(r.out).toBe("got hello env\nwarn\n");
  });

  it("kills a child that outlives its timeout and says so", () => {
    const t0 = Date.now();
    const r = runCli("sleep", ["30"], { timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code).toBe(1);
    expect(r.failure).toBe("timed out after 0.3 s");
  });

  it("reports a command that cannot start instead of throwing", () => {
    const r = runCli("kryonix-no-such-command", []);
    expect(r.code).toBe(1);
    expect(r.failure).toMatch(/ENOENT/);
  });

  it("fails with the command, its exit code and the tail of stderr, secrets hidden", () => {
    const secret = "S3cretValue";
    expect(() => runCliOrThrow("sh", ["-c", `echo noise; for i in $(seq 1 30); do echo "line $i ${secret}" >&2; done; exit 7`], { secrets: [secret] })).toThrow(
      /^sh -c 'echo noise; .*\[secret\].*' exited 7:\nline 11 \[secret\]\n[\s\S]*line 30 \[secret\]$/,
    );
    const message = cliError("mc", ["admin", "user", "info", "kx", "alice"], { code: 1, out: "" });
    expect(message).toBe("mc admin user info kx alice exited 1 (no output)");
    expect(runCliOrThrow("sh", ["-c", "echo ok"]).stdout).toBe("ok\n");
  });
});
