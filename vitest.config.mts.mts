import * as os from "node:os";
import * as path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          // The program, run on mocks for dev and prod, writes the stack CA file (lib/tls-files.ts):
          // never over the real stacks' files.
          env: { KRYONIX_TLS_DIR: path.join(os.tmpdir(), `kryonix-unit-tls-${process.pid}`) },
        },
      },
      {
        test: {
          name: "smoke",
          include: ["test/smoke/**/*.test.ts"],
          environment: "node",
          testTimeout: 15 * 60 * 1000,
          hookTimeout: 15 * 60 * 1000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "stack",
          include: ["test/stack/**/*.test.ts"],
          environment: "node",
          testTimeout: 20 * 60 * 1000,
          hookTimeout: 5 * 60 * 1000,
          // Each file has a stack of its own (names, ports, backend), and most of a file's time is
          // spent waiting on containers: two files at once (package.json: --maxWorkers=2).
          fileParallelism: true,
        },
      },
      {
        // The stack on another Docker engine (test/engine/), run only by its own npm script
        // (test:engine:debian13), which starts that engine and runs the file inside its namespace.
        test: {
          name: "engine",
          include: ["test/engine/**/*.test.ts"],
          environment: "node",
          testTimeout: 20 * 60 * 1000,
          hookTimeout: 5 * 60 * 1000,
          fileParallelism: false,
        },
      },
      {
        // Long fault tests, each behind its own npm script (not in `npm test`).
        test: {
          name: "fault",
          include: ["test/fault/**/*.test.ts"],
          environment: "node",
          testTimeout: 60 * 60 * 1000,
          hookTimeout: 5 * 60 * 1000,
          fileParallelism: false,
        },
      },
    ],
  },
});
