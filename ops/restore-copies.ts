/**
 * The scratch copies `npm run restore` makes, on the Docker engine: found by their labels (so
 * without the stack's state or outputs: it works whether or not the stack is up), and removed,
 * container and volume. The rows and wording are render/restore-copies.ts's.
 */
import { cliError, dockerOrThrow, runDocker } from "../io/docker-cli";
import { restoreCopies, restoreFilters, type InspectedContainer, type InspectedVolume, type RestoreCopy } from "../render/restore-copies";

const lines = (out: string) =>
  out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

/** The stack's copies; throws a CommandError when docker cannot list them. */
export function listRestoreCopies(stack: string, env: NodeJS.ProcessEnv): RestoreCopy[] {
  const filters = restoreFilters(stack);
  const containers = lines(dockerOrThrow(["ps", "-a", ...filters, "--format", "{{.Names}}"], { env }).stdout);
  const volumes = lines(dockerOrThrow(["volume", "ls", ...filters, "--format", "{{.Name}}"], { env }).stdout);
  return restoreCopies(
    containers.length ? (JSON.parse(dockerOrThrow(["inspect", "--type", "container", ...containers], { env }).stdout) as InspectedContainer[]) : [],
    volumes.length ? (JSON.parse(dockerOrThrow(["volume", "inspect", ...volumes], { env }).stdout) as InspectedVolume[]) : [],
  );
}

/**
 * Removes each copy's container (with its anonymous volumes) and then its volume, saying each one
 * removed; returns one error per copy that could not be removed.
 */
export function removeRestoreCopies(copies: readonly RestoreCopy[], env: NodeJS.ProcessEnv, say: (line: string) => void): string[] {
  const errors: string[] = [];
  for (const c of copies) {
    const steps = [...(c.hasContainer ? [["rm", "-f", "-v", c.name]] : []), ...(c.hasVolume ? [["volume", "rm", c.name]] : [])];
    let error: string | undefined;
    for (const args of steps) {
      const r = runDocker(args, { env });
      if (r.code !== 0 || r.failure) {
        error = cliError("docker", args, r);
        break;
      }
    }
    if (error) errors.push(error);
    else say(`removed ${c.name} (${[c.hasContainer ? "container" : "", c.hasVolume ? "volume" : ""].filter(Boolean).join(" and ")})`);
  }
  return errors;
}
