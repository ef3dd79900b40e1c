"""The auditors' API: the ledger and its proof. Role auditor or admin."""
from .. import ledger
from ..extensions import db
from ..schemas import VerifySchema
from . import Blueprint
from .auth import require_role

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit API")


@blp.route("/verify")
@blp.response(200, VerifySchema)
@blp.doc(security=[{"bearer": []}])
@require_role("auditor")
def verify():
    """Walk the hash chain and report whether the ledger is intact."""
    result = ledger.verify(db.session).as_dict()
    db.session.rollback()
    return result
