"""Webhooks to the marketing tools (REQ L-09): an outbox written with the event, Standard
Webhooks signatures checked by the `standardwebhooks` package on a real receiver on loopback,
which is killed mid-run and comes back: every message arrives, at least once."""
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from consent_server import ledger
from consent_server.errors import Invalid
from consent_server.extensions import db
from consent_server.models import WebhookDelivery, utcnow
from consent_server.people import webhooks
from consent_server.people.marketing import months_before


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server and may post webhooks to loopback http."""
    return {**mail_settings, "WEBHOOK_LOOPBACK_HTTP": True}


class Receiver:
    """A marketing tool's webhook endpoint on 127.0.0.1 that checks every signature."""

    def __init__(self, port: int):
        self.port, self.secret, self.got, self.bad, self.server = port, None, [], [], None

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    payload = Webhook(receiver.secret).verify(body, dict(self.headers))
                except Exception as error:  # noqa: BLE001 (any failure is a bad delivery)
                    receiver.bad.append(str(error))
                    self.send_response(400)
                else:
                    receiver.got.append((self.headers["webhook-id"], payload))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kill(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(free_port):
    found = Receiver(free_port())
    found.start()
    yield found
    found.kill()


def test_every_event_arrives_signed_though_the_receiver_was_down(
        app, client, smtp, runner, receiver, confirmed, access_link, api_key):
    """REQ L-09: granted, withdrawn, objected and erased, each in the outbox with its event;
    three sent while the receiver is dead fail, wait, and arrive once it is back; a message is
    never sent again once delivered; the receiver verifies every signature."""
    result = runner.invoke(args=["consent", "add-webhook", "--url",
                                 f"http://127.0.0.1:{receiver.port}/hook", *[
                                     arg for kind in webhooks.EVENT_TYPES
                                     for arg in ("--event", kind)]])
    assert result.exit_code == 0, result.output
    receiver.secret = result.output.split()[-1]
    assert receiver.secret.startswith("whsec_")
    confirmed(client, smtp, "Kari@example.no")
    assert "delivered 1, failed 0" in runner.invoke(args=["consent", "deliver-webhooks"]).output

    receiver.kill()
    path = access_link(client, smtp, "kari@example.no")
    client.post(path, data={})  # withdraws the newsletter
    client.post("/api/v1/marketing/customers", headers=api_key(), json={"customers": [
        {"email": "kunde@example.no", "sale_date": utcnow().date().isoformat(),
         "product_category": "sko", "opt_out_offered": True}]})
    client.post(access_link(client, smtp, "kunde@example.no") + "/object")
    client.post(path + "/erase", data={"confirmed": "1"})
    down = runner.invoke(args=["consent", "deliver-webhooks"])
    assert "delivered 0, failed 3" in down.output, down.output
    listed = runner.invoke(args=["consent", "list-webhooks"]).output
    assert "waiting=3" in listed and "failed (ConnectionRefusedError)" in listed

    receiver.start()
    with app.app_context():
        assert webhooks.deliver(db.session, utcnow()) == (0, 0)  # still waiting its back-off
        assert webhooks.deliver(db.session, utcnow() + timedelta(minutes=1)) == (3, 0)
        assert webhooks.deliver(db.session, utcnow() + timedelta(hours=9)) == (0, 0)
        stored = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)
                                    ).scalars().all()
    assert receiver.bad == []
    assert [msg_id for msg_id, _ in receiver.got] == [d.msg_id for d in stored]
    assert [payload["type"] for _, payload in receiver.got] == [
        "person.granted", "person.withdrawn", "person.objected", "person.erased"]
    assert [payload["data"]["email"] for _, payload in receiver.got] == [
        "Kari@example.no", "Kari@example.no", "kunde@example.no", "Kari@example.no"]
    for _, payload in receiver.got:  # the address and nothing else of the person
        assert set(payload["data"]) == {"email", "event_id", "choices"}
    assert [d.attempts for d in stored] == [1, 2, 2, 2]
    assert all(d.delivered_at is not None for d in stored)


def test_endpoints_are_https_only_and_name_known_event_types(app, config):
    """http only to loopback, and only where allowed (tests)."""
    with app.app_context():
        for url in ("http://example.com/hook", "ftp://127.0.0.1/", "https:///nohost"):
            with pytest.raises(Invalid):
                webhooks.add_endpoint(db.session, url, ["person.erased"], utcnow())
        with pytest.raises(Invalid):
            webhooks.add_endpoint(db.session, "https://tool.example/hook", ["person.sold"],
                                  utcnow())
        config["WEBHOOK_LOOPBACK_HTTP"] = False
        with pytest.raises(Invalid):
            webhooks.add_endpoint(db.session, "http://127.0.0.1:9/hook", ["person.erased"],
                                  utcnow())
        endpoint_id, secret = webhooks.add_endpoint(
            db.session, "https://tool.example/hook", ["person.erased"], utcnow())
        assert secret.startswith("whsec_") and len(secret) > 30
        webhooks.disable_endpoint(db.session, endpoint_id, utcnow())
        assert webhooks.endpoints(db.session)[0]["disabled_at"] is not None


def test_a_message_is_in_the_outbox_only_when_its_event_is(app, client, smtp, sign_up, link):
    """Written in the event's own transaction: no endpoint wanting the type, no message."""
    with app.app_context():
        webhooks.add_endpoint(db.session, "https://tool.example/hook", ["person.erased"],
                              utcnow())
    assert sign_up(client, "kari@example.no").status_code == 202
    assert client.post(link(smtp.messages[-1], "confirm")).status_code == 200
    with app.app_context():
        assert db.session.execute(select(WebhookDelivery)).first() is None


def test_an_admin_registers_sees_and_disables_an_endpoint_in_the_console(app, signed_in,
                                                                          csrf_token,
                                                                          access_log):
    """REQ L-09: the secret once, each endpoint's last deliveries and failures, disable."""
    admin = signed_in(app, "admin@example.com", "admin")
    url = "/console/admin/webhooks"
    refused = admin.post(url, data={"csrf_token": csrf_token(admin, url),
                                    "url": "http://tool.example/hook", "events": ["person.erased"]})
    assert refused.status_code == 422 and "https-URL" in refused.get_data(as_text=True)
    made = admin.post(url, data={"csrf_token": csrf_token(admin, url),
                                 "url": "https://tool.example/hook",
                                 "events": ["person.objected", "person.erased"]})
    html = made.get_data(as_text=True)
    assert made.status_code == 201 and 'id="new-secret">whsec_' in html
    assert "person.objected, person.erased" in html
    with app.app_context():
        [endpoint] = webhooks.endpoints(db.session)
    assert "whsec_" not in admin.get(url).get_data(as_text=True)  # shown once
    disabled = admin.post(f"{url}/{endpoint['id']}/disable",
                          data={"csrf_token": csrf_token(admin, url)})
    assert disabled.status_code == 302
    assert "Deaktivert" in admin.get(url).get_data(as_text=True)
    assert admin.post(f"{url}/999/disable",
                      data={"csrf_token": csrf_token(admin, url)}).status_code == 404
    assert access_log(app, "webhook_added") == [(f"endpoint {endpoint['id']}", None)]


def test_a_lapsed_customer_basis_is_recorded_once_and_sent_as_person_lapsed(
        app, client, runner, api_key, check):
    """REQ M-07, L-09: purge-expired ends the basis with a system `expire` event (basis
    customer) and a person.lapsed message in its transaction; once; a new sale starts over."""
    with app.app_context():
        webhooks.add_endpoint(db.session, "https://tool.example/hook", ["person.lapsed"],
                              utcnow())
    key = api_key()
    # lapsed 5 days ago: its address is kept for CONSENT_PERSON_RETENTION_DAYS yet
    old = (months_before(utcnow().date(), 24) - timedelta(days=5)).isoformat()
    client.post("/api/v1/marketing/customers", headers=key, json={"customers": [
        {"email": "gammel@example.no", "sale_date": old, "product_category": "sko",
         "opt_out_offered": True},
        {"email": "fersk@example.no", "sale_date": utcnow().date().isoformat(),
         "product_category": "sko", "opt_out_offered": True}]})
    first = runner.invoke(args=["consent", "purge-expired"])
    assert "ended 1 customer relationships past 24 months" in first.output, first.output
    again = runner.invoke(args=["consent", "purge-expired"])
    assert "ended 0 customer relationships" in again.output
    with app.app_context():
        [message] = db.session.execute(select(WebhookDelivery)).scalars().all()
        result = ledger.verify(db.session)
        assert result.ok and result.state_ok, result.as_dict()
    assert message.event_type == "person.lapsed"
    assert '"email":"gammel@example.no"' in message.payload
    assert check(client, key, "marketing", ["gammel@example.no", "fersk@example.no"],
                 product_category="sko") == [("denied", "customer_lapsed"),
                                             ("allowed", "customer")]
