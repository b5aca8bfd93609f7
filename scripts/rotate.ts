/**
 * `npm run rotate -- --role NAME [--stack NAME]`: gives a login role a new generated password.
 * Adds one to the role's count in kryonix:roleRotations (the stack's config), then runs
 * `npm run up`. For a role whose clients live outside the stack (model/rotation.ts), the new
 * password goes to the one of its two login users that clients do not use now, which becomes
 * current; the other keeps its password until the next rotation, so no client is refused while it
 * picks up the new credentials (`credentials.logins.<role>`: user and password). For the monitor
 * and PgBouncer's lookup role, the role itself gets the new password and the same up rolls what
 * carries it (pgAdmin's pgpass and the exporters; PgBouncer's userlist). The server gets a SCRAM
 * verifier (pgaudit logs the statement with the password <REDACTED>). No password is printed.
 */
import { runCli } from "../io/docker-cli";
import { roleUsers } from "../model/rotation";
import { isAlternating } from "../model/database";
import { runMain } from "../ops/cli";
import { stackCli } from "../ops/stack-run";
import { repoRoot } from "../toolchain/versions";
import { parseRotateArgs } from "./args";

function main(): number {
  const { role, stack } = parseRotateArgs(process.argv.slice(2));
  const cli = stackCli(stack);
  const current = cli.capture(["config", "get", "kryonix:roleRotations", "--stack", stack]);
  let counts: Record<string, number> = {};
  if (current.code === 0 && current.stdout.trim()) counts = JSON.parse(current.stdout.trim());
  counts[role] = (Number(counts[role]) || 0) + 1;
  const set = cli.capture(["config", "set", "kryonix:roleRotations", JSON.stringify(counts), "--stack", stack]);
  if (set.code !== 0) {
    process.stderr.write(`rotate: cannot set kryonix:roleRotations on stack ${stack}: ${set.stderr.trim()}\n`);
    return 1;
  }
  process.stderr.write(`[rotate] ${role}: rotation ${counts[role]} on stack ${stack}; running npm run up\n`);
  const up = runCli("npx", ["tsx", "scripts/up.ts", "--stack", stack], { cwd: repoRoot, inherit: "all", timeoutMs: 0 });
  if (up.code !== 0) return up.code;
  const users = roleUsers(role, counts[role]);
  const previous = Object.keys(users.setAt).find((u) => u !== users.current);
  const how = isAlternating(role)
    ? `clients log in as ${users.current} now; ${previous} keeps its password until the next rotation`
    : `${role} has a new password`;
  process.stderr.write(`[rotate] ${how}: npm run pulumi -- stack output --show-secrets credentials --stack ${stack} (logins.${role})\n`);
  return 0;
}

runMain("rotate", main);
