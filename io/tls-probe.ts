/**
 * A raw TLS handshake with a server of the stack: with a PostgreSQL-protocol server (PostgreSQL
 * or PgBouncer) the SSLRequest packet and the server's one-byte answer first; with nginx or MinIO
 * TLS from the first byte (tlsHandshake). Exactly the client settings given (protocol versions,
 * ciphers, the SNI name); nothing is logged in; the socket is closed after the handshake. For the
 * TLS tests: a refused protocol version or cipher shows as `error`; for the stack's TLS reload
 * (providers/tls-files.ts): which certificate the server now serves.
 */
import type { ConnectionOptions } from "node:tls";

export interface HandshakeResult {
  /** The server answered 'S' to the SSLRequest. */
  sslOffered: boolean;
  /** The handshake completed (certificate not verified here). */
  ok: boolean;
  protocol?: string | null;
  cipher?: string;
  /** The certificate the server presented. */
  certificate?: { serialNumber: string; validFrom: string; validTo: string; fingerprint256: string };
  error?: string;
}

export function pgTlsHandshake(port: number, options: ConnectionOptions, host = "127.0.0.1", timeoutMs = 15_000): Promise<HandshakeResult> {
  return handshake(port, options, host, timeoutMs, true);
}

/** The same with a server that speaks TLS from the first byte (nginx, MinIO); `options.servername` is the SNI name. */
export function tlsHandshake(port: number, options: ConnectionOptions, host = "127.0.0.1", timeoutMs = 15_000): Promise<HandshakeResult> {
  return handshake(port, options, host, timeoutMs, false);
}

function handshake(port: number, options: ConnectionOptions, host: string, timeoutMs: number, sslRequest: boolean): Promise<HandshakeResult> {
  // Required here, not imported: a dynamic provider's code is serialized into the plugin.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { connect: netConnect }: typeof import("node:net") = require("node:net");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { connect: tlsConnect }: typeof import("node:tls") = require("node:tls");
  const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    let settled = false;
    // Declared before `done` uses it: the closure serializer of dynamic providers needs that.
    let timer: ReturnType<typeof setTimeout> | undefined = undefined;
    const done = (r: HandshakeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    timer = setTimeout(() => done({ sslOffered: false, ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    socket.on("error", (err) => done({ sslOffered: false, ok: false, error: err.message }));
    const startTls = () => {
      const secure = tlsConnect({ socket, rejectUnauthorized: false, ...options });
      secure.on("error", (err) => done({ sslOffered: true, ok: false, error: err.message }));
      secure.once("secureConnect", () => {
        const { serialNumber, valid_from: validFrom, valid_to: validTo, fingerprint256 } = secure.getPeerCertificate();
        const r = { sslOffered: true, ok: true, protocol: secure.getProtocol(), cipher: secure.getCipher()?.name, certificate: { serialNumber, validFrom, validTo, fingerprint256 } };
        secure.destroy();
        done(r);
      });
    };
    if (!sslRequest) {
      socket.once("connect", startTls);
      return;
    }
    socket.once("connect", () => socket.write(SSL_REQUEST));
    socket.once("data", (answer) => {
      if (answer[0] !== 0x53) return done({ sslOffered: false, ok: false, error: `server answered ${JSON.stringify(answer.subarray(0, 1).toString())} to SSLRequest` });
      startTls();
    });
  });
}
