"""gunicorn's production configuration: `make serve` (through gunicorn.conf.py in the
checkout), or, installed from the wheel, `gunicorn -c python:consent_server.gunicorn_conf
'consent_server:create_app()'`.

Threaded workers: a client that sends its body a byte at a time holds one thread, not a whole
worker, so a few slow clients cannot starve the rest. Behind nginx (which buffers requests),
CONSENT_WORKER_CLASS=sync serves more per core. Settings can be overridden with
GUNICORN_CMD_ARGS or the variables below.
"""
import multiprocessing
import os

from prometheus_client import multiprocess

from consent_server.http.limits import per_worker_problem

bind = os.environ.get("CONSENT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
# gthread (the default) when clients reach gunicorn directly; sync behind nginx, which reads
# every request whole before passing it on, so no worker ever waits for a slow client and each
# request costs less (README, Production; bench/README.md has the figures).
worker_class = os.environ.get("CONSENT_WORKER_CLASS", "gthread")
threads = int(os.environ.get("CONSENT_THREADS", 16)) if worker_class == "gthread" else 1
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
    CONSENT_RATELIMIT_PER_WORKER=1 says so (S-03): the limits would multiply by the workers.
    And /metrics across workers (prometheus-client's multiprocess mode, when
    PROMETHEUS_MULTIPROC_DIR is set before gunicorn starts): start from an empty folder."""
    problem = per_worker_problem(server.cfg.workers, os.environ)
    if problem:
        raise SystemExit(problem)
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def post_fork(server, worker):
    """Tell the app, loaded next in this worker, how many threads share its database pool
    (CONSENT_THREADS: consent_server.database.pool_options), whatever set `threads`."""
    os.environ["CONSENT_THREADS"] = str(server.cfg.threads)


def child_exit(server, worker):
    """Forget a dead worker's gauges (multiprocess /metrics)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
