"""The privacy notice and its versions: the seed's sections as catalog strings with the site's
additions, rendered as plain text; each published version keeps that text per language and its
SHA-256, and a material one makes every earlier consent outdated (N-02, N-04).

The Norwegian catalog holds the seed text word for word (shared/seed/personvernerklaering.nb.txt);
English msgids are the translation. The rendered plain text is what a version's hash covers.
"""
import hashlib
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from .. import database
from ..errors import Invalid
from ..models import PolicyText, PolicyVersion
from ..vocabulary import DEFAULT_SITE
from . import disclosures, purposes
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
# The sections the server writes (disclosures.py), after the seed section they belong to.
WRITTEN = {3: lambda site, lang, cfg: [disclosures.legal_basis()],
           4: lambda site, lang, cfg: [disclosures.recipients(site, lang),
                                       disclosures.transfers(site, lang)],
           5: lambda site, lang, cfg: [disclosures.retention(cfg)],
           6: lambda site, lang, cfg: [disclosures.objection()]}


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


def document(site: Site, language: str, cfg=None) -> Document:
    """The whole notice in one language: the seed's sections, the sections written from the
    site file and the settings, and the site's additions."""
    cfg = cfg if cfg is not None else current_app.config
    with force_locale(language):
        sections = []
        for number, (heading, lead, items, lines) in enumerate(SEED, start=1):
            sections.append(Section(str(heading), str(lead) if lead else None,
                                    [str(i) for i in items], [str(x) for x in lines],
                                    number=number))
            for heading, lead, items, paragraphs in (WRITTEN[number](site, language, cfg)
                                                     if number in WRITTEN else []):
                sections.append(Section(heading, lead, items=items, paragraphs=paragraphs,
                                        addition=True))
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
            pairs = zip(columns, values, strict=True)
            out.append("• " + "; ".join(f"{c}: {v}" for c, v in pairs))
    return "\n".join(out) + "\n"


# (version, language) -> text hash, per engine: versions are immutable once published.
_HASHES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass
class Published:
    version: str
    published_at: datetime
    material: bool
    hashes: dict[str, str]


class NewRecipients(Invalid):
    """A provider the published notice does not name yet: a material change (N-04, N-06)."""

    def __init__(self, entities: list[str]):
        self.entities = entities
        super().__init__("A new recipient is a material change: publish it as material.",
                         {"material": [f"New recipient: {name}." for name in entities]})


def new_recipients(session: Session, site: Site) -> list[str]:
    """The providers' legal entities that the site's latest published notice does not name."""
    latest = current(session, site.id)
    if latest is None:
        return []
    shown = session.execute(select(PolicyText.text)
                            .where(PolicyText.version_id == latest.id)).scalars().all()
    return [p.entity for p in site.providers if not any(p.entity in text for text in shown)]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def render(site: Site, languages) -> dict[str, str]:
    """The notice's exact plain text in every language."""
    return {lang: plain_text(document(site, lang)) for lang in languages}


def current(session: Session, site: str = DEFAULT_SITE) -> PolicyVersion | None:
    """A site's newest published version, or None before its first publication."""
    return session.execute(select(PolicyVersion).where(PolicyVersion.site == site)
                           .order_by(PolicyVersion.id.desc()).limit(1)).scalar_one_or_none()


def publish(session: Session, site: Site, languages, now: datetime, material: bool = False,
            force: bool = False) -> Published | None:
    """Record a new version of a site's notice when its text changed (or force); None when
    nothing changed. Version strings count every site's versions, so a version names its site.

    A site's first version is always material: nobody has consented to anything before it. A
    new recipient must be published as material (NewRecipients otherwise).
    """
    texts = render(site, languages)
    hashes = {lang: sha256(text) for lang, text in texts.items()}
    latest = current(session, site.id)
    if latest is not None and not force and _hashes_of(session, latest) == hashes:
        return None
    added = new_recipients(session, site)
    if added and not material:
        raise NewRecipients(added)
    material = material or latest is None
    with database.writing(session) as conn:
        count = conn.execute(select(func.count()).select_from(PolicyVersion)).scalar_one()
        version = str(count + 1)
        version_id = conn.execute(insert(PolicyVersion).values(
            version=version, published_at=now, material=material, site=site.id)
            .returning(PolicyVersion.id)).scalar_one()
        conn.execute(insert(PolicyText), [
            {"version_id": version_id, "language": lang, "text_hash": hashes[lang],
             "text": texts[lang]} for lang in texts])
    return Published(version, now, material, hashes)


def _hashes_of(session: Session, version: PolicyVersion) -> dict[str, str]:
    rows = session.execute(select(PolicyText.language, PolicyText.text_hash)
                           .where(PolicyText.version_id == version.id))
    return {language: digest for language, digest in rows}


def text_hash(session: Session, version: str, language: str, site: str | None = None) -> str:
    """The hash of the text shown for a version and language; Invalid for a version unknown
    or, when a site is named, of another site."""
    cache = _HASHES.setdefault(session.get_bind(), {})
    key = (version, language, site)
    if key not in cache:
        query = (select(PolicyText.text_hash).join(PolicyVersion)
                 .where(PolicyVersion.version == version, PolicyText.language == language))
        if site is not None:
            query = query.where(PolicyVersion.site == site)
        found = session.execute(query).scalar_one_or_none()
        if found is None:
            raise Invalid("Unknown notice version.", {"policy_version": [
                f"No published notice version {version!r} of this site."]})
        cache[key] = found
    return cache[key]


def site_of(conn, version: str) -> str:
    """The site whose notice a version is (a version string names one site): the site of a
    person's event, which follows the notice it is recorded under."""
    found = conn.execute(select(PolicyVersion.site).where(PolicyVersion.version == version)
                         ).scalar_one_or_none()
    return found or DEFAULT_SITE


def text(session: Session, version: PolicyVersion, language: str) -> PolicyText | None:
    return session.get(PolicyText, (version.id, language))


def valid_versions(session: Session, site: str | None = None) -> list[str]:
    """Versions whose consents still count: a site's last material one and every one of that
    site after it. Without a site, every site's: a version names its site, so a consent under
    it counts when its own site's material changes came before it (N-04 per site)."""
    last_material = (select(PolicyVersion.site, func.max(PolicyVersion.id).label("since"))
                     .where(PolicyVersion.material).group_by(PolicyVersion.site).subquery())
    query = (select(PolicyVersion.version)
             .join(last_material, last_material.c.site == PolicyVersion.site)
             .where(PolicyVersion.id >= last_material.c.since).order_by(PolicyVersion.id))
    if site is not None:
        query = query.where(PolicyVersion.site == site)
    return list(session.execute(query).scalars())


def is_outdated(session: Session, version: str) -> bool:
    """True when a material version was published after the given one (or it is unknown)."""
    return version not in valid_versions(session)


def versions(session: Session) -> list[PolicyVersion]:
    """Every published version, newest first."""
    return list(session.execute(select(PolicyVersion).order_by(PolicyVersion.id.desc()))
                .scalars())
