"""The marketing team's API: the pre-send check, existing customers, the audience. Role
`marketing` or `admin`; correcting an address is for `admin` alone."""
import json

from flask import Response, current_app, request, stream_with_context
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..errors import Invalid
from ..extensions import db
from ..models import utcnow
from ..people import marketing, rights
from ..people.persons import KEYS
from ..text import MESSAGE, bad_text
from ..vocabulary import Role
from . import BAD_JSON, Blueprint
from .auth import require_role
from .schemas import StrictSchema, language_field, one_of, site_field

blp = Blueprint("marketing", __name__, url_prefix="/api/v1/marketing",
                description="Marketing API")
CSV = "text/csv"
SUMMARY = "Consent-Check-Summary"  # a CSV check's counts (RFC 8941 dictionary)


class AddressList(fields.Field):
    """A JSON list taken as it is: each item is checked by the service (a bad one is `invalid`,
    not a failed call), and 100,000 items through a per-item field cost more than the check."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        return value


class CheckSchema(StrictSchema):
    """A pre-send check: may these addresses get this purpose now?"""

    purpose = fields.String(required=True, metadata=one_of(KEYS))
    emails = AddressList(required=True, metadata={"type": "array"})  # items: the service
    product_category = fields.String(validate=validate.Length(max=64))


class CheckArgsSchema(Schema):
    """A CSV check's query: ?purpose=&product_category=&column=."""

    class Meta:
        unknown = EXCLUDE

    purpose = fields.String(required=True, metadata=one_of(KEYS))
    product_category = fields.String(validate=validate.Length(max=64))
    column = fields.String(validate=validate.Length(min=1, max=200))


class CustomersArgsSchema(Schema):
    """A customers CSV's query: ?column= (the address column, when not found by its name)."""

    class Meta:
        unknown = EXCLUDE

    column = fields.String(validate=validate.Length(min=1, max=200))


class CustomerSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    sale_date = fields.Date(required=True)
    # The basis covers the company's own products like those bought (M-07): the category is
    # what a check or an audience of marketing names.
    product_category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    opt_out_offered = fields.Boolean(required=True)
    language = language_field()


class CustomersSchema(StrictSchema):
    """Existing customers (kundeforhold): addresses collected at a sale, opt-out offered."""

    customers = fields.List(fields.Nested(CustomerSchema), required=True)


class AudienceArgsSchema(Schema):
    purpose = fields.String(required=True, metadata=one_of(KEYS))
    format = fields.String(load_default="ndjson", validate=validate.OneOf(("csv", "ndjson")))
    product_category = fields.String(validate=validate.Length(max=64))
    site = site_field()


class RectifySchema(StrictSchema):
    """An admin corrects a person's address (R-04)."""

    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    new_email = fields.String(required=True, validate=validate.Length(min=1, max=320))


def _most() -> int:
    return int(current_app.config["CHECK_MAX_ADDRESSES"])


def _load(schema, data):
    try:
        return schema.load(data)
    except ValidationError as error:
        raise Invalid("The request body did not validate; see errors.", error.messages) from None


def _json():
    try:
        data = json.loads(request.get_data().decode("utf-8"))
        bad = bad_text(data)  # S-04: a NUL or lone surrogate in any string (text.py)
    except (ValueError, RecursionError):
        raise Invalid(BAD_JSON) from None
    if bad:
        raise Invalid(MESSAGE)
    return data


def _csv_table(column: str | None):
    """A CSV body as read by csvfiles: any usual encoding and delimiter; Invalid naming the
    problem."""
    return marketing.read_csv(request.get_data(), _most(), column)


@blp.route("/check", methods=["POST"])
@blp.doc(security=[{"bearer": []}], requestBody={"required": True, "content": {
    "application/json": {"schema": CheckSchema}, CSV: {"schema": {"type": "string"}}}},
    responses={"200": {"description": "per address allowed or denied, and why: JSON for a "
                       "JSON body, the CSV with status and reason added for a CSV body",
                       "content": {"application/json": {"schema": {"type": "object"}},
                                   CSV: {"schema": {"type": "string"}}}}})
@require_role(Role.MARKETING)
def check():
    """May these addresses get this purpose now? Per address allowed or denied, and why.

    JSON `{purpose, emails}` gives JSON with a `summary` of counts; a CSV (`?purpose=`, the
    address column found by its usual names or named by `?column=`) gives the same file back
    with `consent_status` and `consent_reason` added and the counts in the
    `Consent-Check-Summary` header. At most 100,000 addresses a call.
    """
    if request.mimetype == CSV:
        args = _load(CheckArgsSchema(), request.args)
        table = _csv_table(args.get("column"))
        results = marketing.check(db.session, args["purpose"], table.addresses(),
                                  args.get("product_category"))
        return Response(marketing.check_csv(table, results), mimetype=CSV, headers={
            SUMMARY: marketing.summary_header(marketing.summary(results))})
    data = _json()
    if isinstance(data, dict) and isinstance(data.get("emails"), list):
        marketing.limit(len(data["emails"]), _most())
    body = _load(CheckSchema(), data)
    emails = body["emails"]
    results = marketing.check(db.session, body["purpose"], emails, body.get("product_category"))
    allowed, denied, listed = [], [], []
    for email, (status, reason) in zip(emails, results, strict=True):
        (allowed if status == "allowed" else denied).append(email)
        listed.append({"email": email, "status": status, "reason": reason})
    return {"purpose": body["purpose"], "checked": len(emails), "allowed": allowed,
            "denied": denied, "results": listed, "summary": marketing.summary(results)}


@blp.route("/customers", methods=["POST"])
@blp.doc(security=[{"bearer": []}], requestBody={"required": True, "content": {
    "application/json": {"schema": CustomersSchema}, CSV: {"schema": {"type": "string"}}}},
    responses={"201": {"description": "how many were recorded", "content": {
        "application/json": {"schema": {"type": "object", "required": ["recorded"],
                                        "properties": {"recorded": {"type": "integer"}}}}}}})
@require_role(Role.MARKETING)
def customers():
    """Record existing customers (kundeforhold): the address was collected at a sale of a
    product category and the opt-out was offered. JSON `{customers: [...]}` or a CSV with the
    columns email, sale_date, product_category, opt_out_offered."""
    if request.mimetype == CSV:
        table = _csv_table(_load(CustomersArgsSchema(), request.args).get("column"))
        data = {"customers": marketing.customers_from_csv(table)}
    else:
        data = _json()
        if isinstance(data, dict) and isinstance(data.get("customers"), list):
            marketing.limit(len(data["customers"]), _most())
    body = _load(CustomersSchema(), data)
    count = marketing.record_customers(db.session, body["customers"],
                                       current_app.config["DEFAULT_LANGUAGE"], utcnow())
    return {"recorded": count}, 201


@blp.route("/audience")
@blp.doc(security=[{"bearer": []}], responses={"200": {
    "description": "every address that may get the purpose now, streamed",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}},
                CSV: {"schema": {"type": "string"}}}}})
@require_role(Role.MARKETING)  # before the arguments: no key, no word on what they should be
@blp.arguments(AudienceArgsSchema, location="query")
def audience(args):
    """Stream every address that may receive the purpose now, with its language, its
    unsubscribe URL and the List-Unsubscribe / List-Unsubscribe-Post header values."""
    rows = marketing.audience(db.session, args["purpose"], args.get("product_category"),
                              site=args.get("site"))
    first = next(rows, None)  # an unknown purpose fails here, before the answer starts
    if args["format"] == "csv":
        def lines():
            return marketing.audience_csv(_chain(first, rows))
        mimetype = CSV
    else:
        def lines():
            for row in _chain(first, rows):
                yield json.dumps(row, ensure_ascii=False) + "\n"
        mimetype = "application/x-ndjson"
    return Response(stream_with_context(lines()), mimetype=mimetype,
                    headers={"Cache-Control": "no-store"})


def _chain(first, rest):
    if first is not None:
        yield first
        yield from rest


@blp.route("/rectify", methods=["POST"])
@blp.doc(security=[{"bearer": []}], requestBody={"required": True, "content": {
    "application/json": {"schema": RectifySchema}}})
@require_role()
def rectify():
    """Correct a person's address (admin only, R-04): the history stays with the person."""
    body = _load(RectifySchema(), _json())
    return rights.rectify(db.session, body["email"], body["new_email"], utcnow())
