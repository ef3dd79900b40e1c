"""The look of people's pages: our stylesheet, the site's accent colour as CSS custom properties
(/people/theme.css), and its logo, all served from here (the pages' CSP allows only 'self')."""
import hashlib

from flask import Blueprint, abort, current_app, request, send_file

from ..consent.colours import theme_css

bp = Blueprint("look", __name__, static_folder="static", static_url_path="/people/static")


@bp.get("/people/theme.css")
def theme():
    """The site's accent colour for people's pages."""
    body = theme_css(current_app.extensions["consent_site"].theme.accent)
    etag = hashlib.sha256(body.encode()).hexdigest()[:16]
    response = current_app.response_class(body, mimetype="text/css")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response.make_conditional(request)


@bp.get("/people/logo")
def logo():
    """The controller's logo from the site file (404 when it names none)."""
    path = current_app.extensions["consent_site"].theme.logo
    if path is None:
        abort(404)
    return send_file(path, max_age=3600)
