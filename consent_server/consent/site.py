"""The site file (TOML): the cookie declaration per purpose, the notice's additions, and the
look of people's pages (the controller's logo and accent colour)."""
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import force_locale

from ..config import Config
from ..vocabulary import DEFAULT_SITE, SubjectType
from . import purposes

DEFAULT = Path(__file__).with_name("site.toml")
LANGUAGES = Config.LANGUAGES
FALLBACK = {"nn": "nb"}  # a text a site gives no nynorsk for is shown in bokmål
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".webp": "image/webp",
              ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


class SiteFileError(Exception):
    """The site file cannot be used; the message names the file and the line or key."""


@dataclass(frozen=True)
class Cookie:
    purpose: str
    name: str
    provider: str
    lifetime: dict[str, str]
    description: dict[str, str]


@dataclass(frozen=True)
class Addition:
    after_section: int
    heading: dict[str, str]
    items: tuple[dict[str, str], ...]
    paragraphs: tuple[dict[str, str], ...]


TRANSFERS = ("none", "dpf", "scc")  # outside the EEA: none, EU-US Data Privacy Framework, SCCs
ROLES = ("hosting", "mail", "newsletter")  # what a provider does beside a device purpose


@dataclass(frozen=True)
class Provider:
    """A recipient (Art. 13(1)(e)-(f)): who, where, on what transfer basis, for what."""
    name: str  # short, as the banner says it
    entity: str  # the legal entity, as the notice says it
    country: dict[str, str]
    transfer: str  # one of TRANSFERS
    transfer_to: dict[str, str] | None  # the country outside the EEA, when there is a transfer
    purposes: tuple[str, ...]  # device purposes and/or ROLES
    joint_controller: dict[str, str] | None = None  # the essence of the arrangement (Art. 26)


@dataclass(frozen=True)
class Theme:
    """People's pages' look: an accent colour (#rrggbb) and a logo file, both optional."""
    accent: str | None = None
    logo: Path | None = None  # read from the site file's folder, served by us (no third party)


@dataclass(frozen=True)
class Site:
    """One site of the controller: what it declares and shows. A file without [[sites]] is one
    site, the default one (id "default", its origins CONSENT_ALLOWED_ORIGINS; sites.py)."""
    controller: str
    cookies: tuple[Cookie, ...]
    additions: tuple[Addition, ...]
    privacy: dict[str, str] | None = None  # the site's own notice, per language
    theme: Theme = Theme()
    providers: tuple[Provider, ...] = ()
    contact: str | None = None  # the controller's e-mail address: Reply-To and contact lines
    meanings: dict[str, dict[str, str]] = field(default_factory=dict)  # e-mail purpose: texts
    id: str = DEFAULT_SITE  # recorded in every event of the site (ledger v3)
    name: str | None = None  # as the banner names the site, beside the controller
    origins: tuple[str, ...] = ()  # the pages' origins that may use it (scheme://host[:port])

    @property
    def shown_name(self) -> str:
        """Who asks, as the banner says it: the site's name with the controller's, or the
        controller alone (C-03 names the controller either way)."""
        if self.name and self.name != self.controller:
            return f"{self.name} ({self.controller})"
        return self.controller

    def providers_for(self, purpose: str) -> list[Provider]:
        """The providers that receive data for a purpose or role, in the site file's order."""
        return [p for p in self.providers if purpose in p.purposes]

    def privacy_url(self, language: str) -> str | None:
        """The site's own privacy notice in one language, when the site file names it."""
        return self.privacy[language] if self.privacy else None

    def cookies_for(self, purpose: str, language: str) -> list[dict]:
        """The declared cookies of one purpose, their texts in one language."""
        return [{"name": c.name, "provider": c.provider, "lifetime": c.lifetime[language],
                 "description": c.description[language]}
                for c in self.cookies if c.purpose == purpose]

    def meaning(self, key: str, language: str) -> str:
        """What an e-mail purpose (newsletter, marketing) means, said on the sign-up form and in
        the confirmation mail: the site file's words, else ours (the catalog's)."""
        if key in self.meanings:
            return self.meanings[key][language]
        with force_locale(language):
            return str(purposes.BY_EMAIL[key])

    def additions_after(self, section: int) -> list[Addition]:
        return [a for a in self.additions if a.after_section == section]


def load(path: str | Path | None = None) -> Site:
    """Read and check a site file of one site; SiteFileError names what is wrong and where."""
    path = Path(path or DEFAULT)
    return parse(read(path), path)


def read(path: Path) -> dict:
    """A site file's TOML; SiteFileError names the file and the line."""
    try:
        source = path.read_text(encoding="utf-8")
        return tomllib.loads(source)
    except OSError as error:
        raise SiteFileError(f"{path}: cannot read the site file ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:  # its message names the line, or the end
        where = "" if "line" in str(error) else f" (line {len(source.splitlines())})"
        raise SiteFileError(f"{path}: {error}{where}") from error


def parse(data: dict, path: Path, where: str = "") -> Site:
    """One site from its table (where: "sites[1]: " when it is one of [[sites]])."""
    try:
        cookies = tuple(_cookie(c, f"cookies[{i}]") for i, c in enumerate(data.get("cookies", [])))
        additions = tuple(_addition(a, f"notice.additions[{i}]")
                          for i, a in enumerate(data.get("notice", {}).get("additions", [])))
        controller = data.get("controller")
        if not isinstance(controller, str) or not controller.strip():
            raise SiteFileError('controller must name who asks for consent, e.g. '
                                'controller = "Exentri AS"')
        privacy = data.get("privacy")
        if privacy is not None:
            privacy = _urls(privacy.get("url") if isinstance(privacy, dict) else None,
                            "privacy.url")
        theme = _theme(data.get("theme", {}), path.parent)
        providers = tuple(_provider(p, f"providers[{i}]")
                          for i, p in enumerate(data.get("providers", [])))
        _cookies_name_providers(cookies, providers, controller)
        contact = data.get("contact")
        if contact is not None and (not isinstance(contact, str) or "@" not in contact
                                    or any(c in contact for c in " <>,\r\n")):
            raise SiteFileError('contact must be the controller\'s e-mail address, e.g. '
                                'contact = "post@example.no"')
        meanings = _meanings(data.get("purposes", {}))
    except SiteFileError as error:
        raise SiteFileError(f"{path}: {where}{error}") from None
    return Site(controller, cookies, additions, privacy, theme, providers, contact, meanings)


def _text(value, where: str) -> dict[str, str]:
    """A text per language; nn is optional (bokmål stands in for it)."""
    if isinstance(value, dict):
        value = {**{lang: value.get(spare) for lang, spare in FALLBACK.items()
                    if lang not in value}, **value}
    if not isinstance(value, dict) or any(not isinstance(value.get(lang), str) or
                                          not value[lang].strip() for lang in LANGUAGES):
        raise SiteFileError(f"{where} must give a text for each language: "
                            "{ nb = \"...\", nn = \"...\" (optional), en = \"...\" }")
    return {lang: value[lang] for lang in LANGUAGES}


def _meanings(entry) -> dict[str, dict[str, str]]:
    """[purposes.newsletter] meaning = { nb = "...", en = "..." }, and marketing's."""
    keys = purposes.PERSON_KEYS
    if not isinstance(entry, dict) or any(k not in keys or not isinstance(v, dict)
                                          or set(v) != {"meaning"} for k, v in entry.items()):
        raise SiteFileError("purposes may only give a meaning for "
                            + " and ".join(f"[purposes.{k}]" for k in keys)
                            + ': meaning = { nb = "...", en = "..." }')
    return {k: _text(v["meaning"], f"purposes.{k}.meaning") for k, v in entry.items()}


def _urls(value, where: str) -> dict[str, str]:
    """A web address per language: { nb = "https://...", en = "https://..." }."""
    urls = _text(value, where)
    for lang, url in urls.items():
        if not url.startswith(("https://", "http://", "/")):
            raise SiteFileError(f"{where}.{lang} must be a web address (https://...)")
    return urls


def _string(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SiteFileError(f"{where}.{key} must be a non-empty string")
    return value


def _cookie(entry, where: str) -> Cookie:
    if not isinstance(entry, dict):
        raise SiteFileError(f"{where} must be a table")
    purpose = _string(entry, "purpose", where)
    if purpose not in purposes.BY_KEY or SubjectType.DEVICE not in purposes.BY_KEY[purpose].scopes:
        keys = ", ".join(p.key for p in purposes.DEVICE)
        raise SiteFileError(f"{where}.purpose {purpose!r} is not one of: {keys}")
    return Cookie(purpose, _string(entry, "name", where), _string(entry, "provider", where),
                  _text(entry.get("lifetime"), f"{where}.lifetime"),
                  _text(entry.get("description"), f"{where}.description"))


def _addition(entry, where: str) -> Addition:
    if not isinstance(entry, dict):
        raise SiteFileError(f"{where} must be a table")
    section = entry.get("after_section")
    if not isinstance(section, int) or not 1 <= section <= 8:
        raise SiteFileError(f"{where}.after_section must be a section number from 1 to 8")
    items = tuple(_text(v, f"{where}.items[{i}]") for i, v in enumerate(entry.get("items", [])))
    paragraphs = tuple(_text(v, f"{where}.paragraphs[{i}]")
                       for i, v in enumerate(entry.get("paragraphs", [])))
    if not items and not paragraphs:
        raise SiteFileError(f"{where} needs items or paragraphs")
    return Addition(section, _text(entry.get("heading"), f"{where}.heading"), items, paragraphs)


def _theme(entry, folder: Path) -> Theme:
    """[theme] accent = "#0b57d0", logo = "logo.svg" (a file beside the site file)."""
    if not isinstance(entry, dict):
        raise SiteFileError("theme must be a table: [theme]")
    accent, logo = entry.get("accent"), entry.get("logo")
    if accent is not None and not (isinstance(accent, str)
                                   and re.fullmatch(r"#[0-9a-fA-F]{6}", accent)):
        raise SiteFileError('theme.accent must be a colour as #rrggbb, e.g. "#0b57d0"')
    if logo is not None:
        if not isinstance(logo, str) or Path(logo).suffix.lower() not in LOGO_TYPES:
            raise SiteFileError("theme.logo must name an image file ("
                                + ", ".join(LOGO_TYPES) + ")")
        logo = folder / logo
        if not logo.is_file():
            raise SiteFileError(f"theme.logo: no such file {logo}")
    return Theme(accent.lower() if accent else None, logo)


def _provider(entry, where: str) -> Provider:
    if not isinstance(entry, dict):
        raise SiteFileError(f"{where} must be a table")
    transfer = entry.get("transfer")
    if transfer not in TRANSFERS:
        raise SiteFileError(f"{where}.transfer must be one of: {', '.join(TRANSFERS)}")
    uses = entry.get("purposes")
    known = [p.key for p in purposes.DEVICE if not p.required] + list(ROLES)
    if not isinstance(uses, list) or not uses or any(u not in known for u in uses):
        raise SiteFileError(f"{where}.purposes must list some of: {', '.join(known)}")
    transfer_to = (_text(entry.get("transfer_to"), f"{where}.transfer_to")
                   if transfer != "none" else None)
    joint = entry.get("joint_controller")
    return Provider(_string(entry, "name", where), _string(entry, "entity", where),
                    _text(entry.get("country"), f"{where}.country"), transfer, transfer_to,
                    tuple(uses), _text(joint, f"{where}.joint_controller") if joint else None)


def _cookies_name_providers(cookies, providers, controller: str) -> None:
    """With a provider list, each optional purpose's cookie names its provider's legal entity
    (or the controller): the notice and the banner then name every recipient from that one list
    (N-06). Strictly necessary cookies are the site's own."""
    if not providers:
        return
    entities = {p.entity for p in providers} | {controller}
    for index, cookie in enumerate(cookies):
        if not purposes.BY_KEY[cookie.purpose].required and cookie.provider not in entities:
            raise SiteFileError(f"cookies[{index}].provider {cookie.provider!r} is not the "
                                "entity of a [[providers]] entry (or the controller)")
