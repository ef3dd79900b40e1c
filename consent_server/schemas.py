"""marshmallow schemas: one per request body, query and response."""
from flask import current_app
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

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


class EventSchema(Schema):
    """One ledger event, every field."""

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
    prev_hash = fields.String()
    hash = fields.String()


class ConsentEventsSchema(Schema):
    consent_id = fields.String()
    events = fields.List(fields.Nested(EventSchema))


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
