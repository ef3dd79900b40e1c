"""The public sign-up API: subscriptions with double opt-in, and the access link. CORS for
allowed origins, 16 KiB bodies, like the banner's API."""
from flask import request
from marshmallow import Schema, ValidationError, fields, validate

from ..extensions import db
from ..http import limits
from ..ledger import receipts
from ..models import utcnow
from ..people import rights, subscriptions
from ..people.persons import KEYS
from . import Blueprint, guard_public_writes
from .schemas import StrictBoolean, StrictSchema, language_field

blp = Blueprint("subscriptions", __name__, url_prefix="/api/v1/subscriptions",
                description="Newsletter and marketing sign-up")
blp.before_request(guard_public_writes)
limits.limit_public_writes(blp)


def _person_purposes(value: dict) -> None:
    unknown = [key for key in value if key not in KEYS]
    if unknown:
        raise ValidationError(f"Unknown purpose for a person: {', '.join(unknown)}. "
                              f"Known: {', '.join(KEYS)}.")


class SubscriptionCreateSchema(StrictSchema):
    """A sign-up from a form: the address, the purposes ticked, the notice shown."""

    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    purposes = fields.Dict(keys=fields.String(validate=validate.Length(max=32)),
                           values=StrictBoolean(), required=True,
                           validate=[validate.Length(min=1, max=8), _person_purposes],
                           metadata={"minProperties": 1, "additionalProperties": False,
                                     "properties": {k: {"type": "boolean"} for k in KEYS}})
    language = language_field(required=True)
    policy_version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    consent_id = fields.String(validate=validate.Length(max=64))


class SubscriptionSchema(Schema):
    status = fields.String(metadata={"description": "pending (a confirmation mail is on its "
                                                    "way) or active"})
    receipt = fields.String(metadata={
        "description": "active only: a compact JWS (EdDSA) of the grant recorded (L-08)"})


class AccessRequestSchema(StrictSchema):
    """A person asks for the link to their own page."""

    email = fields.String(required=True, validate=validate.Length(min=1, max=320))


class AcceptedSchema(Schema):
    status = fields.String()


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
    rights.request_access(db.session, body["email"], utcnow())
    return {"status": "accepted"}
