"""The auditors' API: the ledger and its proof. Role auditor or admin."""
from flask import Response, current_app, render_template, request
from flask_babel import get_locale
from marshmallow import RAISE

from .. import audit, chain, exports, ledger, receipts, signing
from ..models import utcnow
from ..extensions import db
from ..schemas import (AuditEventsArgsSchema, AuditRangeArgsSchema, CheckpointSchema, KeysSchema,
                       ReceiptCheckSchema, ReceiptVerifySchema, StatsSchema, SubjectHistorySchema,
                       VerifySchema)
from . import Blueprint
from .auth import require_role

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit API")
SECURITY = [{"bearer": []}]


@blp.route("/verify")
@blp.response(200, VerifySchema)
@blp.doc(security=SECURITY)
@require_role("auditor")
def verify():
    """Walk the hash chain and report whether the ledger is intact."""
    result = ledger.verify(db.session).as_dict()
    db.session.rollback()
    return result


@blp.route("/events")
@blp.doc(security=SECURITY, responses={"200": {"description": "the events, streamed", "content": {
    mimetype.split(";")[0]: {} for mimetype in exports.FORMATS.values()}}})
@require_role("auditor")
@blp.arguments(AuditEventsArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
def events(format, **filters):
    """The ledger in sequence order, streamed as NDJSON, CSV or JSON, every field."""
    where = exports.filters(email_hash_key=current_app.config["EMAIL_HASH_KEY"],
                            session=db.session, **filters)
    # Read on connections of the engine's own, so the stream needs no app context.
    pieces = (text for _, text in exports.export(db.engine, where, format))
    db.session.rollback()
    name = f"consent-events.{format}"
    return Response(pieces, mimetype=exports.FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _key() -> signing.SigningKey:
    return current_app.extensions["consent_signing_key"]


@blp.route("/keys")
@blp.response(200, KeysSchema)
@blp.doc(security=SECURITY)
@require_role("auditor")
def public_keys():
    """The public keys that sign checkpoints and receipts (a JWK set)."""
    return {"keys": [_key().jwk()]}


@blp.route("/checkpoint")
@blp.response(200, CheckpointSchema)
@blp.doc(security=SECURITY)
@require_role("auditor")
def checkpoint():
    """A signed checkpoint of the head: keep it, and check later that the ledger extends it."""
    return signing.checkpoint(db.session, _key())


@blp.route("/receipts/verify", methods=["POST"])
@blp.response(200, ReceiptCheckSchema)
@blp.doc(security=SECURITY)
@require_role("auditor")
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
@require_role("auditor")
def subject(subject):
    """One subject's whole history (a consent id, or an e-mail address hashed here) with the
    notice shown at each event: JSON, or a printable HTML page (?format=html or Accept)."""
    key = exports.subject_key(subject, current_app.config["EMAIL_HASH_KEY"], db.session)
    history = audit.subject_history(db.session, key)
    if _wants_html():
        return render_template("audit_subject.html", history=history, asked=subject,
                               lang=str(get_locale()), printed=chain.timestamp(utcnow())[:19]
                               .replace("T", " "))
    return SubjectHistorySchema().dump(history)


@blp.route("/stats")
@blp.response(200, StatsSchema)
@blp.doc(security=SECURITY)
@require_role("auditor")
@blp.arguments(AuditRangeArgsSchema, location="query", unknown=RAISE)
def stats(args):
    """Per day and purpose: grants, refusals and withdrawals; the share of accept all, reject
    all and per-purpose choices. Computed in SQL."""
    return audit.stats(db.session, args.get("since"), args.get("until"))
