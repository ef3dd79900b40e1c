"""The auditors' API: the ledger and its proof. Role auditor or admin."""
from flask import Response, current_app
from marshmallow import RAISE

from .. import exports, ledger, receipts, signing
from ..extensions import db
from ..schemas import (AuditEventsArgsSchema, CheckpointSchema, KeysSchema, ReceiptCheckSchema,
                       ReceiptVerifySchema, VerifySchema)
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
    where = exports.filters(email_hash_key=current_app.config["EMAIL_HASH_KEY"], **filters)
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
