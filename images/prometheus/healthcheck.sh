#!/bin/bash
# Container health check: Prometheus answers HTTP on 9090. Every path needs the basic auth, which
# this check does not have, so 401 counts as serving. Plain bash (/dev/tcp): no HTTP client here.
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/9090
printf 'GET /-/ready HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 3 status <&3
# Go answers an HTTP/1.0 request as HTTP/1.0.
[[ "$status" == "HTTP/1."[01]" 200"* || "$status" == "HTTP/1."[01]" 401"* ]]
