#!/bin/bash
# Container health check: the exporter answers HTTP on EXPORTER_PORT. Its landing page, not
# /metrics: a check every few seconds must not run the collectors' queries. Plain bash
# (/dev/tcp): the image carries no HTTP client. Go answers an HTTP/1.0 request as HTTP/1.0.
set -euo pipefail
exec 3<>"/dev/tcp/127.0.0.1/${EXPORTER_PORT}"
printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 5 status <&3
[[ "$status" == "HTTP/1."[01]" 200"* ]]
