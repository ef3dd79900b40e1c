"""The auditors' pages (role auditor or admin): the chain's status."""
from flask import render_template

from .. import ledger
from ..extensions import db
from . import bp, role_required


@bp.get("/audit")
@role_required("auditor")
def audit():
    """The chain's status: verified now, events, head."""
    result = ledger.verify(db.session)
    db.session.rollback()
    return render_template("console/audit.html", result=result)
