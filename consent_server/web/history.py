"""A person's history in their own words (R-01): each event as what changed ("You signed up for
the newsletter") and how ("with the confirmation link in the e-mail"), never a raw code."""
from datetime import date

from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from ..vocabulary import Action, Basis, Source

# What turning a purpose on or off means for the person; other purposes use the generic texts.
TURNED = {
    ("newsletter", True): _l("You signed up for the newsletter."),
    ("newsletter", False): _l("You unsubscribed from the newsletter."),
    ("marketing", True): _l("You said yes to marketing by e-mail."),
    ("marketing", False): _l("You said no to marketing by e-mail."),
}
ON, OFF = _l("You said yes to: %(purpose)s."), _l("You said no to: %(purpose)s.")
HOW = {
    Source.SIGNUP: _l("On the sign-up form"),
    Source.CONFIRM: _l("With the confirmation link in the e-mail"),
    Source.UNSUBSCRIBE: _l("With the unsubscribe link in an e-mail"),
    Source.PREFERENCES: _l("On this page"),
    Source.API: _l("Recorded by %(controller)s"),
    Source.SYSTEM: _l("Automatically"),
    Source.BANNER: _l("In the cookie banner"),
    Source.GPC: _l("By your browser's privacy signal (GPC)"),
}


def describe(events: list[dict], names: dict[str, str], controller: str) -> list[dict]:
    """Each event as {recorded_at, what: [sentences], how, policy_version, hash}, oldest first,
    in the current locale; what changed is measured against the event before it."""
    rows, before = [], {}
    for event in events:
        rows.append({"recorded_at": event["recorded_at"], "what": _what(event, before, names),
                     "how": str(HOW.get(event["source"], HOW[Source.API])).replace(
                         "%(controller)s", controller),
                     "policy_version": event["policy_version"], "hash": event["hash"]})
        before = event["choices"]
    return rows


def _what(event: dict, before: dict, names: dict[str, str]) -> list[str]:
    details = event.get("details") or {}
    if event["action"] == Action.ERASE:
        return [str(_l("Your address was erased."))]
    if event["action"] == Action.EXPIRE:
        return [str(_l("Your consent expired, and we stopped using it."))]
    if "restricted" in details:
        return [str(_l("You restricted the processing of your data.") if details["restricted"]
                    else _l("You lifted the restriction of processing."))]
    if details.get("rectified"):
        return [str(_l("Your e-mail address was corrected."))]
    if event.get("basis") == Basis.CUSTOMER and details.get("sale_date"):
        sale = format_date(date.fromisoformat(details["sale_date"]), "long")
        category = details.get("product_category")
        return [str(_l("A purchase was registered (%(date)s, %(category)s).", date=sale,
                       category=category) if category
                    else _l("A purchase was registered (%(date)s).", date=sale))]
    said = []
    for key, name in names.items():
        now, then = bool(event["choices"].get(key)), bool(before.get(key))
        if now != then:
            text = TURNED.get((key, now)) or (ON if now else OFF)
            said.append(str(text) % {"purpose": name})
    return said or [str(_l("Your choices were recorded, unchanged."))]

