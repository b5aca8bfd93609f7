import { invalid } from "../model/messages";

/**
 * libpq's password file (~/.pgpass format), which pgAdmin reads as a server's PassFile:
 * `hostname:port:database:username:password`, one entry a line; in each field a ':' or a '\'
 * is escaped with a '\'; '*' in the first four fields matches anything. Pure.
 */
export interface PgpassEntry {
  host: string;
  port: number | "*";
  database: string;
  username: string;
  password: string;
}

/** A field with ':' and '\' escaped (libpq's rule). Pure. */
export function pgpassField(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
}

/** The file's text; throws naming the field of an entry libpq could not read (a line break, an empty field). Pure; never echoes a password. */
export function renderPgpass(entries: readonly PgpassEntry[]): string {
  const problems: string[] = [];
  entries.forEach((e, i) => {
    for (const key of ["host", "database", "username"] as const) {
      if (typeof e[key] !== "string" || e[key] === "" || /[\r\n]/.test(e[key])) problems.push(invalid(`pgpass entry ${i} ${key}`, e[key], "a non-empty value on one line"));
    }
    if (e.port !== "*" && !(Number.isInteger(e.port) && e.port >= 1 && e.port <= 65535)) problems.push(invalid(`pgpass entry ${i} port`, e.port, "a port number or *"));
    if (typeof e.password !== "string" || e.password === "" || /[\r\n]/.test(e.password)) problems.push(`pgpass entry ${i} password: must be a non-empty value on one line (not shown)`);
  });
  if (problems.length) throw new Error(`pgpass: ${problems.join("; ")}`);
  return entries
    .map((e) => [e.host, String(e.port), e.database, e.username, e.password].map(pgpassField).join(":") + "\n")
    .join("");
}
