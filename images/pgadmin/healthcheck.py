#!/opt/pgadmin/bin/python3
"""Container health check: pgAdmin answers GET /misc/ping with 200 on its listen port."""
import os
import sys
import urllib.request

port = os.environ.get('PGADMIN_LISTEN_PORT', '80')
try:
    with urllib.request.urlopen('http://127.0.0.1:%s/misc/ping' % port, timeout=4) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception as e:  # noqa: BLE001 - any failure is "unhealthy"
    print('pgAdmin ping failed: %s' % e, file=sys.stderr)
    sys.exit(1)
