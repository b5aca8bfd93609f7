import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { invalid } from "./messages";

/** PostgreSQL's default scram_iterations. */
export const SCRAM_ITERATIONS = 4096;

// PostgreSQL runs SASLprep over the password; for printable ASCII that is the
// identity, which is all the stack's generated passwords contain.
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * The SCRAM-SHA-256 secret PostgreSQL stores for `password` (what
 * pg_authid.rolpassword holds after `ALTER ROLE ... PASSWORD`):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802/7677).
 *
 * Roles are created with this secret instead of the password, so the
 * statement the server logs (log_statement = 'mod' logs CREATE/ALTER ROLE)
 * never contains the password itself. PostgreSQL recognises the format and
 * stores it as is; clients still log in with the password.
 */
export function scramSha256Secret(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): string {
  if (typeof password !== "string" || !PRINTABLE_ASCII.test(password)) {
    // Not echoed: it is a password.
    throw new Error("scramSha256Secret: the password must be non-empty printable ASCII without spaces (SASLprep is not implemented)");
  }
  if (!Buffer.isBuffer(salt) || salt.length < 8) {
    throw new Error(invalid("SCRAM salt length", Buffer.isBuffer(salt) ? salt.length : salt, "at least 8 bytes"));
  }
  if (!Number.isInteger(iterations) || iterations < 4096) {
    throw new Error(invalid("SCRAM iterations", iterations, "an integer of at least 4096"));
  }
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
