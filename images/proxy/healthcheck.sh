#!/bin/bash
# Container health check: the configuration's loopback-only health listener (127.0.0.1:8081, see
# render/nginx.ts) answers 200. Plain bash (/dev/tcp): the image carries no HTTP client.
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/8081
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 3 status <&3
[[ "$status" == "HTTP/1.1 200"* ]]
