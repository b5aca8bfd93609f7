##########################################################################
# pgAdmin 4 settings of the kryonix pgadmin image (loaded by pgAdmin's config.py after its
# defaults). Server mode, state under /var/lib/pgadmin, no request to the internet, logs to the
# container's output, and what a reverse proxy at a public URL needs (PGADMIN_PUBLIC_URL).
##########################################################################
import logging
import os
from urllib.parse import urlsplit

SERVER_MODE = True

DATA_DIR = '/var/lib/pgadmin'
SQLITE_PATH = os.path.join(DATA_DIR, 'pgadmin4.db')
SESSION_DB_PATH = os.path.join(DATA_DIR, 'sessions')
STORAGE_DIR = os.path.join(DATA_DIR, 'storage')
AZURE_CREDENTIAL_CACHE_DIR = os.path.join(DATA_DIR, 'azurecredentialcache')
KERBEROS_CCACHE_DIR = os.path.join(DATA_DIR, 'krbccache')

# Logs go to the container output (docker logs), not to a file in the volume.
LOG_FILE = '/dev/null'
CONSOLE_LOG_LEVEL = logging.WARNING
FILE_LOG_LEVEL = logging.CRITICAL

# Nothing reaches out to the internet: no version check, no gravatar, no DNS lookups for email
# deliverability, no AI/LLM features, no scanning of the container for local servers.
UPGRADE_CHECK_ENABLED = False
UPGRADE_CHECK_URL = ''
SHOW_GRAVATAR_IMAGE = False
CHECK_EMAIL_DELIVERABILITY = False
SECURITY_EMAIL_VALIDATOR_ARGS = {'check_deliverability': False}
LLM_ENABLED = False
AUTO_DISCOVER_SERVERS = False

# The client tools of PostgreSQL 17 (backup, restore) are installed in the image.
DEFAULT_BINARY_PATHS = {
    'pg': '/usr/lib/postgresql/17/bin',
    'pg-17': '/usr/lib/postgresql/17/bin',
}

# Reverse proxy at a public URL, e.g. PGADMIN_PUBLIC_URL=https://pgadmin.example.com or
# https://example.com/pgadmin. The proxy must send X-Forwarded-For, X-Forwarded-Proto and
# X-Forwarded-Host (and X-Forwarded-Prefix when the URL has a path), and strip the path prefix.
_public_url = os.environ.get('PGADMIN_PUBLIC_URL', '').strip()
if _public_url:
    _url = urlsplit(_public_url)
    if _url.scheme not in ('http', 'https') or not _url.hostname:
        raise ValueError(
            'PGADMIN_PUBLIC_URL must be an absolute http(s) URL, got %r' %
            _public_url)
    PROXY_X_FOR_COUNT = 1
    PROXY_X_PROTO_COUNT = 1
    PROXY_X_HOST_COUNT = 1
    PROXY_X_PORT_COUNT = 1
    PROXY_X_PREFIX_COUNT = 1 if _url.path.strip('/') else 0
    if _url.scheme == 'https':
        SESSION_COOKIE_SECURE = True
    # Host-header check: the public name plus loopback (health checks, SSH tunnels). Extra
    # names (comma-separated) in PGADMIN_ALLOWED_HOSTS. Single addresses only: pgAdmin expands
    # every network listed here on each request.
    ALLOWED_HOSTS = [_url.hostname, 'localhost', '127.0.0.1'] + [
        h.strip() for h in os.environ.get('PGADMIN_ALLOWED_HOSTS', '').split(',')
        if h.strip()]
