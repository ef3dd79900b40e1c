"""Fixtures for the people and marketing tests: a real SMTP server on loopback (aiosmtpd), the
app wired to it, API keys, and helpers that walk a sign-up through its mail."""
import email
import re
import socket
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller

from consent_server.staff import keys
from consent_server.extensions import db
from conftest import empty_and_close, make_app, publish

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1; .messages holds what arrived."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


def mail_settings(port: int) -> dict:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_STARTTLS": False,
            "PUBLIC_URL": PUBLIC_URL, "MAIL_FROM": "Exentri <nyhetsbrev@exentri.example>"}


@pytest.fixture
def papp(database_url, smtp):
    """The app with mail through the loopback SMTP server, notice version "1" published."""
    app = make_app(database_url, **mail_settings(smtp.port))
    publish(app)
    yield app
    empty_and_close(app)


@pytest.fixture
def pclient(papp):
    return papp.test_client()


@pytest.fixture
def api_key(papp):
    """Make an API key of a role; returns the Authorization header."""

    def make(role: str = "marketing") -> dict:
        with papp.app_context():
            _key, secret = keys.create_key(db.session, f"test {role}", role)
        return {"Authorization": f"Bearer {secret}"}

    return make


SIGNUP = {"purposes": {"newsletter": True, "marketing": False}, "language": "nb",
          "policy_version": "1"}


def sign_up(client, address: str, **fields):
    return client.post("/api/v1/subscriptions", json={**SIGNUP, "email": address, **fields})


def text_part(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_part(message) -> str:
    return message.get_body(("html",)).get_content()


def link(message, kind: str) -> str:
    """The path of the first link of a kind (confirm, me, unsubscribe) in a mail's text."""
    found = re.search(PUBLIC_URL + r"(/[\w/]*" + kind + r"/[\w.\-]+)", text_part(message))
    assert found, text_part(message)
    return found.group(1)


def confirmed(client, smtp, address: str, **fields) -> None:
    """Sign up and confirm through the mail's link."""
    before = len(smtp.messages)
    assert sign_up(client, address, **fields).status_code == 202
    assert len(smtp.messages) == before + 1
    assert client.post(link(smtp.messages[-1], "confirm")).status_code == 200


def check(client, headers, purpose: str, emails: list, **extra):
    response = client.post("/api/v1/marketing/check", headers=headers,
                           json={"purpose": purpose, "emails": emails, **extra})
    assert response.status_code == 200, response.get_json()
    return [(r["status"], r["reason"]) for r in response.get_json()["results"]]
