"""The parts of the notice the server writes itself, so that they say what the code does (N-03,
N-06, N-07): the legal bases (naming the interest, and the existing-customer basis), who
receives data and transfers outside the EEA (from the site file's [[providers]]), how long data
is kept (from the configuration), and the right to object to direct marketing on its own."""
from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .site import Site

LEGAL_BASIS = _l("Legal basis")
BASES = (
    _l("Orders, payments, communication about orders and customer service: our contract with "
       "you (GDPR Article 6(1)(b))."),
    _l("Security of the website and prevention of fraud and misuse, and improving the website "
       "where nothing is stored on or read from your device: our legitimate interest in a "
       "secure website that works well (Article 6(1)(f))."),
    _l("Statistics, marketing and the newsletter: your consent (Article 6(1)(a), and section "
       "3-15 of the Norwegian Electronic Communications Act for cookies)."),
    _l("Marketing by e-mail to you as an existing customer, about our own goods or services "
       "similar to those you bought: our legitimate interest in marketing to our customers "
       "(Article 6(1)(f)), as section 15 third paragraph of the Norwegian Marketing Control Act "
       "allows. You can say no at any time, free of charge."),
    _l("The records of your consents, withdrawals and objections: our legal obligation to be "
       "able to show that we had your consent and respected your choices (Article 6(1)(c), "
       "with Article 7(1))."),
    _l("Accounting and other duties the law imposes on us: legal obligation (Article 6(1)(c))."),
)
RECIPIENTS = _l("Who receives your data")
RECIPIENTS_LEAD = _l("These companies receive personal data from us or from your device; for "
                     "statistics and marketing, only if you consent:")
RECIPIENT = _l("%(entity)s (%(country)s), for %(uses)s.")
USES = {"analytics": _l("statistics"),
        "marketing": _l("marketing"),
        "hosting": _l("hosting our website"),
        "mail": _l("sending our e-mail"),
        "newsletter": _l("sending our newsletter")}
NO_RECIPIENTS = _l("We name no recipients beyond those in section 4.")
TRANSFERS = _l("Transfers outside the EEA")
TRANSFER = {"dpf": _l("%(entity)s may transfer data to %(country)s. The transfer rests on the "
                      "EU–US Data Privacy Framework (an adequacy decision of the European "
                      "Commission), to which the company is certified."),
            "scc": _l("%(entity)s may transfer data to %(country)s. The transfer rests on the "
                      "European Commission's standard contractual clauses.")}
NO_TRANSFERS = _l("We do not transfer personal data outside the EEA.")
RETENTION = _l("How long we keep your information")
OBJECT = _l("Your right to object to direct marketing")
OBJECT_TEXT = _l("You can object at any time to our use of your personal data for direct "
                 "marketing, also when we market to you as an existing customer. We then stop "
                 "at once, with no need to give a reason. Use the unsubscribe link in the "
                 "e-mail, the page “Your subscriptions and consents”, or write to us.")


def names(site: Site, purpose: str) -> str:
    """The providers of a purpose by their short names, as a list in the current language
    ("A, B and C"); the controller itself when no provider is declared for it."""
    found = [p.name for p in site.providers_for(purpose)] or [site.controller]
    return format_list(found, locale=str(get_locale()))


def legal_basis() -> tuple[str, str | None, list[str], list[str]]:
    """(heading, lead, items, paragraphs), as each function here answers."""
    return str(LEGAL_BASIS), None, [str(b) for b in BASES], []


def recipients(site: Site, language: str) -> tuple[str, str | None, list[str], list[str]]:
    """One line per provider, and a paragraph per joint controllership (Art. 26)."""
    if not site.providers:
        return str(RECIPIENTS), None, [], [str(NO_RECIPIENTS)]
    items = [str(RECIPIENT) % {"entity": p.entity, "country": p.country[language],
                               "uses": format_list([str(USES[u]) for u in p.purposes],
                                                   locale=str(get_locale()))}
             for p in site.providers]
    joint = [p.joint_controller[language] for p in site.providers if p.joint_controller]
    return str(RECIPIENTS), str(RECIPIENTS_LEAD), items, joint


def transfers(site: Site, language: str) -> tuple[str, str | None, list[str], list[str]]:
    lines = [str(TRANSFER[p.transfer]) % {"entity": p.entity, "country": p.transfer_to[language]}
             for p in site.providers if p.transfer != "none"]
    return str(TRANSFERS), None, [], lines or [str(NO_TRANSFERS)]


def retention(cfg) -> tuple[str, str | None, list[str], list[str]]:
    """The retention periods, from the settings the code applies."""
    items = [
        _l("Order and payment information: five years after the end of the financial year, as "
           "the Norwegian Bookkeeping Act requires."),
        _l("User account: until you delete the account."),
        _l("Your choice about cookies: %(days)s days, after which we ask again.",
           days=int(cfg["MAX_AGE_DAYS"])),
        _l("Your e-mail address for the newsletter and marketing: while you receive either; "
           "we delete it %(days)s days after the last one ended, or after a sign-up you never "
           "confirmed.", days=int(cfg["PERSON_RETENTION_DAYS"])),
        _l("Marketing to you as an existing customer: until %(months)s months after your last "
           "purchase, unless you say no before.", months=int(cfg["CUSTOMER_BASIS_MONTHS"])),
        _l("Records of consents, withdrawals and objections: %(days)s days after each was made, "
           "so that we can show what you chose. After an erasure they no longer contain your "
           "address, only a code made from it.", days=int(cfg["RETENTION_DAYS"])),
    ]
    return str(RETENTION), None, [str(item) for item in items], []


def objection() -> tuple[str, str | None, list[str], list[str]]:
    return str(OBJECT), None, [], [str(OBJECT_TEXT)]
