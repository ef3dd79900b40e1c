"""The purpose catalog (from the privacy notice) and Google Consent Mode v2 signals."""
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..vocabulary import REQUIRED, SubjectType
from ..vocabulary import Purpose as Key


@dataclass(frozen=True)
class Purpose:
    key: Key
    scopes: tuple[SubjectType, ...]  # device (cookies, the banner) and/or person (e-mail)
    signals: tuple[str, ...]  # Consent Mode v2 types this purpose grants
    name: object
    description: object  # None: written with its providers' names, see describe()

    @property
    def required(self) -> bool:
        return self.key in REQUIRED


PURPOSES = (
    Purpose(Key.NECESSARY, (SubjectType.DEVICE,), ("security_storage", "functionality_storage"),
            _l("Strictly necessary"),
            _l("Needed for orders, payments, customer service and security.")),
    Purpose(Key.ANALYTICS, (SubjectType.DEVICE,), ("analytics_storage",),
            _l("Statistics"), None),
    Purpose(Key.MARKETING, (SubjectType.DEVICE, SubjectType.PERSON),
            ("ad_storage", "ad_user_data", "ad_personalization"),
            _l("Marketing"), None),
    Purpose(Key.NEWSLETTER, (SubjectType.PERSON,), (),
            _l("Newsletter"),
            _l("Our newsletter by e-mail.")),
)
BY_KEY = {p.key: p for p in PURPOSES}
# What a person purpose means by e-mail, said in the confirmation mail and on people's pages.
BY_EMAIL = {Key.NEWSLETTER: _l("Our newsletter by e-mail."),
            Key.MARKETING: _l("Offers and news about our goods and services by e-mail.")}
DEVICE = tuple(p for p in PURPOSES if SubjectType.DEVICE in p.scopes)
PERSON_KEYS = tuple(p.key for p in PURPOSES if SubjectType.PERSON in p.scopes)  # e-mail ones
OPTIONAL_KEYS = tuple(p.key for p in PURPOSES if not p.required)
# Consent Mode v2 types no purpose grants: they stay denied.
DENIED_ALWAYS = ("personalization_storage",)


def describe(purpose: Purpose, providers: str, count: int) -> str:
    """A purpose's description in the current locale; statistics and marketing name who receives
    the data (C-03, N-06): `providers` as a list in words ("A and B"), `count` of them.
    The names come from the site file, never from here."""
    if purpose.key == Key.ANALYTICS:
        return ngettext("%(providers)s counts visits and shows how the website is used, so that "
                        "we can improve it. %(providers)s receives the IP address, browser, time "
                        "zone, approximate location and operating system.",
                        "%(providers)s count visits and show how the website is used, so that "
                        "we can improve it. %(providers)s receive the IP address, browser, time "
                        "zone, approximate location and operating system.",
                        count, providers=providers)
    if purpose.key == Key.MARKETING:
        # C-02: ads on the device and measuring them, by name; e-mail is the newsletter's.
        return ngettext("%(providers)s shows you ads from us on other websites and in social "
                        "media, chosen for you, and measures how well they work. You can "
                        "withdraw your consent at any time under “Change consent”.",
                        "%(providers)s show you ads from us on other websites and in social "
                        "media, chosen for you, and measure how well they work. You can "
                        "withdraw your consent at any time under “Change consent”.",
                        count, providers=providers)
    return str(purpose.description)


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
