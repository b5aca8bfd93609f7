#!/bin/bash
# Container health check: the configuration's loopback-only monitor listener (render/haproxy.ts)
# answers 200, which it does only while the write port has a server up (`monitor fail`): healthy
# means a leader is reachable.
# Plain bash (/dev/tcp): the image carries no HTTP client.
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/8404
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 3 status <&3
[[ "$status" == "HTTP/1."?" 200"* ]]
