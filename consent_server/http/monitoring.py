"""`/metrics` (Prometheus text format, behind CONSENT_METRICS_TOKEN) and `/readyz` (the database
answers and its migrations are at head), and the hooks that count requests and the database
pool (S-08). Labels hold route rules and fixed words only: never a path, id, address or IP."""
import hmac
import os
import time
import weakref

from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, current_app, request
from flask_smorest import abort
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event, func, select

from .. import database, metrics
from ..errors import NotFound, Unauthorized
from ..extensions import db
from ..models import HEAD, THE_HEAD, AccessLogEntry, Person
from ..staff import access_log

bp = Blueprint("monitoring", __name__)
STARTED = "consent.started"  # the environ key of a request's start (perf_counter)
_WATCHED: "weakref.WeakSet" = weakref.WeakSet()  # engines whose pool is counted


class DatabaseCollector:
    """What lives in the database, read at each scrape (in the scraping request's context)."""

    def collect(self):
        session = db.session
        yield GaugeMetricFamily("consent_chain_head_seq", "Sequence number of the ledger's head",
                                value=session.execute(select(HEAD.c.seq).where(THE_HEAD))
                                .scalar_one())
        newest = session.execute(select(func.max(AccessLogEntry.at)).where(
            AccessLogEntry.action == access_log.CHECKPOINT)).scalar_one()
        age = GaugeMetricFamily("consent_checkpoint_age_seconds",
                                "Seconds since the newest signed checkpoint was taken (absent "
                                "before the first)")
        if newest is not None:
            age.add_metric([], time.time() - newest.timestamp())
        yield age
        yield GaugeMetricFamily("consent_mails_pending", "Confirmation mails due (not yet sent, "
                                "or failed and waiting for send-pending)",
                                value=session.execute(select(func.count()).where(
                                    Person.mail_due.is_(True))).scalar_one())


class ProcessCollector:
    """This process's counters (one worker's, without multiprocess mode)."""

    def collect(self):
        yield from metrics.REGISTRY.collect()


def exposition() -> bytes:
    """The text format: every worker's counters (multiprocess mode) or this process's, and the
    database's values."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(ProcessCollector())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


@bp.get("/metrics")
def scrape():
    """Prometheus metrics: `Authorization: Bearer <CONSENT_METRICS_TOKEN>`; 404 while no token
    is set."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        raise NotFound("Metrics are off: set CONSENT_METRICS_TOKEN.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             str(token).encode()):
        raise Unauthorized("The metrics token is required: Authorization: Bearer <token>.")
    return Response(exposition(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Cache-Control": "no-store"})


@bp.get("/readyz")
def readyz():
    """200 when the database answers and its schema is at the migrations' head, else 503."""
    if not database.database_ok(db.session):
        abort(503, message="The database does not answer.")
    revision = database.schema_revision(db.engine)
    if revision not in current_app.extensions["consent_migration_heads"]:
        abort(503, message=f"The database's schema is at {revision or 'no revision'}, not at "
                           "the migrations' head: run `flask consent init-db`.")
    return {"status": "ready", "revision": revision}


def _started():
    request.environ[STARTED] = time.perf_counter()


def _counted(response):
    route = request.url_rule.rule if request.url_rule is not None else "-"
    method = metrics.method_label(request.method)
    metrics.REQUESTS.labels(route, method, str(response.status_code)).inc()
    if (started := request.environ.get(STARTED)) is not None:
        metrics.LATENCY.labels(route, method).observe(time.perf_counter() - started)
    if response.status_code == 429:
        metrics.RATE_LIMITED.labels(route).inc()
    return response


def _watch_pool(engine) -> None:
    if engine in _WATCHED:
        return
    _WATCHED.add(engine)
    event.listen(engine, "connect", lambda *_: metrics.POOL_CONNECTS.inc())
    event.listen(engine, "checkout", lambda *_: metrics.POOL_IN_USE.inc())
    event.listen(engine, "checkin", lambda *_: metrics.POOL_IN_USE.dec())


def init_app(app: Flask, migrations: str) -> None:
    """Count every request and the engine's pool; serve /metrics and /readyz."""
    app.extensions["consent_migration_heads"] = set(
        ScriptDirectory(migrations).get_heads())
    app.before_request(_started)
    app.after_request(_counted)
    app.register_blueprint(bp)
    with app.app_context():
        _watch_pool(db.engine)
