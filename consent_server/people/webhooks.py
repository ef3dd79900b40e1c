"""Webhooks to the marketing tools (L-09): endpoints an admin registers, an outbox written in
the same transaction as the person's event, and deliveries signed as Standard Webhooks
(`webhook-id`, `webhook-timestamp`, `webhook-signature`), sent at least once with exponential
back-off. A message holds the address and nothing else personal."""
import base64
import ipaddress
import json
import secrets
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from ..database import engine_of, writing
from ..errors import Invalid, NotFound
from ..models import WebhookDelivery, WebhookEndpoint

ENDPOINT = WebhookEndpoint.__table__
DELIVERY = WebhookDelivery.__table__
GRANTED, WITHDRAWN, OBJECTED = "person.granted", "person.withdrawn", "person.objected"
ERASED, LAPSED = "person.erased", "person.lapsed"
EVENT_TYPES = (GRANTED, WITHDRAWN, OBJECTED, ERASED, LAPSED)
FIRST_RETRY = timedelta(seconds=30)  # then doubled per failure, up to LAST_RETRY
LAST_RETRY = timedelta(hours=6)
BATCH = 100


def check_url(url: str, loopback_http: bool) -> str:
    """An endpoint's URL: https; http only to a loopback address when allowed (tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and loopback_http and parts.hostname:
        try:
            if ipaddress.ip_address(parts.hostname).is_loopback:
                return url
        except ValueError:
            pass
    raise Invalid("A webhook endpoint must be an https URL.", {"url": ["Not an https URL."]})


def add_endpoint(session: Session, url: str, events: list[str], now: datetime):
    """Register an endpoint for some event types; (its id, its secret: shown once)."""
    url = check_url(url, bool(current_app.config["WEBHOOK_LOOPBACK_HTTP"]))
    unknown = [e for e in events if e not in EVENT_TYPES]
    if not events or unknown:
        raise Invalid("Unknown or no event types.", {"events": [
            f"Each must be one of: {', '.join(EVENT_TYPES)}."]})
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    with writing(session) as conn:
        endpoint_id = conn.execute(insert(ENDPOINT).values(
            url=url, secret=secret, events=" ".join(dict.fromkeys(events)), created_at=now
        ).returning(ENDPOINT.c.id)).scalar_one()
    return endpoint_id, secret


def disable_endpoint(session: Session, endpoint_id: int, now: datetime) -> None:
    """Stop sending to an endpoint (its outbox stays, undelivered)."""
    with writing(session) as conn:
        done = conn.execute(update(ENDPOINT).where(ENDPOINT.c.id == endpoint_id,
                                                   ENDPOINT.c.disabled_at.is_(None))
                            .values(disabled_at=now))
        if not done.rowcount:
            raise NotFound("No such active endpoint.")


def enqueue(conn, event_type: str, email: str | None, event: dict) -> None:
    """Put a message for every active endpoint that wants this type into the outbox, on the
    connection of the event's own transaction (so both are written or neither)."""
    endpoints = conn.execute(select(ENDPOINT.c.id, ENDPOINT.c.events).where(
        ENDPOINT.c.disabled_at.is_(None))).all()
    wanted = [e.id for e in endpoints if event_type in e.events.split()]
    if not wanted:
        return
    now = event["recorded_at"]
    payload = json.dumps({"type": event_type, "timestamp": now.isoformat(), "data": {
        "email": email, "event_id": event["event_id"], "choices": json.loads(event["choices"])}},
        ensure_ascii=False, separators=(",", ":"))
    conn.execute(insert(DELIVERY), [{
        "endpoint_id": endpoint_id, "msg_id": f"msg_{uuid.uuid4().hex}", "event_type": event_type,
        "payload": payload, "created_at": now, "attempts": 0, "next_at": now}
        for endpoint_id in wanted])


def _post(url: str, body: bytes, headers: dict, timeout: float) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def deliver(session: Session, now: datetime, timeout: float = 10) -> tuple[int, int]:
    """Send every message that is due, oldest first; (delivered, failed). A failure waits
    30 s, then twice as long after each further one (at most 6 hours), and is sent again with
    the same `webhook-id`, so the receiver can drop a repeat."""
    with engine_of(session).connect() as conn:  # a read of its own, ended before any send
        due = conn.execute(
            select(DELIVERY, ENDPOINT.c.url, ENDPOINT.c.secret)
            .join(ENDPOINT, ENDPOINT.c.id == DELIVERY.c.endpoint_id)
            .where(DELIVERY.c.delivered_at.is_(None), DELIVERY.c.next_at <= now,
                   ENDPOINT.c.disabled_at.is_(None))
            .order_by(DELIVERY.c.id).limit(BATCH)).all()
    sent = failed = 0
    for row in due:
        body = row.payload.encode()
        headers = {"Content-Type": "application/json", "webhook-id": row.msg_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(row.secret).sign(row.msg_id, now, body)}
        try:
            status, error = _post(row.url, body, headers, timeout), None
        except OSError as problem:  # refused, reset, timed out (URLError says which)
            status, error = None, type(getattr(problem, "reason", problem)).__name__
        ok = status is not None and 200 <= status < 300
        wait = min(FIRST_RETRY * 2 ** row.attempts, LAST_RETRY)
        with writing(session) as conn:
            conn.execute(update(DELIVERY).where(DELIVERY.c.id == row.id).values(
                attempts=row.attempts + 1, last_status=status,
                last_error=None if ok else (error or f"HTTP {status}"),
                delivered_at=now if ok else None, next_at=row.next_at if ok else now + wait))
        sent, failed = sent + ok, failed + (not ok)
    return sent, failed


def endpoints(session: Session) -> list[dict]:
    """Every endpoint with its counts and its last deliveries and failures (console, CLI)."""
    out = []
    for endpoint in session.execute(select(ENDPOINT).order_by(ENDPOINT.c.id)).all():
        recent = session.execute(select(DELIVERY).where(DELIVERY.c.endpoint_id == endpoint.id,
                                                        DELIVERY.c.attempts > 0)
                                 .order_by(DELIVERY.c.id.desc()).limit(10)).all()
        waiting = session.execute(select(DELIVERY.c.id).where(
            DELIVERY.c.endpoint_id == endpoint.id, DELIVERY.c.delivered_at.is_(None))).all()
        out.append({"id": endpoint.id, "url": endpoint.url, "events": endpoint.events.split(),
                    "created_at": endpoint.created_at, "disabled_at": endpoint.disabled_at,
                    "waiting": len(waiting),
                    "recent": [{"msg_id": d.msg_id, "type": d.event_type,
                                "attempts": d.attempts, "status": d.last_status,
                                "error": d.last_error, "delivered_at": d.delivered_at}
                               for d in recent]})
    return out
