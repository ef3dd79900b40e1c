"""Mail to people over real SMTP (aiosmtpd on loopback): login, multipart, refusals."""
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from consent_server.people import mail

# Our loopback test server asks for a login without TLS; aiosmtpd rightly warns about it.
NO_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


class Authenticator:
    def __init__(self):
        self.logins = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"mailer", b"s3cret")
        self.logins.append(ok)
        return AuthResult(success=ok)


@pytest.fixture
def auth_smtp(start_smtp):
    """An SMTP server that wants the login mailer / s3cret; .auth.logins lists each try."""
    auth = Authenticator()
    box = start_smtp(authenticator=auth, auth_required=True, auth_require_tls=False)
    box.auth = auth
    return box


def message(app, to="kari@example.no", language="en"):
    with app.test_request_context():
        return mail.build("confirm", to, language, controller="EXENTRI AS",
                          purposes=[{"name": "Newsletter", "meaning": "Our newsletter."}],
                          url="https://consent.example/x", hours=48,
                          privacy_url="https://consent.example/privacy/en")


def test_a_mail_is_multipart_text_and_html_in_the_persons_language(app, smtp):
    with app.app_context():
        mail.send(message(app, language="nb"))
    [got] = smtp.messages
    assert got.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in got.iter_parts()] == ["text/plain", "text/html"]
    assert got["Content-Language"] == "nb" and got["Message-ID"]
    assert got["From"] == "Exentri <nyhetsbrev@exentri.example>"
    assert "Hei," in got.get_body(("plain",)).get_content()
    assert '<html lang="nb">' in got.get_body(("html",)).get_content()


@NO_TLS
def test_the_server_logs_in_with_the_configured_user(app, auth_smtp, config):
    config.update(SMTP_PORT=auth_smtp.port, SMTP_USER="mailer", SMTP_PASSWORD="s3cret")
    with app.app_context():
        mail.send(message(app))
    assert auth_smtp.auth.logins == [True] and len(auth_smtp.messages) == 1


@NO_TLS
def test_a_refused_login_or_a_dead_server_is_a_mail_error_without_the_address(app, auth_smtp,
                                                                              config, free_port):
    config.update(SMTP_PORT=auth_smtp.port, SMTP_USER="mailer", SMTP_PASSWORD="wrong")
    with app.app_context():
        with pytest.raises(mail.MailError) as refused:
            mail.send(message(app))
        assert "kari" not in str(refused.value)
        config.update(SMTP_PORT=free_port())
        with pytest.raises(mail.MailError):
            mail.send(message(app))
    assert auth_smtp.messages == []
