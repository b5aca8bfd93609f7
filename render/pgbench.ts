/**
 * pgbench run inside the stack's postgres container (`docker exec`), against PostgreSQL or
 * PgBouncer by container name on the stack network: how `npm run test:db:performance` and
 * `npm run bench` drive it. The password file and a custom script reach pgbench through stdin,
 * never a command line or the environment. Pure.
 */
import { TLS_CA_FILE } from "../model/tls";
import { renderPgpass } from "./pgpass";

export const PGBENCH = "/usr/lib/postgresql/17/bin/pgbench";

export interface PgbenchTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** `docker exec -i -u postgres CONTAINER bash -c <shell>` with <input> on stdin. */
export function pgbenchExec(container: string, target: PgbenchTarget, pgbenchArgs: readonly string[], script?: string): { args: string[]; input: string } {
  for (const a of pgbenchArgs) if (!/^[A-Za-z0-9=_.,:\/-]+$/.test(a)) throw new Error(`pgbench argument ${JSON.stringify(a)}: letters, digits and = _ . , : / - only`);
  const pgpass = renderPgpass([{ host: target.host, port: target.port, database: "*", username: target.user, password: target.password }]);
  const shell = [
    "set -e",
    'dir=$(mktemp -d)',
    "trap 'rm -rf \"$dir\"' EXIT",
    `head -c ${Buffer.byteLength(pgpass)} > "$dir/pgpass"`,
    'cat > "$dir/script.sql"',
    'chmod 600 "$dir/pgpass"',
    // TLS, verify-full against the stack CA the container has (model/tls.ts TLS_CA_FILE).
    `PGSSLMODE=verify-full PGSSLROOTCERT=${TLS_CA_FILE} PGPASSFILE="$dir/pgpass" ${PGBENCH} -h ${target.host} -p ${target.port} -U ${target.user} ${pgbenchArgs.join(" ")}${script === undefined ? "" : ' -f "$dir/script.sql"'} ${target.database} 2>&1`,
  ].join("\n");
  return { args: ["exec", "-i", "-u", "postgres", container, "bash", "-c", shell], input: pgpass + (script ?? "") };
}
