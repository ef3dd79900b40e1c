"""Several sites of one controller: the site file's [[sites]] (or a folder of site files), each
with its id, name, origins and its own declaration; and which site a request is for.

A site file without [[sites]] is one site, the default one, whose origins are
CONSENT_ALLOWED_ORIGINS (as before sites existed). With [[sites]], the file's top level holds
what the sites share (the controller, its contact, providers, cookies, notice additions, theme,
privacy URLs), and each [[sites]] entry its id, name and origins and whatever it declares
differently: a key an entry gives replaces the top level's. A folder holds one site file per
site (its id the file's `id`, else its name without .toml), all of one controller.

The default site is the one with id "default", else the first: it keeps the events recorded
before sites existed, and answers requests that name no site from no known origin.
"""
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import Forbidden, Invalid
from ..vocabulary import DEFAULT_SITE
from .site import DEFAULT, Site, SiteFileError, parse, read

SITE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
OWN = ("id", "name", "origins")  # what only a site's own entry says
SHARED_ONLY = ("controller", "contact")  # one controller for every site


@dataclass(frozen=True)
class Sites:
    """Every site of the deployment, by id, in the site file's order."""

    by_id: dict[str, Site]
    default: Site

    def __iter__(self):
        return iter(self.by_id.values())

    def __len__(self):
        return len(self.by_id)

    def ids(self) -> list[str]:
        return list(self.by_id)

    def origins(self) -> list[str]:
        """Every site's origins: the ones CORS answers."""
        return [origin for site in self for origin in site.origins]

    def by_origin(self, origin: str | None) -> Site | None:
        """The site a page's origin belongs to (an origin belongs to one site at most)."""
        origin = normal_origin(origin) if origin else None
        return next((site for site in self if origin in site.origins), None)

    def named(self, site_id: str | None, field: str = "site") -> Site:
        """The site of an id a request names; Invalid when there is none such."""
        if site_id not in self.by_id:
            raise Invalid("Unknown site.", {field: [f"Must be one of: {', '.join(self.ids())}."]})
        return self.by_id[site_id]

    def pick(self, site_id: str | None, origin: str | None, own: set[str],
             strict: bool = False) -> Site:
        """The site a request is for: the one it names, else the one of its page's origin,
        else the default. strict (a write): a page naming a site must be one of that site's
        origins, else Forbidden (CORS per site); the server's own pages (own) may name any.
        """
        origin = normal_origin(origin) if origin else None
        if site_id is None or site_id == "":
            return self.by_origin(origin) or self.default
        site = self.named(site_id)
        if strict and origin and origin not in own and origin not in site.origins:
            raise Forbidden("This origin is not one of the site's origins.")
        return site


def normal_origin(value: str) -> str:
    """scheme://host[:port], lower case, no slash: as browsers send Origin."""
    return value.strip().rstrip("/").lower()


def load(path: str | Path | None, allowed_origins=()) -> Sites:
    """The sites of a site file or a folder of them; SiteFileError names what is wrong."""
    path = Path(path or DEFAULT)
    if path.is_dir():
        files = sorted(path.glob("*.toml"))
        if not files:
            raise SiteFileError(f"{path}: a folder of site files holds no *.toml file")
        found = [_site(data, data, f, "", f.stem) for f in files for data in [read(f)]]
        controllers = {s.controller for s in found}
        if len(controllers) > 1:
            raise SiteFileError(f"{path}: every site file must name the same controller "
                                f"(found {', '.join(sorted(controllers))})")
    else:
        data = read(path)
        entries = data.get("sites")
        if entries is None:
            only = _site(data, data, path, "", DEFAULT_SITE)
            found = [dataclasses.replace(
                only, origins=_unique((*only.origins, *map(normal_origin, allowed_origins))))]
        else:
            found = _entries(data, entries, path)
    return _registry(found, path, allowed_origins)


def _entries(data: dict, entries, path: Path) -> list[Site]:
    if not isinstance(entries, list) or not entries:
        raise SiteFileError(f"{path}: [[sites]] must be a list of tables, one per site")
    shared = {k: v for k, v in data.items() if k not in ("sites", *OWN)}
    found = []
    for index, entry in enumerate(entries):
        where = f"sites[{index}]"
        if not isinstance(entry, dict):
            raise SiteFileError(f"{path}: {where} must be a table")
        for key in SHARED_ONLY:
            if key in entry:
                raise SiteFileError(f"{path}: {where}.{key}: one controller for every site: "
                                    "give it once, at the top of the file")
        if "id" not in entry:
            raise SiteFileError(f'{path}: {where}.id must name the site, e.g. id = "shop"')
        own = {k: v for k, v in entry.items() if k not in OWN}
        found.append(_site({**shared, **own}, entry, path, f"{where}: ", None))
    return found


def _site(table: dict, own: dict, path: Path, where: str, fallback_id: str | None) -> Site:
    """One site: its declaration from table, its id, name and origins from own."""
    site = parse(table, path, where)
    site_id = own.get("id", fallback_id)
    if not isinstance(site_id, str) or not SITE_ID.fullmatch(site_id):
        raise SiteFileError(f"{path}: {where}id must be 1 to 32 of a-z, 0-9 and -, "
                            'e.g. id = "shop"')
    name = own.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise SiteFileError(f'{path}: {where}name must be the site\'s name, e.g. '
                            'name = "Exentri nettbutikk"')
    origins = own.get("origins", [])
    if not isinstance(origins, list) or any(not _is_origin(o) for o in origins):
        raise SiteFileError(f"{path}: {where}origins must list the pages' origins, e.g. "
                            'origins = ["https://shop.example.no"] (scheme and host, no path)')
    return dataclasses.replace(site, id=site_id, name=name.strip() if name else None,
                               origins=_unique(normal_origin(o) for o in origins))


def _is_origin(value) -> bool:
    if not isinstance(value, str):
        return False
    url = urlsplit(value.strip().rstrip("/"))
    return url.scheme in ("http", "https") and bool(url.hostname) and not (
        url.path or url.query or url.fragment or url.username)


def _unique(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _registry(found: list[Site], path: Path, allowed_origins) -> Sites:
    by_id: dict[str, Site] = {}
    owner: dict[str, str] = {}
    for site in found:
        if site.id in by_id:
            raise SiteFileError(f"{path}: two sites have the id {site.id!r}")
        for origin in site.origins:
            if origin in owner:
                raise SiteFileError(f"{path}: the origin {origin} is in two sites "
                                    f"({owner[origin]} and {site.id}): a page's origin must "
                                    "name one site")
            owner[origin] = site.id
        by_id[site.id] = site
    default = by_id.get(DEFAULT_SITE, found[0])
    if len(found) > 1 and allowed_origins:  # CONSENT_ALLOWED_ORIGINS: the default site's too
        extra = [o for o in map(normal_origin, allowed_origins) if o not in owner]
        default = dataclasses.replace(default, origins=_unique((*default.origins, *extra)))
        by_id[default.id] = default
    return Sites(by_id, default)
