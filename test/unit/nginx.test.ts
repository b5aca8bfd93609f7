import { describe, expect, it } from "vitest";
import { HSTS, PROXY_CERT_FILE, PROXY_KEY_FILE, TLS_CIPHERS, checkNginxConfInput, httpsOrigin, renderNginxConf } from "../../render/nginx";
import { isDnsName } from "../../model/dns-name";
import { TLS_CERT_FILE, TLS_KEY_FILE } from "../../model/tls";
import { pgpassField, renderPgpass } from "../../render/pgpass";

const prod = { pgadmin: { serverName: "pgadmin.kryonix.com.br", publicPort: 443, upstreamHost: "kryonix-prod-pgadmin", upstreamPort: 80 } };
const dev = { pgadmin: { serverName: "pgadmin.kryonix.localhost", publicPort: 15443, upstreamHost: "kryonix-dev-pgadmin", upstreamPort: 80 } };
const lines = (conf: string) => conf.split("\n").map((l) => l.trim());

describe("isDnsName", () => {
  it.each(["pgadmin.kryonix.com.br", "pgadmin.kryonix.localhost", "a-b.c1.example", "x.io"])("accepts %s", (n) => expect(isDnsName(n)).toBe(true));
  it.each(["localhost", "pgadmin_x.kryonix.com.br", "-a.example.com", "a-.example.com", "PGADMIN.example.com", "10.0.0.1", "a..b", "", `${"a".repeat(64)}.com`, 42])(
    "rejects %j",
    (n) => expect(isDnsName(n)).toBe(false),
  );
});

describe("renderNginxConf", () => {
  it("redirects plain HTTP to https at the public name, keeping the path", () => {
    expect(renderNginxConf(prod)).toContain("return 301 https://pgadmin.kryonix.com.br$request_uri;");
    expect(renderNginxConf(dev)).toContain("return 301 https://pgadmin.kryonix.localhost:15443$request_uri;");
  });

  it("speaks TLS 1.2 and 1.3 only, with forward-secret AEAD ciphers", () => {
    const l = lines(renderNginxConf(prod));
    expect(l).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
    expect(l.filter((x) => x.startsWith("ssl_protocols"))).toHaveLength(1);
    expect(l).toContain(`ssl_ciphers ${TLS_CIPHERS};`);
    for (const c of TLS_CIPHERS.split(":")) expect(c).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    expect(l).toContain("ssl_session_tickets off;");
    expect(l).toContain("ssl_certificate /etc/kryonix/tls/server.crt;");
    expect(l).toContain("ssl_certificate_key /etc/kryonix/tls/server.key;");
    // The files of the proxy's TLS volume, where every server's are.
    expect([PROXY_CERT_FILE, PROXY_KEY_FILE]).toEqual([TLS_CERT_FILE, TLS_KEY_FILE]);
  });

  it("sends HSTS and security headers on every answer, and hides pgAdmin's copies", () => {
    const l = lines(renderNginxConf(prod));
    expect(l).toContain(`add_header Strict-Transport-Security "${HSTS}" always;`);
    expect(HSTS).toMatch(/^max-age=\d{8,}$/);
    expect(l).toContain('add_header X-Content-Type-Options "nosniff" always;');
    expect(l).toContain('add_header X-Frame-Options "SAMEORIGIN" always;');
    expect(l).toContain('add_header Referrer-Policy "same-origin" always;');
    expect(l).toContain("proxy_hide_header Strict-Transport-Security;");
    expect(l).toContain("server_tokens off;");
  });

  it("forwards the public name, port and https to pgAdmin, which trusts one proxy", () => {
    const l = lines(renderNginxConf(dev));
    expect(l).toContain("proxy_set_header X-Forwarded-Proto https;");
    expect(l).toContain("proxy_set_header X-Forwarded-Host pgadmin.kryonix.localhost;");
    expect(l).toContain("proxy_set_header X-Forwarded-Port 15443;");
    // Replaced, not appended: a client cannot forge the address pgAdmin sees.
    expect(l).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
    expect(l).toContain("proxy_set_header Host pgadmin.kryonix.localhost:15443;");
    expect(lines(renderNginxConf(prod))).toContain("proxy_set_header Host pgadmin.kryonix.com.br;");
  });

  it("reaches pgAdmin by container name, resolved by Docker's DNS at request time, with WebSockets", () => {
    const l = lines(renderNginxConf(prod));
    expect(l).toContain("resolver 127.0.0.11 valid=10s ipv6=off;");
    expect(l).toContain("set $pgadmin_upstream http://kryonix-prod-pgadmin:80;");
    expect(l).toContain("proxy_pass $pgadmin_upstream;");
    expect(l).toContain("proxy_set_header Upgrade $http_upgrade;");
    expect(l).toContain("proxy_set_header Connection $connection_upgrade;");
  });

  it("answers other names with nothing: no HTTP answer, no TLS handshake", () => {
    const conf = renderNginxConf(prod);
    expect(conf).toMatch(/listen 80 default_server;\s+return 444;/);
    expect(conf).toMatch(/listen 443 ssl default_server;\s+ssl_reject_handshake on;/);
    expect(conf).toMatch(/listen 127\.0\.0\.1:8081;/);
  });

  it("refuses input it cannot render, naming each field", () => {
    expect(() => renderNginxConf({ pgadmin: { ...prod.pgadmin, serverName: "pgadmin;evil" } })).toThrow(/nginx pgadmin\.serverName: "pgadmin;evil" is invalid/);
    expect(() => checkNginxConfInput({ pgadmin: { ...prod.pgadmin, publicPort: 0, upstreamHost: "a b", upstreamPort: 70000 } })).toThrow(
      /publicPort: 0 is invalid.*upstreamHost: "a b" is invalid.*upstreamPort: 70000 is invalid/,
    );
  });

  it("origins leave out 443", () => {
    expect(httpsOrigin("a.example.com", 443)).toBe("https://a.example.com");
    expect(httpsOrigin("a.example.com", 8443)).toBe("https://a.example.com:8443");
  });
});

describe("renderPgpass", () => {
  it("writes one line per entry, escaping ':' and '\\\\' in every field", () => {
    expect(pgpassField("a:b\\c")).toBe("a\\:b\\\\c");
    expect(
      renderPgpass([
        { host: "kryonix-dev-pgbouncer", port: 6432, database: "*", username: "kryonix_monitor", password: "p:a\\ss" },
        { host: "h", port: "*", database: "db", username: "u", password: "x" },
      ]),
    ).toBe("kryonix-dev-pgbouncer:6432:*:kryonix_monitor:p\\:a\\\\ss\nh:*:db:u:x\n");
  });

  it("refuses what libpq could not read, never showing the password", () => {
    expect(() => renderPgpass([{ host: "h", port: 0, database: "", username: "u", password: "sec\nret" }])).toThrow(
      /pgpass entry 0 database: "" is invalid.*pgpass entry 0 port: 0 is invalid.*pgpass entry 0 password: must be a non-empty value on one line \(not shown\)/,
    );
    try {
      renderPgpass([{ host: "h", port: 1, database: "d", username: "u", password: "sec\nret" }]);
    } catch (err) {
      expect((err as Error).message).not.toContain("sec");
    }
  });
});
