/**
 * A raw TLS handshake with a PostgreSQL-protocol server (PostgreSQL or PgBouncer): the SSLRequest
 * packet, the server's one-byte answer, then a TLS handshake with exactly the client settings
 * given (protocol versions, ciphers). Nothing is logged in; the socket is closed after the
 * handshake. For the TLS tests: a refused protocol version or cipher shows as `error`.
 */
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

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

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

export function pgTlsHandshake(port: number, options: ConnectionOptions, host = "127.0.0.1", timeoutMs = 15_000): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    let settled = false;
    const done = (r: HandshakeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ sslOffered: false, ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    socket.on("error", (err) => done({ sslOffered: false, ok: false, error: err.message }));
    socket.once("connect", () => socket.write(SSL_REQUEST));
    socket.once("data", (answer) => {
      if (answer[0] !== 0x53) return done({ sslOffered: false, ok: false, error: `server answered ${JSON.stringify(answer.subarray(0, 1).toString())} to SSLRequest` });
      const secure = tlsConnect({ socket, rejectUnauthorized: false, ...options });
      secure.on("error", (err) => done({ sslOffered: true, ok: false, error: err.message }));
      secure.once("secureConnect", () => {
        const { serialNumber, valid_from: validFrom, valid_to: validTo, fingerprint256 } = secure.getPeerCertificate();
        const r = { sslOffered: true, ok: true, protocol: secure.getProtocol(), cipher: secure.getCipher()?.name, certificate: { serialNumber, validFrom, validTo, fingerprint256 } };
        secure.destroy();
        done(r);
      });
    });
  });
}
