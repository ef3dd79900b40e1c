"""The console's forms (Flask-WTF): each carries its CSRF token."""
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from ..consent import purposes
from ..ledger import exports
from ..people import webhooks
from ..staff.keys import ROLES
from ..staff.users import MAX_PASSWORD, MIN_PASSWORD
from ..vocabulary import Role

ROLE_LABELS = {Role.MARKETING: _l("Marketing"), Role.AUDITOR: _l("Auditor"),
               Role.ADMIN: _l("Admin")}


def role_choices():
    return [SelectChoice(role, ROLE_LABELS[role]) for role in ROLES]


# The dates a form takes: from the first year an instant may have (exports.instant) to the day
# before the last one (the day after a range's end must still be a date).
FIRST_DAY, LAST_DAY = date(exports.FIRST_YEAR, 1, 1), date(9999, 12, 30)


def sane_date(_form, field) -> None:
    """A date field's value inside FIRST_DAY to LAST_DAY (else the form answers 422)."""
    if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(_l("Choose a date from 1970 to 9999."))


class SignInForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(),
                                                         Length(max=MAX_PASSWORD)],
                             render_kw={"autocomplete": "current-password"})


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"),
                             validators=[DataRequired(), Length(MIN_PASSWORD, MAX_PASSWORD)],
                             render_kw={"autocomplete": "new-password"})
    repeat = PasswordField(_l("Repeat the new password"),
                           validators=[DataRequired(),
                                       EqualTo("password", _l("The passwords differ."))],
                           render_kw={"autocomplete": "new-password"})


class ActionForm(FlaskForm):
    """A button alone (sign out, revoke, disable): only the CSRF token."""


class KeyForm(FlaskForm):
    name = StringField(_l("Name (who or what uses the key)"),
                       validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role"), choices=role_choices)


class WebhookForm(FlaskForm):
    url = StringField(_l("Endpoint URL (https)"), validators=[DataRequired(), Length(max=2000)],
                      render_kw={"inputmode": "url"})
    events = SelectMultipleField(_l("Event types"), validators=[DataRequired()],
                                 choices=[SelectChoice(k, k) for k in webhooks.EVENT_TYPES],
                                 default=list(webhooks.EVENT_TYPES))


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=role_choices)


class ConfirmForm(FlaskForm):
    """The second step of a change that cannot be undone: confirmed=yes, and the CSRF token."""

    confirmed = HiddenField()


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=role_choices)


class PublishForm(FlaskForm):
    material = BooleanField(_l("Material change: ask everyone for consent again"))
    expected = HiddenField(validators=[DataRequired()])


def site_choices() -> list:
    """All sites, or one (shown when a deployment serves several, consent/sites.py)."""
    return [SelectChoice("", _l("all"))] + [
        SelectChoice(site.id, site.name or site.id)
        for site in current_app.extensions["consent_sites"]]


class ExportForm(FlaskForm):
    since = DateField(_l("From (date, UTC)"), validators=[Optional(), sane_date])
    until = DateField(_l("To and including (date, UTC)"), validators=[Optional(), sane_date])
    site = SelectField(_l("Site"), choices=site_choices, default="")
    purpose = SelectField(_l("Purpose"), choices=lambda: [SelectChoice("", _l("all"))] + [
        SelectChoice(p.key, p.name) for p in purposes.PURPOSES])
    action = SelectField(_l("Action"), choices=lambda: [SelectChoice("", _l("all"))] + [
        SelectChoice(a, a) for a in exports.ACTIONS])
    format = SelectField(_l("Format"), choices=[SelectChoice("ndjson", "NDJSON"),
                                                SelectChoice("csv", "CSV"),
                                                SelectChoice("json", "JSON")])


class SubjectForm(FlaskForm):
    subject = StringField(_l("Consent id or e-mail address"),
                          validators=[DataRequired(), Length(max=320)])


class ChartRangeForm(FlaskForm):
    since = DateField(_l("From (date, UTC)"), validators=[Optional(), sane_date])
    until = DateField(_l("To and including (date, UTC)"), validators=[Optional(), sane_date])
    site = SelectField(_l("Site"), choices=site_choices, default="")


def person_purposes():
    return [SelectChoice(key, purposes.BY_KEY[key].name) for key in purposes.PERSON_KEYS]


ADDRESS_COLUMN = _l("Address column (optional; found by its name, e.g. email or e-post)")
CSV_FILES = ".csv,.txt,text/csv,text/plain"


class CheckForm(FlaskForm):
    file = FileField(_l("CSV file exported from the newsletter tool or a spreadsheet"),
                     validators=[FileRequired()], render_kw={"accept": CSV_FILES})
    purpose = SelectField(_l("Purpose"), choices=person_purposes)
    product_category = StringField(_l("Product category (for existing customers, optional)"),
                                   validators=[Optional(), Length(max=64)])
    column = StringField(ADDRESS_COLUMN, validators=[Optional(), Length(max=200)])


class AudienceForm(FlaskForm):
    purpose = SelectField(_l("Purpose"), choices=person_purposes)
    product_category = StringField(_l("Product category (for existing customers, optional)"),
                                   validators=[Optional(), Length(max=64)])
    site = SelectField(_l("Site"), choices=site_choices, default="")


class LookupForm(FlaskForm):
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)],
                        render_kw={"autocomplete": "off"})


class CustomersForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()],
                     render_kw={"accept": CSV_FILES})
    column = StringField(ADDRESS_COLUMN, validators=[Optional(), Length(max=200)])
