import { isDnsName } from "../model/dns-name";
import { invalid } from "../model/messages";

/**
 * The reverse proxy's nginx.conf (images/proxy): TLS termination for pgAdmin at its public name,
 * plain HTTP answered with a redirect to https, HSTS and security headers, TLS 1.2 and 1.3 only
 * (Mozilla's "intermediate" ciphers), the X-Forwarded-* headers pgAdmin's ProxyFix trusts, and a
 * loopback-only health listener for the container's healthcheck. Pure.
 */

/** Inside the proxy container (the image's contract). */
export const PROXY_HTTP_PORT = 80;
export const PROXY_HTTPS_PORT = 443;
/** Loopback inside the container only: images/proxy/healthcheck.sh asks it. */
export const PROXY_HEALTH_PORT = 8081;
export const PROXY_CONFIG_FILE = "/etc/kryonix/nginx.conf";
/** The proxy's TLS volume (model/tls.ts TLS_CERT_FILE, TLS_KEY_FILE): rewritten on renewal, then nginx reloads (SIGHUP). */
export const PROXY_CERT_FILE = "/etc/kryonix/tls/server.crt";
export const PROXY_KEY_FILE = "/etc/kryonix/tls/server.key";
/** Docker's embedded DNS server: upstream names are resolved at request time, so a replaced pgAdmin (new IP) is found again. */
export const DOCKER_DNS = "127.0.0.11";

/** TLS 1.2 ciphers (Mozilla intermediate); TLS 1.3's suites are OpenSSL's defaults, all strong. */
export const TLS_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** Two years; no includeSubDomains, the stack does not own its parent domain's other names. */
export const HSTS = "max-age=63072000";

export interface NginxSite {
  /** The public DNS name, e.g. pgadmin.kryonix.com.br. */
  serverName: string;
  /** The port users type in the URL (443 in prod): redirects and X-Forwarded-Port carry it. */
  publicPort: number;
  /** Where pgAdmin answers on the stack network, e.g. kryonix-prod-pgadmin:80. */
  upstreamHost: string;
  upstreamPort: number;
}

export interface NginxConfInput {
  pgadmin: NginxSite;
}

/** Throws one error naming every input that cannot be rendered. Pure. */
export function checkNginxConfInput(input: NginxConfInput): void {
  const problems: string[] = [];
  const s = input?.pgadmin;
  if (!s || !isDnsName(s.serverName)) problems.push(invalid("nginx pgadmin.serverName", s?.serverName, "a lower-case DNS name such as pgadmin.kryonix.com.br"));
  if (!s || !Number.isInteger(s.publicPort) || s.publicPort < 1 || s.publicPort > 65535) {
    problems.push(invalid("nginx pgadmin.publicPort", s?.publicPort, "an integer from 1 to 65535"));
  }
  if (!s || typeof s.upstreamHost !== "string" || !/^[a-z0-9][a-z0-9.-]*$/.test(s.upstreamHost)) {
    problems.push(invalid("nginx pgadmin.upstreamHost", s?.upstreamHost, "a container name on the stack network"));
  }
  if (!s || !Number.isInteger(s.upstreamPort) || s.upstreamPort < 1 || s.upstreamPort > 65535) {
    problems.push(invalid("nginx pgadmin.upstreamPort", s?.upstreamPort, "an integer from 1 to 65535"));
  }
  if (problems.length) throw new Error(`nginx.conf: ${problems.join("; ")}`);
}

/** `https://name` for 443, `https://name:port` otherwise. Pure. */
export function httpsOrigin(name: string, port: number): string {
  return port === 443 ? `https://${name}` : `https://${name}:${port}`;
}

/** The whole nginx.conf. Pure. */
export function renderNginxConf(input: NginxConfInput): string {
  checkNginxConfInput(input);
  const site = input.pgadmin;
  const origin = httpsOrigin(site.serverName, site.publicPort);
  const hostHeader = site.publicPort === 443 ? site.serverName : `${site.serverName}:${site.publicPort}`;
  return `# Rendered by the stack (render/nginx.ts); uploaded to ${PROXY_CONFIG_FILE}. Do not edit in the container.
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log stderr warn;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    server_tokens off;
    # pgAdmin's file manager uploads (restores, imports).
    client_max_body_size 512m;

    # TLS 1.2 and 1.3 only, forward-secret AEAD ciphers (Mozilla intermediate).
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${TLS_CIPHERS};
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:kryonix_tls:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;
    ssl_certificate ${PROXY_CERT_FILE};
    ssl_certificate_key ${PROXY_KEY_FILE};

    resolver ${DOCKER_DNS} valid=10s ipv6=off;
    resolver_timeout 5s;

    map $http_upgrade $connection_upgrade {
        default upgrade;
        '' close;
    }

    # Any other name: no answer over HTTP, no TLS handshake.
    server {
        listen ${PROXY_HTTP_PORT} default_server;
        return 444;
    }
    server {
        listen ${PROXY_HTTPS_PORT} ssl default_server;
        ssl_reject_handshake on;
    }

    # Plain HTTP: a redirect to https at the public name, nothing else.
    server {
        listen ${PROXY_HTTP_PORT};
        server_name ${site.serverName};
        location / {
            return 301 ${origin}$request_uri;
        }
    }

    # pgAdmin.
    server {
        listen ${PROXY_HTTPS_PORT} ssl;
        http2 on;
        server_name ${site.serverName};

        add_header Strict-Transport-Security "${HSTS}" always;
        add_header X-Content-Type-Options "nosniff" always;
        add_header X-Frame-Options "SAMEORIGIN" always;
        add_header Referrer-Policy "same-origin" always;
        # Ours only, not a second copy from pgAdmin.
        proxy_hide_header Strict-Transport-Security;
        proxy_hide_header X-Content-Type-Options;
        proxy_hide_header X-Frame-Options;
        proxy_hide_header Referrer-Policy;
        proxy_hide_header X-Powered-By;

        location / {
            set $pgadmin_upstream http://${site.upstreamHost}:${site.upstreamPort};
            proxy_pass $pgadmin_upstream;
            proxy_http_version 1.1;
            proxy_set_header Host ${hostHeader};
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host ${site.serverName};
            proxy_set_header X-Forwarded-Port ${site.publicPort};
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Real-IP $remote_addr;
            # pgAdmin's query tool and PSQL tool use WebSockets (socket.io).
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
            proxy_redirect off;
        }
    }

    # The container's healthcheck (images/proxy/healthcheck.sh), on loopback inside the container.
    server {
        listen 127.0.0.1:${PROXY_HEALTH_PORT};
        access_log off;
        location = /healthz {
            return 200 "ok\\n";
        }
        location / {
            return 404;
        }
    }
}
`;
}
