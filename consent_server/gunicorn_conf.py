"""gunicorn's production configuration: `make serve` (through gunicorn.conf.py in the
checkout), or, installed from the wheel, `gunicorn -c python:consent_server.gunicorn_conf
'consent_server:create_app()'`.

Threaded workers: a client that sends its body a byte at a time holds one thread, not a whole
worker, so a few slow clients cannot starve the rest (a buffering proxy in front does better
still). Settings can be overridden with GUNICORN_CMD_ARGS or the variables below.
"""
import multiprocessing
import os

from consent_server.http.limits import per_worker_problem

bind = os.environ.get("CONSENT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
worker_class = "gthread"
threads = int(os.environ.get("CONSENT_THREADS", 16))
# A worker that does not answer its arbiter for this long is restarted; threads keep heartbeats
# going while requests wait, so this bounds a hung worker, not a slow client.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Small request lines and headers: the API's paths and headers are short (S-04).
limit_request_line = 2048
limit_request_fields = 50
limit_request_field_size = 4096
max_requests = 10_000  # recycle workers now and then (spread by the jitter)
max_requests_jitter = 1_000

# Logs without personal data (S-06): see consent_server.http.logs.GunicornLogger.
logger_class = "consent_server.http.logs.GunicornLogger"
accesslog = os.environ.get("CONSENT_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("CONSENT_LOG_LEVEL", "info")
# No runtime control socket (gunicorn 25.1+): one fixed path per user would be shared by every
# instance on the machine.
control_socket_disable = True


def on_starting(server):
    """Refuse to start with per-process rate limits (memory://) and several workers, unless
    CONSENT_RATELIMIT_PER_WORKER=1 says so (S-03): the limits would multiply by the workers."""
    problem = per_worker_problem(server.cfg.workers, os.environ)
    if problem:
        raise SystemExit(problem)
