"""Fixtures for the people and marketing tests: a real SMTP server on loopback (aiosmtpd), the
settings that send the app's mail there, API keys, and helpers that walk a sign-up through its
mail. A test module whose app should mail overrides `app_settings` with `mail_settings`."""
import csv
import email
import io
import json
import re
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller

from consent_server.extensions import db
from consent_server.staff import keys

PUBLIC_URL = "https://consent.example"


class Mailbox:
    """What the SMTP server received, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email_policy.default))
        return "250 OK"


@pytest.fixture
def start_smtp(free_port):
    """start_smtp(**options): a real SMTP server on 127.0.0.1 (aiosmtpd's Controller options,
    e.g. an authenticator); its Mailbox, with .port; stopped after the test."""
    running = []

    def start(**options) -> Mailbox:
        box = Mailbox()
        controller = Controller(box, hostname="127.0.0.1", port=free_port(), **options)
        controller.start()
        running.append(controller)
        box.port = controller.port
        return box

    yield start
    for controller in running:
        controller.stop()


@pytest.fixture
def smtp(start_smtp):
    """A real SMTP server on 127.0.0.1; .messages holds what arrived."""
    return start_smtp()


@pytest.fixture
def mail_settings(smtp) -> dict:
    """The settings that send the app's mail through `smtp`, with links to PUBLIC_URL."""
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port, "SMTP_STARTTLS": False,
            "PUBLIC_URL": PUBLIC_URL, "MAIL_FROM": "Exentri <nyhetsbrev@exentri.example>"}


@pytest.fixture
def api_key(app):
    """api_key(role="marketing"): a new API key of a role; returns the Authorization header."""

    def make(role: str = "marketing") -> dict:
        with app.app_context():
            _key, secret = keys.create_key(db.session, f"test {role}", role)
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def signup() -> dict:
    """A sign-up's body without its address: the newsletter, in bokmål, under notice "1"."""
    return {"purposes": {"newsletter": True, "marketing": False}, "language": "nb",
            "policy_version": "1"}


@pytest.fixture
def sign_up(signup):
    """sign_up(client, address, **fields): POST /api/v1/subscriptions; the response."""

    def post(client, address: str, **fields):
        return client.post("/api/v1/subscriptions", json={**signup, "email": address, **fields})

    return post


def _text_part(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture
def text_part():
    """text_part(message): a mail's plain text."""
    return _text_part


@pytest.fixture
def html_part():
    """html_part(message): a mail's HTML."""
    return lambda message: message.get_body(("html",)).get_content()


def _link(message, kind: str) -> str:
    found = re.search(PUBLIC_URL + r"(/[\w/]*" + kind + r"/[\w.\-]+)", _text_part(message))
    assert found, _text_part(message)
    return found.group(1)


@pytest.fixture
def link():
    """link(message, kind): the path of the first link of a kind (confirm, me, unsubscribe)
    in a mail's text."""
    return _link


@pytest.fixture
def confirmed(sign_up):
    """confirmed(client, smtp, address, **fields): sign up and confirm through the mail's link."""

    def confirm(client, smtp, address: str, **fields) -> None:
        before = len(smtp.messages)
        assert sign_up(client, address, **fields).status_code == 202
        assert len(smtp.messages) == before + 1
        assert client.post(_link(smtp.messages[-1], "confirm")).status_code == 200

    return confirm


@pytest.fixture
def check():
    """check(client, headers, purpose, emails, **extra): the marketing API's pre-send check;
    [(status, reason)] per address."""

    def call(client, headers, purpose: str, emails: list, **extra):
        response = client.post("/api/v1/marketing/check", headers=headers,
                               json={"purpose": purpose, "emails": emails, **extra})
        assert response.status_code == 200, response.get_json()
        return [(r["status"], r["reason"]) for r in response.get_json()["results"]]

    return call


@pytest.fixture
def access_link():
    """access_link(client, smtp, address): ask for the own page by mail; the link's path."""

    def ask(client, smtp, address: str) -> str:
        before = len(smtp.messages)
        response = client.post("/api/v1/subscriptions/access", json={"email": address})
        assert response.status_code == 202 and response.get_json() == {"status": "accepted"}
        assert len(smtp.messages) == before + 1
        return _link(smtp.messages[-1], "me")

    return ask


@pytest.fixture
def audience():
    """audience(client, headers, purpose="newsletter", fmt="ndjson", **args): the marketing
    API's audience export, parsed into one dict per address."""

    def export(client, headers, purpose="newsletter", fmt="ndjson", **args):
        response = client.get("/api/v1/marketing/audience", headers=headers,
                              query_string={"purpose": purpose, "format": fmt, **args})
        assert response.status_code == 200, response.data
        if fmt == "csv":
            return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]

    return export
