"""marshmallow schemas: one per request body, query and response."""
from flask import current_app
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from .exports import ACTIONS, FORMATS, instant

SOURCES_PUBLIC = ("banner", "preferences", "api")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class StrictBoolean(fields.Boolean):
    """Only JSON true and false: no "yes", "on", 1, "1" or 1.0 guessed into a choice."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


def _language(value: str) -> None:
    if value not in current_app.config["LANGUAGES"]:
        raise ValidationError(f"Must be one of: {', '.join(current_app.config['LANGUAGES'])}.")


class ConsentCreateSchema(StrictSchema):
    """A device's choice, as the banner sends it."""

    consent_id = fields.String(validate=validate.Length(max=64))
    event_id = fields.UUID()
    choices = fields.Dict(keys=fields.String(validate=validate.Length(max=32)),
                          values=StrictBoolean(), required=True,
                          validate=validate.Length(max=16))
    policy_version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    language = fields.String(required=True, validate=_language)
    source = fields.String(load_default="banner", validate=validate.OneOf(SOURCES_PUBLIC))
    gpc = StrictBoolean(load_default=False)


class ConsentSchema(Schema):
    """A device's consent as recorded."""

    consent_id = fields.String()
    choices = fields.Dict(keys=fields.String(), values=fields.Boolean())
    policy_version = fields.String()
    language = fields.String()
    action = fields.String()
    recorded_at = fields.DateTime()
    expires_at = fields.DateTime()
    event_id = fields.String()
    hash = fields.String()
    erased = fields.Boolean()
    outdated = fields.Boolean(metadata={"description": "a material notice change came after it"})
    receipt = fields.String(metadata={
        "description": "a compact JWS (EdDSA) of the recorded event (L-08); in the answers of "
                       "POST and DELETE"})


class PublicEventSchema(Schema):
    """One event as its subject sees it (R-01): choices, times, versions, sources, hashes; never
    IP, user agent, salts or digests (the auditors' export has those)."""

    v = fields.Integer()
    seq = fields.Integer()
    event_id = fields.String()
    recorded_at = fields.DateTime()
    action = fields.String()
    choices = fields.Dict(keys=fields.String(), values=fields.Boolean())
    policy_version = fields.String()
    language = fields.String()
    text_hash = fields.String(allow_none=True)
    source = fields.String()
    gpc = fields.Boolean()
    basis = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class EventSchema(Schema):
    """One ledger event, every field."""

    v = fields.Integer()
    seq = fields.Integer()
    event_id = fields.String()
    recorded_at = fields.DateTime()
    subject_type = fields.String()
    subject = fields.String()
    action = fields.String()
    choices = fields.Dict(keys=fields.String(), values=fields.Boolean())
    policy_version = fields.String()
    language = fields.String()
    text_hash = fields.String(allow_none=True)
    source = fields.String()
    gpc = fields.Boolean()
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    pii_salt = fields.String()
    ip_digest = fields.String(allow_none=True)
    ua_digest = fields.String(allow_none=True)
    basis = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class ConsentEventsSchema(Schema):
    consent_id = fields.String()
    events = fields.List(fields.Nested(PublicEventSchema))


class CookieSchema(Schema):
    name = fields.String()
    provider = fields.String()
    lifetime = fields.String()
    description = fields.String()


class PurposeSchema(Schema):
    key = fields.String()
    required = fields.Boolean()
    name = fields.String()
    description = fields.String()
    cookies = fields.List(fields.Nested(CookieSchema))


class LangArgsSchema(Schema):
    """?lang=nb|en (anything else falls back to Accept-Language, then nb); cache-busters pass."""

    class Meta:
        unknown = EXCLUDE

    lang = fields.String()


class ConfigSchema(Schema):
    """What the banner needs: purposes, texts, cookie settings, Consent Mode signals."""

    policy_version = fields.String(allow_none=True)
    valid_policy_versions = fields.List(fields.String())
    language = fields.String()
    languages = fields.List(fields.String())
    purposes = fields.List(fields.Nested(PurposeSchema))
    texts = fields.Dict(keys=fields.String(), values=fields.String())
    privacy_url = fields.String()
    cookie = fields.Dict()
    consent_mode = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class PolicySchema(Schema):
    """The current notice in one language, as published."""

    version = fields.String()
    language = fields.String()
    published_at = fields.DateTime()
    material = fields.Boolean()
    text_hash = fields.String()
    text = fields.String()


class HealthSchema(Schema):
    status = fields.String()


class VerifySchema(Schema):
    ok = fields.Boolean()
    events = fields.Integer()
    head = fields.String()
    head_seq = fields.Integer()
    first_bad_seq = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    state_ok = fields.Boolean(metadata={"description": "the state table is the ledger's projection"})
    bad_subjects = fields.List(fields.String(), metadata={
        "description": "the first subjects whose state row differs from the ledger"})


class Instant(fields.String):
    """An ISO 8601 date or date-time; without a zone it is UTC, a date is its midnight UTC."""

    def __init__(self, **kwargs):
        super().__init__(metadata={"description": "ISO 8601 date or date-time (UTC if no zone)"},
                         **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return instant(value)
        except ValueError:
            raise ValidationError("Not an ISO 8601 date or date-time.") from None


class AuditRangeArgsSchema(StrictSchema):
    """?since=&until=: ISO 8601, inclusive / exclusive."""

    since = Instant()
    until = Instant()


class AuditEventsArgsSchema(AuditRangeArgsSchema):
    """Which events to export, and as what."""

    format = fields.String(load_default="ndjson", validate=validate.OneOf(list(FORMATS)))
    purpose = fields.String(validate=validate.Length(max=32))
    action = fields.String(validate=validate.OneOf(ACTIONS))
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


def _person_purposes(value: dict) -> None:
    from .people import KEYS

    unknown = [key for key in value if key not in KEYS]
    if unknown:
        raise ValidationError(f"Unknown purpose for a person: {', '.join(unknown)}. "
                              f"Known: {', '.join(KEYS)}.")


class SubscriptionCreateSchema(StrictSchema):
    """A sign-up from a form: the address, the purposes ticked, the notice shown."""

    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    purposes = fields.Dict(keys=fields.String(validate=validate.Length(max=32)),
                           values=StrictBoolean(), required=True,
                           validate=[validate.Length(min=1, max=8), _person_purposes])
    language = fields.String(required=True, validate=_language)
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


class AddressList(fields.Field):
    """A JSON list taken as it is: each item is checked by the service (a bad one is `invalid`,
    not a failed call), and 100,000 items through a per-item field cost more than the check."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        return value


class CheckSchema(StrictSchema):
    """A pre-send check: may these addresses get this purpose now?"""

    purpose = fields.String(required=True)
    emails = AddressList(required=True)
    product_category = fields.String(validate=validate.Length(max=64))


class CheckArgsSchema(Schema):
    """A CSV check's query: ?purpose=&product_category=."""

    class Meta:
        unknown = EXCLUDE

    purpose = fields.String(required=True)
    product_category = fields.String(validate=validate.Length(max=64))


class CustomerSchema(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    sale_date = fields.Date(required=True)
    product_category = fields.String(load_default="", validate=validate.Length(max=64))
    opt_out_offered = fields.Boolean(required=True)
    language = fields.String(validate=_language)


class CustomersSchema(StrictSchema):
    """Existing customers (kundeforhold): addresses collected at a sale, opt-out offered."""

    customers = fields.List(fields.Nested(CustomerSchema), required=True)


class AudienceArgsSchema(Schema):
    purpose = fields.String(required=True)
    format = fields.String(load_default="ndjson", validate=validate.OneOf(("csv", "ndjson")))
    product_category = fields.String(validate=validate.Length(max=64))


class RectifySchema(StrictSchema):
    """An admin corrects a person's address (R-04)."""

    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    new_email = fields.String(required=True, validate=validate.Length(min=1, max=320))
