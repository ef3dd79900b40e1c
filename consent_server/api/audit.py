"""The auditors' API: the ledger and its proof. Role auditor or admin."""
from flask import Response, current_app, render_template, request
from flask_babel import get_locale
from marshmallow import RAISE, Schema, fields, validate

from .. import ledger
from ..consent import stats as stats_service
from ..extensions import db
from ..ledger import chain, exports, history, receipts, signing
from ..models import utcnow
from ..people.persons import subject_key
from ..vocabulary import Purpose, Role
from . import Blueprint
from .auth import require_role
from .schemas import EventSchema, Instant, StrictSchema

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit API")
SECURITY = [{"bearer": []}]


class VerifySchema(Schema):
    ok = fields.Boolean()
    events = fields.Integer()
    head = fields.String()
    head_seq = fields.Integer()
    first_bad_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    state_ok = fields.Boolean(metadata={
        "description": "the state table is the ledger's projection"})
    bad_subjects = fields.List(fields.String(), metadata={
        "description": "the first subjects whose state row differs from the ledger"})


class AuditRangeArgsSchema(StrictSchema):
    """?since=&until=: ISO 8601, inclusive / exclusive."""

    since = Instant()
    until = Instant()


class AuditEventsArgsSchema(AuditRangeArgsSchema):
    """Which events to export, and as what."""

    format = fields.String(load_default="ndjson", validate=validate.OneOf(list(exports.FORMATS)))
    purpose = fields.String(validate=validate.Length(max=32), metadata={"enum": list(Purpose)})
    action = fields.String(validate=validate.OneOf(exports.ACTIONS))
    subject = fields.String(validate=validate.Length(min=1, max=320),
                            metadata={"description": "a consent id, or an e-mail address"})
    from_seq = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))  # seq: 32 bits


class JwkSchema(Schema):
    kty = fields.String()
    crv = fields.String()
    x = fields.String()
    kid = fields.String()
    alg = fields.String()
    use = fields.String()


class KeysSchema(Schema):
    """The public keys that sign checkpoints and receipts (a JWK set)."""

    keys = fields.List(fields.Nested(JwkSchema))


class CheckpointSchema(Schema):
    """A signed statement of the ledger's head: Ed25519 over the canonical JSON of seq, hash,
    time and kid (base64url, no padding)."""

    seq = fields.Integer()
    hash = fields.String()
    time = fields.String()
    kid = fields.String()
    signature = fields.String()


class ReceiptVerifySchema(StrictSchema):
    """A receipt to check."""

    receipt = fields.String(required=True, validate=validate.Length(min=1, max=8192))


class ReceiptCheckSchema(Schema):
    """Whether a receipt is genuine and its event is in the ledger as signed."""

    valid = fields.Boolean()
    signature_ok = fields.Boolean()
    in_ledger = fields.Boolean()
    reason = fields.String(allow_none=True)
    claims = fields.Dict()


class SubjectEventSchema(EventSchema):
    hash_ok = fields.Boolean(metadata={"description": "the event matches its own hash"})


class NoticeTextSchema(Schema):
    version = fields.String()
    language = fields.String()
    published_at = fields.DateTime()
    material = fields.Boolean()
    text = fields.String()


class SubjectHistorySchema(Schema):
    """One subject's whole history; `notices` maps each text hash shown to its notice text."""

    subject = fields.String()
    subject_type = fields.String()
    current = fields.Dict(allow_none=True)
    events = fields.List(fields.Nested(SubjectEventSchema))
    notices = fields.Dict(keys=fields.String(), values=fields.Nested(NoticeTextSchema))


class StatsPurposeSchema(Schema):
    day = fields.String()
    purpose = fields.String()
    granted = fields.Integer()
    refused = fields.Integer()
    withdrawn = fields.Integer()


class StatsDaySchema(Schema):
    day = fields.String()
    choices = fields.Integer()
    accept_all = fields.Integer()
    reject_all = fields.Integer()
    per_purpose = fields.Integer()
    share = fields.Dict(keys=fields.String(), values=fields.Float())


class StatsSchema(Schema):
    """Per day (UTC) and purpose: grants, refusals, withdrawals; per day the kinds of choice."""

    since = fields.DateTime(allow_none=True)
    until = fields.DateTime(allow_none=True)
    purposes = fields.List(fields.Nested(StatsPurposeSchema))
    days = fields.List(fields.Nested(StatsDaySchema))


@blp.route("/verify")
@blp.response(200, VerifySchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
def verify():
    """Walk the hash chain and report whether the ledger is intact."""
    return ledger.verify(db.session).as_dict()


@blp.route("/events")
@blp.doc(security=SECURITY, responses={"200": {"description": "the events, streamed", "content": {
    mimetype.split(";")[0]: {} for mimetype in exports.FORMATS.values()}}})
@require_role(Role.AUDITOR)
@blp.arguments(AuditEventsArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
def events(format, subject=None, **filters):
    """The ledger in sequence order, streamed as NDJSON, CSV or JSON, every field."""
    if subject is not None:
        subject = subject_key(db.session, subject)
    where = exports.filters(subject=subject, **filters)
    # Read on connections of the engine's own, so the stream needs no app context.
    pieces = (text for _, text in exports.export(db.engine, where, format))
    name = f"consent-events.{format}"
    return Response(pieces, mimetype=exports.FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _key() -> signing.SigningKey:
    return current_app.extensions["consent_signing_key"]


@blp.route("/keys")
@blp.response(200, KeysSchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
def public_keys():
    """The public keys that sign checkpoints and receipts (a JWK set)."""
    return {"keys": [_key().jwk()]}


@blp.route("/checkpoint")
@blp.response(200, CheckpointSchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
def checkpoint():
    """A signed checkpoint of the head: keep it, and check later that the ledger extends it."""
    return signing.checkpoint(db.session, _key())


@blp.route("/receipts/verify", methods=["POST"])
@blp.response(200, ReceiptCheckSchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
@blp.arguments(ReceiptVerifySchema)
def verify_receipt(body):
    """Whether a receipt is genuine and its event is in the ledger as signed."""
    return receipts.check(db.session, _key(), body["receipt"])


def _wants_html() -> bool:
    if request.args.get("format") in ("html", "json"):
        return request.args["format"] == "html"
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes[best] > request.accept_mimetypes[
        "application/json"]


@blp.route("/subjects/<subject>")
@blp.doc(security=SECURITY, parameters=[{"in": "query", "name": "format", "schema": {
    "type": "string", "enum": ["json", "html"]}}], responses={"200": {
        "description": "the history", "content": {"application/json": {
            "schema": SubjectHistorySchema}, "text/html": {}}}})
@require_role(Role.AUDITOR)
def subject(subject):
    """One subject's whole history (a consent id, or an e-mail address hashed here) with the
    notice shown at each event: JSON, or a printable HTML page (?format=html or Accept)."""
    found = history.subject_history(db.session, subject_key(db.session, subject))
    if _wants_html():
        return render_template("audit_subject.html", history=found, asked=subject,
                               lang=str(get_locale()), printed=chain.timestamp(utcnow())[:19]
                               .replace("T", " "))
    return SubjectHistorySchema().dump(found)


@blp.route("/stats")
@blp.response(200, StatsSchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
@blp.arguments(AuditRangeArgsSchema, location="query", unknown=RAISE)
def stats(args):
    """Per day and purpose: grants, refusals and withdrawals; the share of accept all, reject
    all and per-purpose choices. Computed in SQL."""
    return stats_service.stats(db.session, args.get("since"), args.get("until"))
