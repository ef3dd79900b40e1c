"""The service's Prometheus metrics (S-08), counted where things happen: no label ever holds an
id, an address, an IP or a path, only fixed words (route rules, actions, sources, purposes).

Under gunicorn with several workers, prometheus-client's multiprocess mode adds up what each
worker counted: set PROMETHEUS_MULTIPROC_DIR to an empty folder before gunicorn starts (`make
serve` does; see README, "Metrics"). Values that live in the database (the chain's head, the
newest checkpoint, mails due) are read when /metrics is scraped (http/monitoring.py).
"""
import json

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# This process's metrics; /metrics reads them from here, or from every worker's files in
# multiprocess mode.
REGISTRY = CollectorRegistry(auto_describe=True)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter("consent_http_requests", "HTTP requests answered, by route rule and status",
                   ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("consent_http_request_duration_seconds",
                    "Time to answer a request, by route rule", ["route", "method"],
                    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10),
                    registry=REGISTRY)
EVENTS = Counter("consent_events", "Consent events appended to the ledger, per purpose they "
                 "state: action, source, purpose and the choice (granted or refused)",
                 ["action", "source", "purpose", "choice"], registry=REGISTRY)
RATE_LIMITED = Counter("consent_rate_limit_refusals", "Requests refused for a rate limit (429)",
                       ["route"], registry=REGISTRY)
MAILS = Counter("consent_mails", "Mails to people: sent, or failed (they stay due)",
                ["result"], registry=REGISTRY)
POOL_IN_USE = Gauge("consent_db_pool_in_use", "Database connections checked out of the pool",
                    registry=REGISTRY, multiprocess_mode="livesum")
POOL_CONNECTS = Counter("consent_db_connections_opened",
                        "New database connections opened (a churning pool opens many)",
                        registry=REGISTRY)


def method_label(method: str) -> str:
    """The method, or "other" for a made-up one (a client must not invent label values)."""
    return method if method in METHODS else "other"


def count_events(events) -> None:
    """Count appended events (dicts or rows with action, source and choices)."""
    for event in events:
        choices = event["choices"]
        if isinstance(choices, str):
            choices = json.loads(choices)
        for purpose, granted in (choices or {}).items():
            EVENTS.labels(str(event["action"]), str(event["source"]), str(purpose),
                          "granted" if granted else "refused").inc()
