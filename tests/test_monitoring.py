"""Metrics and readiness (REQ S-08, S-06): `/metrics` behind CONSENT_METRICS_TOKEN, counters that
move under load and never name an id, address or IP; every worker's counts under gunicorn
(multiprocess mode); `/readyz` when the database answers at the migrations' head."""
import json
import re
import threading
import urllib.request
import uuid

from sqlalchemy import create_engine

TOKEN = "metrics-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$")


def samples(text: str) -> dict:
    """{(name, frozenset of label pairs): value} of an exposition."""
    found = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, labels, value = SAMPLE.match(line).groups()
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or ""))
        found[(name, pairs)] = float(value)
    return found


def value(found: dict, name: str, **labels) -> float:
    """The sum of a metric's samples whose labels include these."""
    wanted = set(labels.items())
    return sum(v for (n, pairs), v in found.items() if n == name and wanted <= pairs)


def test_metrics_are_off_without_a_token_and_need_it(app_factory):
    off = app_factory().test_client().get("/metrics")
    assert off.status_code == 404 and off.mimetype == "application/problem+json"
    client = app_factory(METRICS_TOKEN=TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and TOKEN not in refused.text
    scraped = client.get("/metrics", headers=AUTH)
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
    assert "consent_http_requests_total" in scraped.text


def test_a_scrape_during_load_shows_the_counters_moving_and_nothing_personal(
        app, app_factory, choice, runner):
    """Four clients from four addresses post consents, read them back, sign people up and run
    into the per-consent limit while /metrics is scraped; then the output is searched for every
    id, address and IP they used."""
    served = app_factory(METRICS_TOKEN=TOKEN, RATELIMIT_PER_CONSENT="3/minute",
                         TRUSTED_PROXIES=0)
    before = samples(served.test_client().get("/metrics", headers=AUTH).text)
    used, scrapes, errors = [], [], []
    per_client = 6

    def visitor(n: int):
        ip = f"198.51.100.{20 + n}"
        client = served.test_client()
        client.environ_base.update({"REMOTE_ADDR": ip, "HTTP_USER_AGENT": f"Agent-{n}-x"})
        used.extend([ip, f"Agent-{n}-x"])
        try:
            for _ in range(per_client):
                answer = client.post("/api/v1/consents", json=choice)
                assert answer.status_code == 201, answer.json
                consent_id = answer.json["consent_id"]
                used.append(consent_id)
                assert client.get(f"/api/v1/consents/{consent_id}").status_code == 200
            for _ in range(4):  # the 4th write to one consent in a minute is refused
                client.post("/api/v1/consents", json={**choice, "consent_id": consent_id})
            email = f"person{n}.{uuid.uuid4().hex[:6]}@example.no"
            used.append(email)
            assert client.post("/api/v1/subscriptions", json={
                "email": email, "purposes": {"newsletter": True, "marketing": False},
                "language": "nb", "policy_version": "1"}).status_code == 202
        except AssertionError as error:  # pragma: no cover - reported below
            errors.append(error)

    def scraper(stop: threading.Event):
        client = served.test_client()
        while not stop.is_set():
            scrapes.append(client.get("/metrics", headers=AUTH).text)

    stop = threading.Event()
    watching = threading.Thread(target=scraper, args=(stop,))
    watching.start()
    visitors = [threading.Thread(target=visitor, args=(n,)) for n in range(4)]
    for thread in visitors:
        thread.start()
    for thread in visitors:
        thread.join()
    assert runner.invoke(args=["consent", "checkpoint"]).exit_code == 0
    stop.set()
    watching.join()
    assert not errors, errors
    last = served.test_client().get("/metrics", headers=AUTH).text
    scrapes.append(last)
    after = samples(last)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    posts = 4 * per_client
    assert moved("consent_http_requests_total", route="/api/v1/consents", method="POST",
                 status="201") >= posts
    assert moved("consent_http_requests_total", route="/api/v1/consents/<consent_id>",
                 method="GET", status="200") == posts
    assert moved("consent_http_request_duration_seconds_count", route="/api/v1/consents",
                 method="POST") >= posts
    assert moved("consent_events_total", action="grant", source="banner", purpose="analytics",
                 choice="granted") >= posts
    assert moved("consent_events_total", purpose="marketing", choice="refused") >= posts
    assert moved("consent_rate_limit_refusals_total", route="/api/v1/consents") >= 4
    assert moved("consent_mails_total", result="sent") >= 4  # the confirmation mails
    assert value(after, "consent_chain_head_seq") >= posts
    assert 0 <= value(after, "consent_checkpoint_age_seconds") < 60
    assert ("consent_mails_pending", frozenset()) in after
    assert ("consent_db_pool_in_use", frozenset()) in after
    assert value(after, "consent_db_connections_opened_total") >= 1
    assert len(scrapes) >= 2
    for text in scrapes:
        for secret in used:
            assert secret not in text, secret
        assert "198.51.100" not in text and "@" not in text
        labels = {v for (_, pairs) in samples(text) for _, v in pairs}
        assert not [v for v in labels if v.startswith("/") and re.search(r"/[A-Za-z0-9_-]{20,}",
                                                                          v)]


def test_readyz_when_the_database_is_at_the_migrations_head(client, app_factory, tmp_path):
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ready"
    assert ready.json["revision"] in client.application.extensions["consent_migration_heads"]
    url = "sqlite:///" + str(tmp_path / "empty.db")
    create_engine(url).connect().close()
    behind = app_factory(SQLALCHEMY_DATABASE_URI=url).test_client().get("/readyz")
    assert behind.status_code == 503 and behind.mimetype == "application/problem+json"
    assert "init-db" in behind.json["detail"]
    assert client.get("/healthz").status_code == 200


def test_gunicorn_workers_are_counted_together(app, gunicorn, tmp_path, choice):
    """Multiprocess mode as the README says: with PROMETHEUS_MULTIPROC_DIR set, one scrape
    answered by one worker counts what both workers answered."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "stale.db").write_bytes(b"")  # a previous run's file: gunicorn removes it
    posts = 16
    with gunicorn(tmp_path / "gunicorn.log", workers=2, CONSENT_METRICS_TOKEN=TOKEN,
                  PROMETHEUS_MULTIPROC_DIR=str(folder)) as server:
        assert not (folder / "stale.db").exists()
        for _ in range(posts):  # a new connection each: both workers answer some
            request = urllib.request.Request(
                server.url + "/api/v1/consents", data=json.dumps(choice).encode(),
                headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 201
        scrape = urllib.request.Request(server.url + "/metrics", headers=AUTH)
        with urllib.request.urlopen(scrape, timeout=10) as answer:
            found = samples(answer.read().decode())
    assert value(found, "consent_http_requests_total", route="/api/v1/consents",
                 method="POST", status="201") == posts
    assert value(found, "consent_events_total", purpose="analytics", choice="granted") == posts
    assert len({p.name for p in folder.glob("*.db")}) >= 2  # one file per worker and kind


def test_a_failed_mail_is_counted_and_stays_pending(app, app_factory, free_port):
    served = app_factory(METRICS_TOKEN=TOKEN, SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(),
                         SMTP_TIMEOUT=2)
    client = served.test_client()
    before = samples(client.get("/metrics", headers=AUTH).text)
    assert client.post("/api/v1/subscriptions", json={
        "email": "kari@example.no", "purposes": {"newsletter": True, "marketing": False},
        "language": "nb", "policy_version": "1"}).status_code == 202
    text = client.get("/metrics", headers=AUTH).text
    after = samples(text)
    assert value(after, "consent_mails_total", result="failed") - value(
        before, "consent_mails_total", result="failed") == 1
    assert value(after, "consent_mails_pending") == 1
    assert "kari" not in text
