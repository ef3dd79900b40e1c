"""People's pages: confirm a sign-up, unsubscribe, and the person's own page.

A GET never changes anything (link scanners fetch links, M-04, M-08): each page has one button
that POSTs. The confirmation page submits itself where JavaScript runs, from a script file (the
pages' CSP allows no inline script). No cookies, no CSRF token: the signed link is the proof.
"""
from flask import Blueprint, current_app, json, render_template, request
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l

from ..consent import purposes
from ..errors import DomainError, Invalid
from ..extensions import db
from ..http import limits
from ..ledger import receipts
from ..models import utcnow
from ..people import links, rights, subscriptions
from ..people.persons import KEYS
from . import history as history_text

bp = Blueprint("subscriptions_web", __name__, template_folder="templates")
limits.limit_public_writes(bp)  # its POSTs are public writes too

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store",
           "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}  # the token in the URL goes nowhere else
# What each table of the download holds, said to the person.
HELD = {"person": _l("Your e-mail address, language, sign-up (time and IP address prefix) and "
                     "withdrawals."),
        "customer_basis": _l("The purchases we registered for marketing to existing customers: "
                             "product category and date."),
        "consent_event": _l("Every change of your choices: time, what you chose, the privacy "
                            "notice shown, how, the IP address prefix and browser, and its hash "
                            "in the consent log."),
        "consent_state": _l("Your choices as they are now.")}
HELD_OTHER = _l("Other records about you.")
# What each field of the download is, said to the person; the field names stay the
# database's, the same in every language, as a download for portability must (Art. 20).
FIELDS = {
    "seq": _l("Sequence number in the consent log"), "v": _l("Format version of the entry"),
    "event_id": _l("Event ID"), "recorded_at": _l("Recorded (UTC)"),
    "subject_type": _l("Kind of subject (device or person)"),
    "subject": _l("Your code in the consent log (made from your address or consent ID)"),
    "action": _l("What happened"), "choices": _l("Your choices after it"),
    "policy_version": _l("Notice version"), "language": _l("Language"),
    "text_hash": _l("Checksum of the privacy notice text you were shown"),
    "source": _l("How"), "gpc": _l("Your browser's privacy signal (GPC)"),
    "ip": _l("Start of the IP address"), "user_agent": _l("Browser"),
    "pii_salt": _l("Random value that protects the IP address and browser in the log"),
    "ip_digest": _l("Checksum of the start of the IP address"),
    "ua_digest": _l("Checksum of the browser"), "basis": _l("Legal basis"),
    "details": _l("Details"), "prev_hash": _l("Checksum of the entry before"),
    "hash": _l("Checksum of this entry"), "first_at": _l("First recorded (UTC)"),
    "address_hash": _l("Code made from your address"), "email": _l("E-mail address"),
    "consent_id": _l("Your consent ID"), "created_at": _l("Created"),
    "pending": _l("Sign-up waiting for your confirmation"),
    "pending_policy_version": _l("Notice version of the sign-up waiting for confirmation"),
    "signup_at": _l("Signed up (UTC)"), "signup_ip": _l("Start of the IP address at sign-up"),
    "confirm_nonce": _l("One-time code of the confirmation link"),
    "mail_due": _l("Confirmation e-mail still to be sent"),
    "mail_sent_at": _l("Confirmation e-mail sent (UTC)"),
    "access_sent_at": _l("Last link to this page sent (UTC)"),
    "withdrawn": _l("Withdrawals"), "restricted_at": _l("Processing restricted since (UTC)"),
    "new_email": _l("New e-mail address waiting for confirmation"),
    "new_email_nonce": _l("One-time code of the link to the new address"),
    "product_category": _l("Product category"), "sale_date": _l("Date of purchase"),
    "site": _l("Website"),
}


def _page(template: str, language: str, status: int = 200, **context):
    site = current_app.extensions["consent_site"]
    with force_locale(language):
        names = {key: str(purposes.BY_KEY[key].name) for key in KEYS}
        if "page" in context:  # the own page: its history in the person's words
            context["history"] = history_text.describe(context["page"]["events"], names,
                                                       site.controller)
        html = render_template(template, language=language, names=names,
                               privacy_url=f"/privacy/{language}", controller=site.controller,
                               has_logo=site.theme.logo is not None, **context)
    return html, status, {**HEADERS, "Content-Language": language}


def _error(error: DomainError, language: str | None = None, access: bool = False):
    """A bad, expired or used link: a page in the reader's language, never a stack trace; an
    expired link to the own page advises a new link, not a new sign-up."""
    lang = language or str(get_locale())
    kind = {404: "invalid", 410: "expired" if isinstance(error, links.LinkExpired)
            else "used"}.get(error.status, "invalid")
    return _page("people/link_problem.html", lang, error.status, kind=kind, access=access)


@bp.get("/subscriptions/confirm/<token>")
def confirm_page(token: str):
    """The confirmation page: one button, and no script: link scanners that run a page's
    scripts (Safe Links, Barracuda, Proofpoint) confirm nothing; the person's click does (M-08)."""
    try:
        shown = subscriptions.confirm_page(db.session, token)
    except DomainError as error:
        return _error(error)
    return _page("people/confirm.html", shown["language"], wanted=shown["purposes"])


@bp.post("/subscriptions/confirm/<token>")
def confirm(token: str):
    """Record the grant (source `confirm`): the link is used up."""
    try:
        done = subscriptions.confirm(db.session, token, utcnow(), ip=request.remote_addr,
                                     user_agent=request.user_agent.string or None)
    except DomainError as error:
        return _error(error)
    return _page("people/confirmed.html", done["language"], choices=done["choices"],
                 receipt=receipts.issue_here(done["event"]))


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """The unsubscribe page: one button (and one for everything); changes nothing."""
    try:
        _person, target = subscriptions.unsubscribe_target(db.session, token)
    except DomainError as error:
        return _error(error)
    return _page("people/unsubscribe.html", target["language"], purpose=target["purpose"],
                 done=False)


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str):
    """Withdraw the purpose at once: the page's button, or an RFC 8058 one-click POST
    (`List-Unsubscribe=One-Click`); `everything=1` withdraws every purpose (R-03)."""
    try:
        target = subscriptions.unsubscribe(db.session, token, request.form.get("everything") == "1",
                                           utcnow())
    except DomainError as error:
        return _error(error)
    event = target["event"]
    return _page("people/unsubscribe.html", target["language"], purpose=target["purpose"],
                 done=True,
                 everything=request.form.get("everything") == "1",
                 receipt=receipts.issue_here(event) if event else None)


@bp.get("/subscriptions/me/<token>")
def own_page(token: str):
    """The person's own page: their choices and history, download, change, erase (R-01)."""
    try:
        page = rights.own_page(db.session, token)
    except DomainError as error:
        return _error(error, access=True)
    return _page("people/person.html", page["language"], page=page, token=token, saved=False)


@bp.post("/subscriptions/me/<token>")
def change(token: str):
    """Save the person's choices from their page."""
    choices = {key: request.form.get(key) == "on" for key in KEYS}
    try:
        page = rights.change(db.session, token, choices, utcnow())
    except DomainError as error:
        return _error(error, access=True)
    return _page("people/person.html", page["language"], page=page, token=token, saved=True)


@bp.post("/subscriptions/me/<token>/address")
def ask_new_address(token: str):
    """Change the address (Art. 16): a link goes to the new address; nothing changes yet."""
    new = request.form.get("new_email", "")
    try:
        rights.ask_new_address(db.session, token, new)
        page = rights.own_page(db.session, token)
    except Invalid:
        page = rights.own_page(db.session, token)
        return _page("people/person.html", page["language"], 200, page=page, token=token,
                     saved=False, address_error=True)
    except DomainError as error:
        return _error(error, access=True)
    return _page("people/person.html", page["language"], page=page, token=token, saved=False,
                 address_sent=new.strip())


@bp.get("/subscriptions/address/<token>")
def new_address_page(token: str):
    """The link mailed to a new address: one button; changes nothing by itself."""
    try:
        shown = rights.new_address(db.session, token)
    except DomainError as error:
        return _error(error)
    return _page("people/new_address.html", shown["language"], email=shown["email"], done=False)


@bp.post("/subscriptions/address/<token>")
def new_address(token: str):
    """Confirm the new address: the person keeps their history under it (R-04)."""
    try:
        shown = rights.new_address(db.session, token, utcnow())
    except DomainError as error:
        return _error(error)
    return _page("people/new_address.html", shown["language"], email=shown["email"], done=True)


@bp.post("/subscriptions/me/<token>/restrict")
def restrict(token: str):
    """Restrict processing (Art. 18) or lift the restriction, from the person's own page."""
    try:
        page = rights.restrict(db.session, token, request.form.get("restrict") == "1", utcnow())
    except DomainError as error:
        return _error(error, access=True)
    return _page("people/person.html", page["language"], page=page, token=token, saved=True)


@bp.post("/subscriptions/me/<token>/object")
def object_to_marketing(token: str):
    """The person objects to all direct marketing (GDPR Art. 21(3), R-03)."""
    try:
        page = rights.object_to_marketing(db.session, token, utcnow())
    except DomainError as error:
        return _error(error)
    return _page("people/person.html", page["language"], page=page, token=token, saved=True)


@bp.get("/subscriptions/me/<token>/history.json")
def history(token: str):
    """The person's history as JSON (access and portability, R-01), each event with its signed
    receipt (L-08)."""
    try:
        page = rights.own_page(db.session, token)
    except DomainError as error:
        return _error(error, access=True)
    events = [{**item, "recorded_at": item["recorded_at"].isoformat(),
               "receipt": receipts.issue_here({**item, "subject": page["subject"]})}
              for item in page["events"]]
    # beside the history, every field held about the person, table by table, each
    # table introduced in the person's language.
    records = rights.held(db.session, page["subject"])
    with force_locale(page["language"]):
        about = {name: str(HELD.get(name, HELD_OTHER)) for name in records}
        labels = {name: str(FIELDS[name]) for name in sorted(
            {column for rows in records.values() for row in rows for column in row})
            if name in FIELDS}
    body = json.dumps({**{key: page[key] for key in ("email", "subject", "choices", "pending",
                                                     "erased", "restricted")},
                       "events": events, "everything_we_hold": records, "about": about,
                       "labels": labels}, indent=2)
    return current_app.response_class(body, mimetype="application/json", headers={
        **HEADERS, "Content-Disposition": 'attachment; filename="my-consents.json"'})


@bp.get("/subscriptions/me/<token>/erase")
def erase_page(token: str):
    """Erasure asks once more: what is deleted, what is kept, and one button (R-07)."""
    try:
        page = rights.own_page(db.session, token)
    except DomainError as error:
        return _error(error, access=True)
    if page["erased"]:
        return _page("people/erased.html", page["language"])
    return _page("people/erase.html", page["language"], token=token)


@bp.post("/subscriptions/me/<token>/erase")
def erase(token: str):
    """Erase the person's address and personal data (R-02), once the person has said yes on the
    page that says what goes and what stays (R-07); without that answer, that page again."""
    try:
        page = rights.own_page(db.session, token)
        if request.form.get("confirmed") != "1":
            if page["erased"]:
                return _page("people/erased.html", page["language"])
            return _page("people/erase.html", page["language"], token=token)
        rights.erase(db.session, token, utcnow())
    except DomainError as error:
        return _error(error, access=True)
    return _page("people/erased.html", page["language"])
