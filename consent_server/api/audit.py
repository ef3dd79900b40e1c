"""The auditors' API: the ledger and its proof. Role auditor or admin."""
from flask import Response, current_app, stream_with_context
from marshmallow import RAISE

from .. import exports, ledger
from ..extensions import db
from ..schemas import AuditEventsArgsSchema, VerifySchema
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
    pieces = (text for _, text in exports.export(db.engine, where, format))
    db.session.rollback()  # the export reads on connections of its own
    name = f"consent-events.{format}"
    return Response(stream_with_context(pieces), mimetype=exports.FORMATS[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
