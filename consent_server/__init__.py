"""consent-server: the application factory, the one place that wires the packages together."""
import os
from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import cli, console, database, errors, ledger, server_keys, web
from .api import audit, log, marketing, public, subscriptions, wellknown
from .config import CHECKOUT, Config, database_url, origins, resource
from .consent import sites
from .extensions import api as rest_api
from .extensions import babel, cors, db, migrate
from .http import devserver, headers, i18n, inputs, limits, logs, monitoring
from .http.sessions import ConsoleSessions
from .ledger import cosign, signing


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: committed defaults, then CONSENT_* variables, then overrides."""
    instance = os.environ.get("CONSENT_INSTANCE_PATH") or (
        str(CHECKOUT / "instance") if CHECKOUT else os.path.join(os.getcwd(), "instance"))
    app = Flask(__name__, instance_path=instance)
    app.session_interface = ConsoleSessions()
    app.config.from_object(Config)
    app.config.from_prefixed_env("CONSENT")
    app.config.update(overrides or {})
    _derive_config(app)

    app.extensions["consent_sites"] = served = sites.load(app.config["SITE_FILE"],
                                                          app.config["ALLOWED_ORIGINS"])
    app.extensions["consent_site"] = served.default  # the site of whatever names none
    # CORS answers every site's pages; which site a page may write for is checked per request.
    app.config["ALLOWED_ORIGINS"] = list(dict.fromkeys((*app.config["ALLOWED_ORIGINS"],
                                                        *served.origins())))
    signing.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    headers.init_app(app)
    inputs.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(resource("migrations")), render_as_batch=True)
    monitoring.init_app(app, str(resource("migrations")))
    babel.init_app(app, locale_selector=i18n.select_locale)
    # The banner's API only: marketing and audit clients are servers, not browsers.
    cors.init_app(app, resources={r"/api/v1/(?!audit|marketing).*": {
        "origins": app.config["ALLOWED_ORIGINS"]}}, supports_credentials=False,
        always_send=False, max_age=86400)
    rest_api.init_app(app)
    rest_api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for blueprint in (public.blp, public.health, audit.blp, subscriptions.blp, marketing.blp,
                      wellknown.blp, log.blp, log.tlog):
        rest_api.register_blueprint(blueprint)
    web.init_app(app)
    console.init_app(app)
    logs.install(app.logger, app.config["LOG_FORMAT"])
    devserver.install(app)
    app.after_request(logs.remember_route)
    app.cli.add_command(cli.consent)
    with app.app_context():
        ledger.init(db.engine)
    return app


def _derive_config(app: Flask) -> None:
    """Settings computed from others, the keys (environment, else instance/), and the refusal
    to serve without them."""
    cfg = app.config
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        cfg["SQLALCHEMY_DATABASE_URI"] = database_url(cfg, app.instance_path)
        if cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
            os.makedirs(app.instance_path, exist_ok=True)
    engine = cfg["SQLALCHEMY_ENGINE_OPTIONS"]
    pool = {} if "poolclass" in engine or not cfg["THREADS"] else database.pool_options(
        cfg["SQLALCHEMY_DATABASE_URI"], int(cfg["THREADS"]))
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {**pool, **engine, "hide_parameters": True}  # logs
    cfg["ALLOWED_ORIGINS"] = origins(cfg["ALLOWED_ORIGINS"])
    cfg["LOG_FORMAT"] = logs.log_format(cfg["LOG_FORMAT"])
    cfg["MAX_AGE_DAYS"] = int(cfg["MAX_AGE_DAYS"])
    # The proof period: the consent's lifetime plus three years (the limitation period).
    cfg["RETENTION_DAYS"] = int(cfg["RETENTION_DAYS"] or cfg["MAX_AGE_DAYS"] + 3 * 365 + 1)
    cfg.setdefault("POLICY_VERSION", "1")
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=int(cfg["CONSOLE_IDLE_MINUTES"]))
    cfg["SESSION_COOKIE_SECURE"] = str(cfg["PUBLIC_URL"]).startswith("https://")
    if int(cfg["TRUSTED_PROXIES"]) > 0:
        n = int(cfg["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    try:  # refused at the start, not when a witness's first cosignature arrives
        cosign.witnesses(cfg["WITNESSES"])
    except ValueError as error:
        raise RuntimeError(f"CONSENT_WITNESSES holds a key that is not a witness key: {error}"
                           ) from None
    missing = server_keys.load(app)
    if missing and not (app.debug or app.testing):
        if not server_keys.building_for_a_command():
            raise server_keys.MissingKeys(missing, app.instance_path)
        # `flask consent --help` and the commands that need no key work; the others refuse.
        app.extensions["consent_missing_keys"] = missing
        return
    cfg["SECRET_KEY"] = cfg["SECRET_KEY"] or "insecure-development-key"
    cfg["EMAIL_HASH_KEY"] = cfg["EMAIL_HASH_KEY"] or "insecure-development-email-key"
