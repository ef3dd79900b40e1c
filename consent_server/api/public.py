"""The public API the banner uses: config, consents, health. No key; CORS for allowed origins."""
import gzip

from flask import current_app, request
from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import abort
from marshmallow import EXCLUDE, Schema, fields, validate

from .. import database
from ..consent import banner, devices, notices
from ..extensions import db
from ..http import limits, sites
from ..ledger import receipts
from ..vocabulary import PUBLIC_SOURCES, Source
from . import Blueprint, guard_public_writes
from .schemas import (
    PublicEventSchema,
    StrictBoolean,
    StrictSchema,
    event_fields,
    language_field,
)

blp = Blueprint("public", __name__, url_prefix="/api/v1", description="Public consent API")
blp.before_request(guard_public_writes)
limits.limit_public_writes(blp)
health = Blueprint("health", __name__, description="Service health")
GZIP_ABOVE = 1024  # bytes; smaller answers gain less than the header costs


class ConsentCreateSchema(StrictSchema):
    """A device's choice, as the banner sends it."""

    consent_id = fields.String(validate=validate.Length(max=64))
    event_id = fields.UUID()
    choices = fields.Dict(keys=fields.String(validate=validate.Length(max=32)),
                          values=StrictBoolean(), required=True,
                          validate=validate.Length(max=16))
    policy_version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    language = language_field(required=True)
    source = fields.String(load_default=Source.BANNER.value,
                           validate=validate.OneOf(PUBLIC_SOURCES))
    gpc = StrictBoolean(load_default=False)
    site = fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "the site's id; by default the site of the page's origin"})


class ConsentSchema(event_fields("choices", "policy_version", "language", "action",
                                 "recorded_at", "event_id", "hash", "site")):
    """A device's consent as recorded."""

    consent_id = fields.String()
    expires_at = fields.DateTime()
    erased = fields.Boolean()
    outdated = fields.Boolean(metadata={"description": "a material notice change came after it"})
    receipt = fields.String(metadata={
        "description": "a compact JWS (EdDSA) of the recorded event (L-08); in the answers of "
                       "POST and DELETE"})


class ConsentEventsSchema(Schema):
    consent_id = fields.String()
    events = fields.List(fields.Nested(PublicEventSchema))


class CookieSchema(Schema):
    name = fields.String()
    provider = fields.String()
    lifetime = fields.String()
    description = fields.String()


class PurposeSchema(Schema):
    key = fields.String()
    required = fields.Boolean()
    name = fields.String()
    description = fields.String()
    cookies = fields.List(fields.Nested(CookieSchema))


class LangArgsSchema(Schema):
    """?lang=nb|nn|en (anything else falls back to Accept-Language, then nb); cache-busters pass."""

    class Meta:
        unknown = EXCLUDE

    lang = fields.String()
    site = fields.String(metadata={"description": "a site's id; by default the site of the "
                                                  "page's origin, else the default site"})


class ConfigSchema(Schema):
    """What the banner needs: purposes, texts, cookie settings, Consent Mode signals."""

    site = fields.String()
    policy_version = fields.String(allow_none=True)
    valid_policy_versions = fields.List(fields.String())
    language = fields.String()
    languages = fields.List(fields.String())
    purposes = fields.List(fields.Nested(PurposeSchema))
    texts = fields.Dict(keys=fields.String(), values=fields.String())
    privacy_url = fields.String()
    cookie = fields.Dict()
    consent_mode = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class PolicySchema(Schema):
    """The current notice in one language, as published."""

    version = fields.String()
    language = fields.String()
    published_at = fields.DateTime()
    material = fields.Boolean()
    text_hash = fields.String()
    text = fields.String()


class HealthSchema(Schema):
    status = fields.String()


def _max_age() -> int:
    return int(current_app.config["MAX_AGE_DAYS"])


@blp.route("/config")
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, ConfigSchema)
def config(args):
    """A site's purposes with their cookies, banner texts, notice version, Consent Mode
    signals."""
    lang = str(get_locale())
    answer = banner.config(db.session, sites.of_request(args.get("site")), current_app.config,
                           lang)
    # Vary Origin too: the CORS header and the site differ per site, and a shared cache must
    # keep them apart.
    # As briefly as widget.js: its notice versions end outdated choices (C-09).
    several = len(current_app.extensions["consent_sites"]) > 1  # a same-origin page: Referer
    return answer, 200, {"Cache-Control": f"public, max-age={banner.FRESH_SECONDS}",
                         "Vary": "Accept-Language, Origin, Accept-Encoding"
                         + (", Referer" if several else "")}


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
def current_policy(args):
    """A site's current notice in one language: its version, publication time, text, hash."""
    lang = str(get_locale())
    version = notices.current(db.session, sites.of_request(args.get("site")).id)
    stored = notices.text(db.session, version, lang) if version else None
    if stored is None:
        abort(404, message="No notice version has been published yet.")
    return {"version": version.version, "language": lang, "published_at": version.published_at,
            "material": version.material, "text_hash": stored.text_hash, "text": stored.text}


@blp.route("/consents", methods=["POST"])
@blp.arguments(ConsentCreateSchema())
@blp.response(201, ConsentSchema)
def create_consent(body):
    """Record a device's choice (a grant, an update or a withdrawal), with its signed receipt."""
    limits.limit_per_consent(body.get("consent_id"))
    event_id = body.get("event_id")
    site = sites.of_request(body.get("site"), writing=True)
    answer = devices.record(
        db.session, choices=body["choices"], policy_version=body["policy_version"],
        language=body["language"], source=body["source"], gpc=body["gpc"],
        consent_id=body.get("consent_id"), event_id=str(event_id) if event_id else None,
        ip=request.remote_addr, user_agent=request.user_agent.string or None,
        max_age_days=_max_age(), site=site.id)
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
        return devices.current(db.session, consent_id, _max_age())

    @blp.response(200, ConsentSchema)
    def delete(self, consent_id):
        """Withdraw every optional purpose and erase the device's personal data."""
        limits.limit_per_consent(consent_id)
        answer = devices.erase(db.session, consent_id, _max_age())
        return {**answer, "receipt": receipts.issue_here(answer)}  # of the erase event


@blp.route("/consents/<consent_id>/events")
@blp.response(200, ConsentEventsSchema)
def consent_events(consent_id):
    """Every event of a device, oldest first (access and portability)."""
    return {"consent_id": consent_id, "events": devices.events(db.session, consent_id)}


@health.route("/healthz")
@health.response(200, HealthSchema)
def healthz():
    """200 when the database answers, else 503."""
    if not database.database_ok(db.session):
        abort(503, message="The database does not answer.")
    return {"status": "ok"}
