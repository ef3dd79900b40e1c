"""The purpose catalog (from the privacy notice) and Google Consent Mode v2 signals."""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ..vocabulary import REQUIRED, SubjectType
from ..vocabulary import Purpose as Key


@dataclass(frozen=True)
class Purpose:
    key: Key
    scopes: tuple[SubjectType, ...]  # device (cookies, the banner) and/or person (e-mail)
    signals: tuple[str, ...]  # Consent Mode v2 types this purpose grants
    name: object
    description: object

    @property
    def required(self) -> bool:
        return self.key in REQUIRED


PURPOSES = (
    Purpose(Key.NECESSARY, (SubjectType.DEVICE,), ("security_storage", "functionality_storage"),
            _l("Strictly necessary"),
            _l("Needed for orders, payments, customer service and security.")),
    Purpose(Key.ANALYTICS, (SubjectType.DEVICE,), ("analytics_storage",),
            _l("Statistics"),
            _l("Technical data (IP address, browser, time zone, approximate location, "
               "operating system) that helps us improve the website.")),
    Purpose(Key.MARKETING, (SubjectType.DEVICE, SubjectType.PERSON),
            ("ad_storage", "ad_user_data", "ad_personalization"),
            _l("Marketing"),
            # C-02: ads on the device and measuring them, by name; e-mail is the newsletter's.
            _l("Ads from us on other websites and in social media, chosen for you, and "
               "measuring how well they work, by Google and Meta. You can withdraw your "
               "consent at any time under “Change consent”.")),
    Purpose(Key.NEWSLETTER, (SubjectType.PERSON,), (),
            _l("Newsletter"),
            _l("Our newsletter by e-mail.")),
)
BY_KEY = {p.key: p for p in PURPOSES}
DEVICE = tuple(p for p in PURPOSES if SubjectType.DEVICE in p.scopes)
PERSON_KEYS = tuple(p.key for p in PURPOSES if SubjectType.PERSON in p.scopes)  # e-mail ones
OPTIONAL_KEYS = tuple(p.key for p in PURPOSES if not p.required)
# Consent Mode v2 types no purpose grants: they stay denied.
DENIED_ALWAYS = ("personalization_storage",)


def device_choices(choices: dict[str, bool]) -> tuple[dict[str, bool], dict[str, list[str]]]:
    """Every device purpose with its choice (optional ones off unless turned on); and errors."""
    errors = {}
    for key, value in choices.items():
        purpose = BY_KEY.get(key)
        if purpose is None or SubjectType.DEVICE not in purpose.scopes:
            errors[key] = ["Unknown purpose for a device consent."]
        elif purpose.required and value is not True:
            errors[key] = ["This purpose is necessary and cannot be refused."]
    full = {p.key: True if p.required else bool(choices.get(p.key, False)) for p in DEVICE}
    return full, errors


def refused() -> dict[str, bool]:
    """The device choices with every optional purpose off."""
    return {p.key: p.required for p in DEVICE}
