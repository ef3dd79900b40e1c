"""The auditors' API: the ledger and its proof. Role auditor or admin."""
from flask import Response, current_app, g, render_template, request
from flask_babel import get_locale
from marshmallow import RAISE, Schema, fields, validate

from .. import ledger
from ..consent import stats as stats_service
from ..extensions import db
from ..ledger import bundles, chain, exports, history, note, signing, transparency
from ..models import utcnow
from ..people.persons import subject_key
from ..staff import access_log
from ..vocabulary import Purpose, Role
from . import Blueprint, wellknown
from .auth import require_role
from .schemas import EventSchema, Instant, StrictSchema, site_field

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
    site = site_field()


class AuditEventsArgsSchema(AuditRangeArgsSchema):
    """Which events to export, and as what."""

    format = fields.String(load_default="ndjson", validate=validate.OneOf(list(exports.FORMATS)))
    purpose = fields.String(validate=validate.Length(max=32), metadata={"enum": list(Purpose)})
    action = fields.String(validate=validate.OneOf(exports.ACTIONS))
    subject = fields.String(validate=validate.Length(min=1, max=320),
                            metadata={"description": "a consent id, or an e-mail address"})
    from_seq = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))  # seq: 32 bits


class CheckpointSchema(Schema):
    """A signed statement of the ledger's head: Ed25519 over the canonical JSON of seq, hash,
    time and kid (base64url, no padding)."""

    seq = fields.Integer()
    hash = fields.String()
    time = fields.String()
    kid = fields.String()
    tree_size = fields.Integer(metadata={"description": "the Merkle tree's size (L-10)"})
    root = fields.String(metadata={"description": "its root hash, standard base64"})
    tree_signature = fields.String(metadata={
        "description": "Ed25519 over the canonical JSON of seq, hash, time, kid, tree_size, root"})
    signature = fields.String()


class ReceiptVerifySchema(StrictSchema):
    """A receipt to check."""

    receipt = fields.String(required=True, validate=validate.Length(min=1, max=8192))
    checkpoint = fields.String(validate=validate.Length(min=1, max=16384), metadata={
        "description": "a signed checkpoint of the log (GET /log/checkpoint) later than the "
                       "event, to prove it in; default: the log's checkpoint now"})


class ReceiptCheckSchema(Schema):
    """Whether a receipt is genuine and its event is in the ledger as signed."""

    valid = fields.Boolean()
    signature_ok = fields.Boolean()
    in_ledger = fields.Boolean()
    reason = fields.String(allow_none=True)
    claims = fields.Dict()
    in_checkpoint = fields.Boolean(metadata={"description": "the event is in the checkpoint's "
                                                            "tree (RFC 9162 inclusion proof)"})
    checkpoint = fields.String(metadata={"description": "the signed checkpoint proven against"})
    inclusion = fields.Dict(metadata={"description": "the inclusion proof, as "
                                                     "/api/v1/log/proof/inclusion gives it"})


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
    site = fields.String(allow_none=True)
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
@blp.response(200, wellknown.KeySetSchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
def public_keys():
    """Every public key that ever signed checkpoints and receipts (a JWK set, as at
    /.well-known/jwks.json)."""
    return wellknown.key_set()


@blp.route("/checkpoint")
@blp.response(200, CheckpointSchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
def checkpoint():
    """A signed checkpoint of the head: keep it, and check later that the ledger extends it."""
    signed = transparency.json_checkpoint(db.session, _key())
    access_log.record(db.session, None, access_log.CHECKPOINT, utcnow(), f"seq {signed['seq']}",
                      actor=f"key {g.api_key.id}")
    return signed


@blp.route("/receipts/verify", methods=["POST"])
@blp.response(200, ReceiptCheckSchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
@blp.arguments(ReceiptVerifySchema)
def verify_receipt(body):
    """Whether a receipt is genuine and its event is in the ledger as signed."""
    return transparency.check_receipt(db.session, _key(), note.origin(
        current_app.config["PUBLIC_URL"]), body["receipt"], body.get("checkpoint"))


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


@blp.route("/subjects/<subject>/proof")
@blp.doc(security=SECURITY, responses={"200": {
    "description": "the subject's proof bundle (consent-proof-bundle/v1)",
    "content": {"application/json": {}}}})
@require_role(Role.AUDITOR)
def subject_proof(subject):
    """One subject's events with inclusion proofs against one signed checkpoint of the log, and
    that checkpoint: checkable with the log's key alone, holding no one else's events."""
    return bundles.bundle(db.session, _key(), note.origin(current_app.config["PUBLIC_URL"]),
                          subject_key(db.session, subject))


@blp.route("/stats")
@blp.response(200, StatsSchema)
@blp.doc(security=SECURITY)
@require_role(Role.AUDITOR)
@blp.arguments(AuditRangeArgsSchema, location="query", unknown=RAISE)
def stats(args):
    """Per day and purpose: grants, refusals and withdrawals; the share of accept all, reject
    all and per-purpose choices. Computed in SQL."""
    return stats_service.stats(db.session, args.get("since"), args.get("until"),
                               args.get("site"))
