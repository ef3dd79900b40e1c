"""The privacy notice: the seed's sections as catalog strings, the site's additions, plain text.

The Norwegian catalog holds the seed text word for word (shared/seed/personvernerklaering.nb.txt);
English msgids are the translation. The rendered plain text is what a version's hash covers.
"""
from dataclasses import dataclass, field

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from . import purposes
from .site import Site

TITLE = _l("Privacy notice")
INTRO = _l("Welcome to www.exentri.no. Your privacy matters to us, and we are committed to "
           "protecting your personal data. This privacy notice describes how we collect, use, "
           "store and share your personal data when you visit our website.")
EMAIL = _l("E-mail: post@exentri.no")

# (heading, lead paragraph or None, bullet items, plain lines)
SEED = (
    (_l("Who is responsible for your personal data?"), None, (),
     ("EXENTRI AS", _l("Address: Bygdøy Allé 10, 0262 Oslo"), EMAIL,
      _l("Phone: 22 22 39 00"))),
    (_l("What information do we collect?"),
     _l("We may collect the following types of personal data:"),
     (_l("Contact information: name, e-mail address, phone number"),
      _l("Payment information: credit card number, billing address"),
      _l("User information: username, password, purchase history"),
      _l("Technical data: IP address, browser type, time zone settings, location, operating "
         "system and platform")), ()),
    (_l("How do we use your information?"),
     _l("Your personal data may be used for the following purposes:"),
     (_l("Processing orders and payments"),
      _l("Communication about your orders"),
      _l("Improving our website and our services"),
      _l("Providing customer service and support"),
      _l("Sending newsletters and marketing (if you have consented to this)")), ()),
    (_l("Sharing your information"),
     _l("We do not share your personal data with third parties unless it is necessary to:"),
     (_l("Complete a transaction (e.g. payment processors, delivery companies)"),
      _l("Comply with legal requirements or court orders"),
      _l("Protect the rights, property or safety of Exentri, our customers or others")), ()),
    (_l("Security of your information"),
     _l("We take the security of your personal data seriously and use appropriate technical and "
        "organisational measures to protect it against unauthorised access, alteration, "
        "disclosure or destruction."), (), ()),
    (_l("Your rights"), _l("You have the right to:"),
     (_l("Access your personal data"),
      _l("Have errors in your personal data corrected"),
      _l("Request erasure of your personal data"),
      _l("Object to the processing of your personal data"),
      _l("Request restriction of the processing of your personal data"),
      _l("Receive a copy of your personal data in a structured, commonly used and "
         "machine-readable format")), ()),
    (_l("Contact us"),
     _l("If you have questions about our privacy notice or how we process your personal data, "
        "you can contact us at:"), (), (EMAIL, _l("Phone: +47 22 22 39 00"))),
    (_l("Changes to this privacy notice"),
     _l("We may update this privacy notice from time to time. Any changes will be published on "
        "this page, and we encourage you to review it regularly."), (), ()),
)

COOKIES_HEADING = _l("Cookies")
COOKIES_LEAD = _l("These are the cookies the website uses, by purpose. Only the strictly "
                  "necessary ones are set without your consent. You can change your consent at "
                  "any time.")
COOKIE_COLUMNS = (_l("Name"), _l("Provider"), _l("Lifetime"), _l("Description"))


@dataclass
class Section:
    heading: str
    lead: str | None = None
    items: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    number: int | None = None
    addition: bool = False  # from the site file (N-03), not the seed


@dataclass
class Document:
    language: str
    title: str
    intro: str
    sections: list[Section]
    cookies: list[dict]  # per purpose: {key, name, cookies: [{name, provider, lifetime, ...}]}


def document(site: Site, language: str) -> Document:
    """The whole notice in one language: the seed's sections with the site's additions."""
    with force_locale(language):
        sections = []
        for number, (heading, lead, items, lines) in enumerate(SEED, start=1):
            sections.append(Section(str(heading), str(lead) if lead else None,
                                    [str(i) for i in items], [str(x) for x in lines],
                                    number=number))
            for extra in site.additions_after(number):
                sections.append(Section(extra.heading[language],
                                        items=[i[language] for i in extra.items],
                                        paragraphs=[p[language] for p in extra.paragraphs],
                                        addition=True))
        cookies = [{"key": p.key, "name": str(p.name),
                    "cookies": site.cookies_for(p.key, language)}
                   for p in purposes.DEVICE if site.cookies_for(p.key, language)]
        return Document(language, str(TITLE), str(INTRO), sections, cookies)


def plain_text(doc: Document) -> str:
    """The notice as plain text: exactly what a version's hash covers."""
    out = [doc.title, "", doc.intro]
    for section in doc.sections:
        prefix = f"{section.number}. " if section.number else ""
        out += ["", prefix + section.heading]
        out += ([section.lead] if section.lead else []) + section.lines + section.paragraphs
        out += [f"• {item}" for item in section.items]
    with force_locale(doc.language):
        out += ["", str(COOKIES_HEADING), str(COOKIES_LEAD)]
        columns = [str(c) for c in COOKIE_COLUMNS]
    for group in doc.cookies:
        out += ["", group["name"]]
        for cookie in group["cookies"]:
            values = (cookie["name"], cookie["provider"], cookie["lifetime"],
                      cookie["description"])
            out.append("• " + "; ".join(f"{c}: {v}" for c, v in zip(columns, values)))
    return "\n".join(out) + "\n"
