// The failover probe: inserts numbered rows in autocommit through HAProxy's write port, one at a
// time, and appends "<epoch ms> <id>" to the ack log only after the INSERT's COMMIT returned.
// Every attempt uses a new id, so an attempt whose outcome is unknown (error, timeout) never
// shares its id with an acknowledged one. Errors are logged as "<epoch ms> ERR <message>".
// Usage: node spike/ha/writer.mjs <ack-log> [port]   (password from PGPASSFILE via libpq rules: PGPASSWORD_FILE here)
import { appendFileSync, readFileSync } from "node:fs";
import pg from "pg";

const [ackLog, port = "35432"] = process.argv.slice(2);
const password = readFileSync(process.env.PGPASSWORD_FILE, "utf8").trim();
let id = Number(process.env.START_ID ?? 1);
let client = null;
let stop = false;
process.on("SIGTERM", () => { stop = true; });
process.on("SIGINT", () => { stop = true; });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
while (!stop) {
  try {
    if (!client) {
      const c = new pg.Client({ host: "127.0.0.1", port: Number(port), user: "postgres", database: "postgres",
        password, connectionTimeoutMillis: 2000, query_timeout: 5000 });
      c.on("error", () => {});
      client = c;
      await c.connect();
      await c.query("CREATE TABLE IF NOT EXISTS ha_probe (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())");
    }
    const mine = id++;
    await client.query("INSERT INTO ha_probe (id) VALUES ($1)", [mine]);
    appendFileSync(ackLog, `${Date.now()} ${mine}\n`);
    await sleep(20);
  } catch (err) {
    appendFileSync(ackLog, `${Date.now()} ERR ${String(err.message).replace(/\s+/g, " ").slice(0, 120)}\n`);
    try { client?.end().catch(() => {}); } catch {}
    client = null;
    await sleep(200);
  }
}
await client?.end().catch(() => {});
