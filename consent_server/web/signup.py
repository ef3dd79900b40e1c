"""The sign-up form a site pastes: a plain `<form>` that posts here and works without
JavaScript (POST /subscriptions/signup answers with a page), and the same form on a page of its
own (GET /subscriptions/signup). The widget, where it runs, fills the form's hidden fields (the
device's consent id, the page's language, the notice version the banner showed).

A form on another site cannot carry a CSRF token. What a forged post can do is what the API
lets anyone do: ask for a confirmation mail, which records nothing until the address's owner
presses the button its link opens (M-02). So the form goes through the API's own path and
limits: its schema, `people.subscriptions.sign_up` (at most one mail per address per
CONSENT_CONFIRM_RESEND_MINUTES), the public-write budget per client network, 16 KiB, and only
the origins allowed to write (a browser sends its page's Origin with the post).
"""
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import force_locale, get_locale
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from ..api import guard_public_writes
from ..api.subscriptions import SubscriptionCreateSchema
from ..consent import notices, purposes
from ..errors import DomainError
from ..extensions import db
from ..http import limits, sites
from ..http.i18n import normalise
from ..models import utcnow
from ..people import links, subscriptions
from ..people.persons import KEYS
from .subscriptions import HEADERS

bp = Blueprint("signup", __name__, template_folder="templates")
bp.before_request(guard_public_writes)  # origins allowed to write


@bp.before_request
def capped() -> None:
    """16 KiB, as the API's bodies (the form is read before the blueprint's hooks run, by the
    check of every form: http/inputs.py, so the length is what is looked at)."""
    if (request.content_length or 0) > current_app.config["PUBLIC_MAX_BODY"]:
        abort(413)


limits.limit_public_writes(bp)  # the API's budget per client network


def _site(writing: bool = False):
    """The site the form is for (several sites): the one its hidden `site` field names, else
    its page's origin, else the default. A write from a page not of the named site's origins
    is refused (403); a page shows the default site's form for a name no site has."""
    try:
        return sites.of_request(request.values.get("site") or None, writing)
    except DomainError:
        if writing:
            raise
        return current_app.extensions["consent_site"]


def form_context(language: str, values: dict | None = None, errors: dict | None = None) -> dict:
    """What the form template (people/signup_form.html) shows: each purpose with its meaning
    from the site file, what was typed and ticked, and what to put right (codes the template
    says in words)."""
    site = _site()
    with force_locale(language):
        listed = [{"key": key, "name": str(purposes.BY_KEY[key].name),
                   "meaning": site.meaning(key, language)} for key in KEYS]
    return {"signup": {
        "action": links.public_url(url_for("signup.post")), "language": language,
        "purposes": listed, "typed": {"email": "", "purposes": [], **(values or {})},
        "errors": errors or {},
        "privacy_url": site.privacy_url(language) or links.public_url(f"/privacy/{language}")}}


def _page(template: str, language: str, status: int, **context):
    site = current_app.extensions["consent_site"]
    with force_locale(language):
        html = render_template(template, language=language, controller=site.controller,
                               has_logo=site.theme.logo is not None,
                               privacy_url=f"/privacy/{language}", **context)
    # The form on this page posts here again: its Origin must go with it (no-referrer sends
    # "null", which the check of origins refuses). No token is in these pages' URLs.
    return html, status, {**HEADERS, "Content-Language": language,
                          "Referrer-Policy": "same-origin"}


def _language() -> str:
    """The form's language field, else the request's language."""
    try:
        named = request.form.get("language")
    except HTTPException:  # a body too large: the form cannot be read
        named = None
    return normalise(named) or str(get_locale())


def _form_page(status: int, values: dict | None = None, errors: dict | None = None):
    """The form on its page: first time, or again with what was typed and what to put right."""
    language = _language()
    return _page("people/signup.html", language, status,
                 **form_context(language, values, errors))


@bp.get("/subscriptions/signup")
def form():
    """The sign-up form on a page of its own (the people's pages' look)."""
    return _form_page(200)


@bp.post("/subscriptions/signup")
def post():
    """A sign-up from the form: the page "check your e-mail" (202; nothing is recorded until
    the button its link opens is pressed; 201 "thank you" without double opt-in), or the form
    again with what to put right (4xx)."""
    chosen = request.form.getlist("purpose")
    values = {"email": request.form.get("email", ""), "purposes": chosen}
    body = {"email": values["email"].strip(), "purposes": dict.fromkeys(chosen, True),
            "language": _language(), "policy_version": request.form.get("policy_version", "")}
    if request.form.get("consent_id"):
        body["consent_id"] = request.form["consent_id"]
    try:
        if not body["policy_version"]:  # a pasted form names no version: its site's current
            current = notices.current(db.session, _site(writing=True).id)
            body["policy_version"] = current.version if current else ""
        loaded = SubscriptionCreateSchema().load(body)
        status, _granted = subscriptions.sign_up(
            db.session, email=loaded["email"], choices=loaded["purposes"],
            language=loaded["language"], policy_version=loaded["policy_version"],
            consent_id=loaded.get("consent_id"), ip=request.remote_addr,
            user_agent=request.user_agent.string or None, now=utcnow())
    except ValidationError as error:
        return _form_page(422, values, _problems(error.messages, chosen))
    except DomainError as error:
        return _form_page(error.status, values, _problems(error.errors or {}, chosen))
    active = status == "active"  # CONSENT_DOUBLE_OPT_IN off: granted at once
    return _page("people/signup_sent.html", body["language"], 201 if active else 202,
                 active=active, back=_back())


def _problems(fields: dict, chosen: list[str]) -> dict:
    """What to put right, per part of the form (the API's messages are for developers)."""
    unknown = [key for key in chosen if key not in KEYS]
    said = {}
    if "email" in fields:
        said["email"] = "invalid"
    if unknown:  # not said back: this server's page would show whatever a post put there
        said["purpose"] = "unknown"
    elif "purposes" in fields or not chosen:
        said["purpose"] = "none"
    return said or {"form": "failed"}


def _back() -> str | None:
    """The site the form was sent from, when it is one of CONSENT_ALLOWED_ORIGINS: a way back
    there (from this server's own pages there is none to offer)."""
    origin = (request.headers.get("Origin") or "").rstrip("/")
    return origin if origin in current_app.config["ALLOWED_ORIGINS"] else None


REFUSALS = {429: "limit", 403: "origin"}


@bp.errorhandler(HTTPException)
def refused(error: HTTPException):
    """Too many sign-ups from one network (429), a site not allowed (403), a body too large:
    the form again saying why, never a problem+json a person cannot read."""
    status = error.code or 400
    html, _status, headers = _form_page(status, errors={
        "form": REFUSALS.get(status, "failed")})
    retry = (getattr(error, "data", None) or {}).get("headers") or {}
    if "Retry-After" in retry:
        headers["Retry-After"] = retry["Retry-After"]
    return html, status, headers
