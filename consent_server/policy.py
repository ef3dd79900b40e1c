"""Notice versions: publish the rendered text per language, look up hashes, tell outdated ones."""
import hashlib
import weakref
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import notice
from .errors import Invalid
from .models import PolicyText, PolicyVersion
from .site import Site

# (version, language) -> text hash, per engine: versions are immutable once published.
_HASHES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass
class Published:
    version: str
    published_at: datetime
    material: bool
    hashes: dict[str, str]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def render(site: Site, languages) -> dict[str, str]:
    """The notice's exact plain text in every language."""
    return {lang: notice.plain_text(notice.document(site, lang)) for lang in languages}


def current(session: Session) -> PolicyVersion | None:
    """The newest published version, or None before the first publication."""
    return session.execute(select(PolicyVersion).order_by(PolicyVersion.id.desc())
                           .limit(1)).scalar_one_or_none()


def publish(session: Session, site: Site, languages, now: datetime, material: bool = False,
            force: bool = False) -> Published | None:
    """Record a new version when the text changed (or force); None when nothing changed.

    The first version is always material: nobody has consented to anything before it.
    """
    texts = render(site, languages)
    hashes = {lang: sha256(text) for lang, text in texts.items()}
    latest = current(session)
    if latest is not None and not force and _hashes_of(session, latest) == hashes:
        return None
    count = session.execute(select(func.count()).select_from(PolicyVersion)).scalar_one()
    version = PolicyVersion(version=str(count + 1), published_at=now,
                            material=material or latest is None)
    session.add(version)
    session.flush()
    session.add_all(PolicyText(version_id=version.id, language=lang, text_hash=hashes[lang],
                               text=texts[lang]) for lang in texts)
    session.commit()
    return Published(version.version, version.published_at, version.material, hashes)


def _hashes_of(session: Session, version: PolicyVersion) -> dict[str, str]:
    rows = session.execute(select(PolicyText.language, PolicyText.text_hash)
                           .where(PolicyText.version_id == version.id))
    return {language: digest for language, digest in rows}


def text_hash(session: Session, version: str, language: str) -> str:
    """The hash of the text shown for a version and language; Invalid for an unknown version."""
    cache = _HASHES.setdefault(session.get_bind(), {})
    key = (version, language)
    if key not in cache:
        found = session.execute(select(PolicyText.text_hash).join(PolicyVersion)
                                .where(PolicyVersion.version == version,
                                       PolicyText.language == language)).scalar_one_or_none()
        if found is None:
            raise Invalid("Unknown notice version.",
                          {"policy_version": [f"No published notice version {version!r}."]})
        cache[key] = found
    return cache[key]


def text(session: Session, version: PolicyVersion, language: str) -> PolicyText | None:
    return session.get(PolicyText, (version.id, language))


def valid_versions(session: Session) -> list[str]:
    """Versions whose consents still count: the last material one and every one after it."""
    last_material = session.execute(select(func.max(PolicyVersion.id))
                                    .where(PolicyVersion.material)).scalar_one_or_none() or 0
    return list(session.execute(select(PolicyVersion.version)
                                .where(PolicyVersion.id >= last_material)
                                .order_by(PolicyVersion.id)).scalars())


def is_outdated(session: Session, version: str) -> bool:
    """True when a material version was published after the given one (or it is unknown)."""
    return version not in valid_versions(session)


def versions(session: Session) -> list[PolicyVersion]:
    """Every published version, newest first."""
    return list(session.execute(select(PolicyVersion).order_by(PolicyVersion.id.desc()))
                .scalars())
