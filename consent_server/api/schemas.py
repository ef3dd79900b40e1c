"""What the API's schemas share: strict bodies, strict booleans, languages, times, and the
schemas of events, derived from the ledger's columns (models.py) so that they cannot drift."""
from datetime import datetime

from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields

from ..config import Config
from ..ledger.chain import JSON_TEXT
from ..ledger.exports import instant
from ..models import EVENTS

# What an event's own subject never sees of it: personal fields, salts and digests.
PERSONAL = ("subject_type", "subject", "ip", "user_agent", "pii_salt", "ip_digest", "ua_digest",
            "details")
KINDS = {int: fields.Integer, bool: fields.Boolean, str: fields.String, datetime: fields.DateTime}


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class StrictBoolean(fields.Boolean):
    """Only JSON true and false: no "yes", "on", 1, "1" or 1.0 guessed into a choice."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


def language(value: str) -> None:
    """A validator: one of the configured languages."""
    if value not in current_app.config["LANGUAGES"]:
        raise ValidationError(f"Must be one of: {', '.join(current_app.config['LANGUAGES'])}.")


def language_field(**kwargs) -> fields.String:
    """A language a body names: validated against the configured languages, documented as the
    enum of the committed ones (the catalogs the server ships)."""
    return fields.String(validate=language, metadata={"enum": list(Config.LANGUAGES)}, **kwargs)


def known_site(value: str) -> None:
    """A validator: the id of one of the deployment's sites (consent/sites.py)."""
    known = current_app.extensions["consent_sites"].ids()
    if value not in known:
        raise ValidationError(f"Must be one of: {', '.join(known)}.")


def site_field(**kwargs) -> fields.String:
    """?site=: one site's only (an unknown one is a 422)."""
    return fields.String(validate=known_site, metadata={"description": "a site's id"}, **kwargs)


def one_of(keys) -> dict:
    """OpenAPI metadata: a string field whose service accepts only these keys."""
    return {"enum": list(keys)}


class Instant(fields.String):
    """An ISO 8601 date or date-time; without a zone it is UTC, a date is its midnight UTC."""

    def __init__(self, **kwargs):
        super().__init__(metadata={"description": "ISO 8601 date or date-time (UTC if no zone)"},
                         **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return instant(value)
        except ValueError:
            raise ValidationError("Not an ISO 8601 date or date-time from 1970 to 9999.") from None


def _field(column) -> fields.Field:
    if column.name == "choices":
        return fields.Dict(keys=fields.String(), values=fields.Boolean())
    if column.name in JSON_TEXT:
        return fields.Dict(allow_none=column.nullable)
    return KINDS[column.type.python_type](allow_none=column.nullable)


def event_fields(*names: str) -> type[Schema]:
    """A schema of these event columns (all of them when none is named), typed as the ledger
    stores them; subclass it to add fields and a docstring."""
    columns = [c for c in EVENTS.columns if not names or c.name in names]
    return Schema.from_dict({c.name: _field(c) for c in columns})


class EventSchema(event_fields()):
    """One ledger event, every field."""


class PublicEventSchema(event_fields(*(c.name for c in EVENTS.columns
                                       if c.name not in PERSONAL))):
    """One event as its subject sees it (R-01): choices, times, versions, sources, hashes; never
    IP, user agent, salts or digests (the auditors' export has those)."""
