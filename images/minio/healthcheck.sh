#!/bin/bash
# Container health check: GET /minio/health/live on the API port. Over https when the server has
# a certificate, verified against the CA file of the TLS volume (a link to it, so a new CA counts at
# once) or the CAs the entrypoint collected (<certs>/CAs/* and public.crt, so a self-signed
# certificate works too); the certificate must name localhost.
set -euo pipefail
if [ -s /run/minio/health-ca.pem ]; then
  exec curl -fsS -o /dev/null --max-time 4 --cacert /run/minio/health-ca.pem \
    https://localhost:9000/minio/health/live
fi
exec curl -fsS -o /dev/null --max-time 4 http://127.0.0.1:9000/minio/health/live
