"""E-mail to people: multipart (text and HTML) from templates in the catalog's languages, sent
over SMTP (CONSENT_SMTP_*), or written to an outbox folder as .eml files when no SMTP host is set.
The HTML part's styles are inlined (css-inline): mail programs drop <style> blocks.
"""
import logging
import os
import secrets
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate, make_msgid

import css_inline
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from .. import metrics
from ..consent.colours import palette

log = logging.getLogger(__name__)
INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


class MailError(Exception):
    """The mail could not be handed over (the caller keeps it due and retries)."""


def subject_line(kind: str) -> str:
    """The subject of a kind of mail, in the current locale."""
    return {"confirm": _("Confirm your subscription"),
            "access": _("Your subscriptions and consents"),
            "new_address": _("Confirm your new e-mail address")}[kind]


def build(kind: str, to: str, language: str, **context) -> EmailMessage:
    """A mail of one kind (templates mail/<kind>.txt and .html) in the person's language."""
    cfg = current_app.config
    with force_locale(language):
        message = EmailMessage()
        message["Subject"] = subject_line(kind)
        message["From"] = cfg["MAIL_FROM"]
        message["To"] = to
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=cfg["MAIL_FROM"].rpartition("@")[2]
                                           .strip(">") or None)
        message["Auto-Submitted"] = "auto-generated"
        site = current_app.extensions["consent_site"]
        if site.contact:  # a reply reaches the controller, not a no-reply box
            message["Reply-To"] = site.contact
        light = palette(site.theme.accent)["light"]
        context = {"language": language, "controller": site.controller, "contact": site.contact,
                   "theme": {"accent": light["--accent"], "accent_fg": light["--accent-fg"],
                             "link": light["--link"]}, **context}
        message.set_content(render_template(f"mail/{kind}.txt", **context))
        html = INLINER.inline(render_template(f"mail/{kind}.html", **context))
        message.add_alternative(html, subtype="html")
        message["Content-Language"] = language  # after the content: set_content drops Content-*
    return message


def outbox() -> str:
    """The folder .eml files go to when no SMTP host is configured."""
    return current_app.config["MAIL_OUTBOX"] or os.path.join(current_app.instance_path, "outbox")


def send(message: EmailMessage) -> None:
    """Hand a message to the SMTP server (or write it to the outbox); MailError on failure."""
    cfg = current_app.config
    if not cfg["SMTP_HOST"]:
        folder = outbox()
        os.makedirs(folder, exist_ok=True)
        name = os.path.join(folder, f"{secrets.token_hex(8)}.eml")
        with open(name, "wb") as out:
            out.write(message.as_bytes())
        log.info("no SMTP host configured: mail written to %s", name)
        metrics.MAILS.labels("sent").inc()
        return
    try:
        with smtplib.SMTP(cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]),
                          timeout=float(cfg["SMTP_TIMEOUT"])) as smtp:
            if cfg["SMTP_STARTTLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if cfg["SMTP_USER"]:
                smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        metrics.MAILS.labels("failed").inc()
        # The reason's class only: an SMTP reply may quote the recipient's address (S-06).
        raise MailError(type(error).__name__) from None
    metrics.MAILS.labels("sent").inc()


def forget(address: str) -> int:
    """Delete every mail to address still in the outbox (an erasure leaves no copy of the
    address there, R-02); how many. Sent mails over SMTP are the mail server's to keep."""
    folder, parser, gone = outbox(), BytesHeaderParser(policy=policy.default), 0
    if current_app.config["SMTP_HOST"] or not os.path.isdir(folder):
        return 0
    wanted = address.casefold()
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if not name.endswith(".eml"):
            continue
        with open(path, "rb") as mail:
            to = parser.parse(mail).get("To", "")
        if any(each.addr_spec.casefold() == wanted for each in getattr(to, "addresses", ())):
            os.remove(path)
            gone += 1
    return gone
