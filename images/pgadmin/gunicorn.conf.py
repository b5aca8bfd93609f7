# gunicorn settings for pgAdmin 4 in the kryonix pgadmin image. The bind address is given on the
# command line by the entrypoint.
from gunicorn.glogging import Logger

# pgAdmin keeps per-session state in its process: one worker, many threads (pgAdmin's own image
# runs it the same way).
workers = 1
threads = 25
worker_class = 'gthread'
# Long-running requests (query tool, backups) must not be killed by the worker timeout.
timeout = 86400
graceful_timeout = 30
limit_request_line = 8190

# Requests from a reverse proxy: pgAdmin's own ProxyFix middleware reads the X-Forwarded-*
# headers (config_local.py, PGADMIN_PUBLIC_URL); gunicorn leaves them alone.
forwarded_allow_ips = '127.0.0.1,::1'

accesslog = '-'
errorlog = '-'
loglevel = 'info'
# No runtime control socket in the container.
control_socket_disable = True


class HealthQuietLogger(Logger):
    """The access log without the container health check's GET /misc/ping from loopback."""

    def access(self, resp, req, environ, request_time):
        if environ.get('PATH_INFO') == '/misc/ping' and environ.get('REMOTE_ADDR') in ('127.0.0.1', '::1'):
            return
        super().access(resp, req, environ, request_time)


logger_class = HealthQuietLogger
