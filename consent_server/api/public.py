"""The public API the banner uses: config, consents, health. No key; CORS for allowed origins."""
import gzip
from urllib.parse import urlsplit

from flask import current_app, request
from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import abort

from .. import banner, consents, policy, receipts, security
from ..extensions import db
from ..schemas import (ConfigSchema, ConsentCreateSchema, ConsentEventsSchema, ConsentSchema,
                       HealthSchema, LangArgsSchema, PolicySchema)
from ..storage import database_ok
from . import Blueprint

blp = Blueprint("public", __name__, url_prefix="/api/v1", description="Public consent API")
security.limit_public_writes(blp)
health = Blueprint("health", __name__, description="Service health")
GZIP_ABOVE = 1024  # bytes; smaller answers gain less than the header costs


@blp.before_request
def _guard():
    """Cap public bodies at 16 KiB; refuse writes from a browser page of a site not allowed.

    Allowed are the server's own pages (CONSENT_PUBLIC_URL) and CONSENT_ALLOWED_ORIGINS, never
    whatever the request's Host says: a client chooses its Host as freely as its Origin.
    """
    request.max_content_length = current_app.config["PUBLIC_MAX_BODY"]
    origin = request.headers.get("Origin")
    if (request.method in ("POST", "DELETE") and origin is not None
            and origin.rstrip("/") not in allowed_write_origins(current_app.config)):
        abort(403, message="This origin is not allowed to record consents here.")


def allowed_write_origins(cfg) -> set[str]:
    """The origins whose pages may write: the public URL's and CONSENT_ALLOWED_ORIGINS."""
    public = urlsplit(cfg["PUBLIC_URL"])
    return {f"{public.scheme}://{public.netloc}", *cfg["ALLOWED_ORIGINS"]}


def _max_age() -> int:
    return int(current_app.config["MAX_AGE_DAYS"])


@blp.route("/config")
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, ConfigSchema)
def config(_args):
    """Purposes with their cookies, banner texts, notice version, Consent Mode signals."""
    lang = str(get_locale())
    answer = banner.config(db.session, current_app.extensions["consent_site"],
                           current_app.config, lang)
    # Vary Origin too: the CORS header differs per site, and a shared cache must keep them apart.
    return answer, 200, {"Cache-Control": "public, max-age=300",
                         "Vary": "Accept-Language, Origin, Accept-Encoding"}


@blp.after_request
def _compress(response):
    """Gzip larger GET answers (the config is read on every first visit) when accepted."""
    if (request.method == "GET" and response.status_code == 200 and not response.direct_passthrough
            and request.accept_encodings["gzip"] > 0 and "Content-Encoding" not in response.headers
            and response.content_length and response.content_length > GZIP_ABOVE):
        response.set_data(gzip.compress(response.get_data(), 6))
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
    return response


@blp.route("/policy")
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, PolicySchema)
def current_policy(_args):
    """The current notice in one language: its version, publication time, text and hash."""
    lang = str(get_locale())
    version = policy.current(db.session)
    stored = policy.text(db.session, version, lang) if version else None
    if stored is None:
        abort(404, message="No notice version has been published yet.")
    return {"version": version.version, "language": lang, "published_at": version.published_at,
            "material": version.material, "text_hash": stored.text_hash, "text": stored.text}


@blp.route("/consents", methods=["POST"])
@blp.arguments(ConsentCreateSchema())
@blp.response(201, ConsentSchema)
def create_consent(body):
    """Record a device's choice (a grant, an update or a withdrawal), with its signed receipt."""
    security.limit_per_consent(body.get("consent_id"))
    event_id = body.get("event_id")
    answer = consents.record(
        db.session, choices=body["choices"], policy_version=body["policy_version"],
        language=body["language"], source=body["source"], gpc=body["gpc"],
        consent_id=body.get("consent_id"), event_id=str(event_id) if event_id else None,
        ip=request.remote_addr, user_agent=request.user_agent.string or None,
        max_age_days=_max_age())
    answer["receipt"] = receipts.issue_here(answer)
    # Under CONSENT_COOKIE_DOMAIN the server sets the consent cookie too (a credentialed
    # request from an allowed site under that domain).
    cookie = banner.consent_cookie(answer, body["gpc"], request.headers.get("Origin"),
                                   current_app.config)
    if cookie is None:
        return answer
    return answer, 201, {"Set-Cookie": cookie, "Access-Control-Allow-Credentials": "true"}


@blp.route("/consents/<consent_id>")
class Consent(MethodView):
    @blp.response(200, ConsentSchema)
    def get(self, consent_id):
        """A device's current consent."""
        return consents.current(db.session, consent_id, _max_age())

    @blp.response(200, ConsentSchema)
    def delete(self, consent_id):
        """Withdraw every optional purpose and erase the device's personal data."""
        security.limit_per_consent(consent_id)
        answer = consents.erase(db.session, consent_id, _max_age())
        return {**answer, "receipt": receipts.issue_here(answer)}  # of the erase event


@blp.route("/consents/<consent_id>/events")
@blp.response(200, ConsentEventsSchema)
def consent_events(consent_id):
    """Every event of a device, oldest first (access and portability)."""
    return {"consent_id": consent_id, "events": consents.events(db.session, consent_id)}


@health.route("/healthz")
@health.response(200, HealthSchema)
def healthz():
    """200 when the database answers, else 503."""
    if not database_ok(db.session):
        abort(503, message="The database does not answer.")
    return {"status": "ok"}
