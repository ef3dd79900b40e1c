"""The public sign-up API: subscriptions with double opt-in, and the access link. CORS for
allowed origins, 16 KiB bodies, like the banner's API."""
from flask import request

from .. import receipts, security, subscriptions
from ..extensions import db
from ..models import utcnow
from ..schemas import (AcceptedSchema, AccessRequestSchema, SubscriptionCreateSchema,
                       SubscriptionSchema)
from . import Blueprint
from .public import _guard

blp = Blueprint("subscriptions", __name__, url_prefix="/api/v1/subscriptions",
                description="Newsletter and marketing sign-up")
blp.before_request(_guard)
security.limit_public_writes(blp)


@blp.route("", methods=["POST"])
@blp.arguments(SubscriptionCreateSchema())
@blp.response(202, SubscriptionSchema)
@blp.alt_response(201, schema=SubscriptionSchema, description="double opt-in is off")
def create(body):
    """Sign up an address: 202 pending and a confirmation mail, or 201 active without
    double opt-in, with the grant's signed receipt. The answer never tells whether the address
    was known."""
    status, granted = subscriptions.sign_up(
        db.session, email=body["email"], choices=body["purposes"], language=body["language"],
        policy_version=body["policy_version"], consent_id=body.get("consent_id"),
        ip=request.remote_addr, user_agent=request.user_agent.string or None, now=utcnow())
    if granted is None:
        return {"status": status}, 202
    return {"status": status, "receipt": receipts.issue_here(granted)}, 201


@blp.route("/access", methods=["POST"])
@blp.arguments(AccessRequestSchema())
@blp.response(202, AcceptedSchema)
def access(body):
    """Mail the link to the person's own page (history, download, change, erase); always 202."""
    subscriptions.request_access(db.session, body["email"], utcnow())
    return {"status": "accepted"}
