"""The privacy notice as HTML: /privacy (negotiated), /privacy/nb, /privacy/nn, /privacy/en."""
from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import force_locale, format_date, get_locale

from ..consent import banner, notices
from ..extensions import db
from ..http import i18n

bp = Blueprint("notice", __name__, template_folder="templates")
# Day, month, year in English too ("1 December 2026"), as the Norwegian reader writes it.
DATE_FORMATS = {"en": "d MMMM y"}


@bp.get("/privacy")
def negotiated():
    """The notice in the visitor's language (?lang=, Accept-Language, else bokmål), of the
    site of ?site= (else the default site)."""
    response = _page(str(get_locale()))
    response.headers["Vary"] = "Accept-Language"
    return response


@bp.get("/privacy/<lang>")
def in_language(lang: str):
    """The notice in one language."""
    if lang not in current_app.config["LANGUAGES"]:
        abort(404)
    return _page(lang)


def _page(lang: str):
    site = _site()
    version = notices.current(db.session, site.id)
    with force_locale(lang):
        doc = notices.document(site, lang)
        html = render_template(
            "notice.html", doc=doc, version=version, others=i18n.others(lang), site=site,
            site_query=banner.site_query(site),
            published=format_date(version.published_at, DATE_FORMATS.get(lang, "long"))
            if version else None,
            columns=[str(c) for c in notices.COOKIE_COLUMNS],
            cookies_heading=str(notices.COOKIES_HEADING), cookies_lead=str(notices.COOKIES_LEAD))
    response = current_app.make_response(html)
    response.headers["Content-Language"] = lang
    return response


def _site():
    """The site of ?site= (an unknown one is a 404), else the default: a link names its site
    (the banner's does), so the page is the same for whoever follows it."""
    named = request.args.get("site")
    sites = current_app.extensions["consent_sites"]
    if named is None:
        return sites.default
    if named not in sites.by_id:
        abort(404)
    return sites.by_id[named]
