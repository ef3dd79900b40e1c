"""The access-control matrix (S-01): every route of the app's URL map × every kind of caller.

The rules below are the contract. The routes come from the URL map, so a route added without
a rule here fails test_every_route_has_a_rule until someone decides who may use it.
"""
import pytest

from consent_server.extensions import db
from consent_server.staff import keys

PUBLIC = "public"  # anyone, with or without a key (a key is neither needed nor looked at)
CONSOLE_OPEN = "console-open"  # a console page anyone may open (signing in)
SIGNED_IN = "signed-in"  # any signed-in staff account
METRICS = "metrics-token"  # CONSENT_METRICS_TOKEN alone opens it (404 while unset), no API key
CALLERS = ("none", "bad", "revoked", "marketing", "auditor", "admin")

# endpoint -> PUBLIC, or the roles whose live keys may use it (admin always may).
RULES = {
    "static": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
    "public.config": PUBLIC,
    "public.current_policy": PUBLIC,
    "public.create_consent": PUBLIC,
    "public.Consent": PUBLIC,  # the consent id is the device's capability
    "public.consent_events": PUBLIC,
    "health.healthz": PUBLIC,
    "wellknown.jwks": PUBLIC,  # public keys, for anyone to check receipts (S-07)
    "monitoring.readyz": PUBLIC,
    "monitoring.scrape": METRICS,  # test_monitoring.py checks its token
    # The transparency log: hashes of hashes only, nothing personal (L-10).
    "log.inclusion": PUBLIC,
    "log.consistency": PUBLIC,
    "tlog.checkpoint": PUBLIC,
    "tlog.verifier_key": PUBLIC,
    "tlog.tile": PUBLIC,
    "tlog.entry_bundle": PUBLIC,
    "tlog.add_cosignature": PUBLIC,  # kept only when signed by a witness CONSENT_WITNESSES names
    "audit.verify": ("auditor", "admin"),
    "audit.events": ("auditor", "admin"),
    "audit.public_keys": ("auditor", "admin"),
    "audit.checkpoint": ("auditor", "admin"),
    "audit.verify_receipt": ("auditor", "admin"),
    "audit.subject": ("auditor", "admin"),
    "audit.subject_proof": ("auditor", "admin"),
    "audit.stats": ("auditor", "admin"),
    "marketing.check": ("marketing", "admin"),
    "marketing.customers": ("marketing", "admin"),
    "marketing.audience": ("marketing", "admin"),
    "marketing.rectify": ("admin",),  # correcting an address is the controller's, not a tool's
    "subscriptions.create": PUBLIC,
    "subscriptions.access": PUBLIC,  # always 202: it tells nobody whether an address is known
    # People's pages: the signed link in the path is the capability (M-04, M-08).
    "subscriptions_web.confirm_page": PUBLIC,
    "subscriptions_web.confirm": PUBLIC,
    "subscriptions_web.unsubscribe_page": PUBLIC,
    "subscriptions_web.unsubscribe": PUBLIC,
    "subscriptions_web.own_page": PUBLIC,
    "subscriptions_web.change": PUBLIC,
    "subscriptions_web.history": PUBLIC,
    "subscriptions_web.restrict": PUBLIC,
    "subscriptions_web.ask_new_address": PUBLIC,
    "subscriptions_web.new_address_page": PUBLIC,
    "subscriptions_web.new_address": PUBLIC,
    "subscriptions_web.erase_page": PUBLIC,
    "subscriptions_web.erase": PUBLIC,
    "subscriptions_web.object_to_marketing": PUBLIC,
    "signup.form": PUBLIC,  # the sign-up form a site pastes, and its post
    "signup.post": PUBLIC,
    "widget.settings_script": PUBLIC,
    "look.static": PUBLIC,  # people's pages' stylesheet, theme and logo
    "look.theme": PUBLIC,
    "look.logo": PUBLIC,
    # The staff console: signed-in sessions, not API keys (test_the_console_matrix).
    "console.static": CONSOLE_OPEN,
    "console.sign_in": CONSOLE_OPEN,
    "console.set_password": CONSOLE_OPEN,  # the one-time link is the capability
    "console.home": SIGNED_IN,
    "console.sign_out": SIGNED_IN,
    "console.audit": ("auditor", "admin"),
    "console.download_checkpoint": ("auditor", "admin"),
    "console.export": ("auditor", "admin"),
    "console.subject": ("auditor", "admin"),
    "console.subject_proof": ("auditor", "admin"),
    "console.charts_page": ("auditor", "admin"),
    "console.check": ("marketing", "admin"),
    "console.audience": ("marketing", "admin"),
    "console.lookup": ("marketing", "admin"),
    "console.customers": ("marketing", "admin"),
    "console.api_keys": ("admin",),
    "console.create_key": ("admin",),
    "console.revoke_key": ("admin",),
    "console.webhooks_page": ("admin",),
    "console.add_webhook": ("admin",),
    "console.disable_webhook": ("admin",),
    "console.staff_users": ("admin",),
    "console.create_user": ("admin",),
    "console.disable_user": ("admin",),
    "console.enable_user": ("admin",),
    "console.set_role": ("admin",),
    "console.reset_password": ("admin",),
    "console.notices": ("admin",),
    "console.publish_notice": ("admin",),
    "console.access_log_page": ("admin",),
    "notice.negotiated": PUBLIC,
    "notice.in_language": PUBLIC,
    "widget.script": PUBLIC,
    "demo.page": PUBLIC,
    "demo.held_back_script": PUBLIC,
    "demo.panel_script": PUBLIC,
    "demo.embed": PUBLIC,
}
# Values for path arguments, by name (a route with a new argument name needs one here).
ARGUMENTS = {"consent_id": None, "lang": "en", "name": "analytics", "filename": "missing.txt",
             "subject": None, "token": "not-a-valid-token", "key_id": 999999,
             "user_id": 999999, "level": 0, "index": "000",
             "endpoint_id": 999999}


def _routes(app):
    """(endpoint, method, rule) for every method of every route but HEAD and OPTIONS."""
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, rule


def test_every_route_has_a_rule(app):
    """A new route fails here until it is given a rule (and its arguments a value)."""
    missing = sorted({endpoint for endpoint, _, _ in _routes(app)} - set(RULES))
    assert not missing, f"routes without an access rule: {missing}"
    unknown = sorted({a for _, _, rule in _routes(app) for a in rule.arguments} - set(ARGUMENTS))
    assert not unknown, f"path arguments without a test value: {unknown}"
    assert not set(RULES) - {endpoint for endpoint, _, _ in _routes(app)}, "stale rules"


@pytest.fixture
def credentials(app):
    """An Authorization header for every kind of caller."""
    with app.app_context():
        made = {role: keys.create_key(db.session, f"matrix {role}", role)[1]
                for role in keys.ROLES}
        revoked = keys.create_key(db.session, "matrix revoked", "admin")[1]
        keys.revoke_key(db.session, "matrix revoked")
    headers = {"none": {}, "bad": {"Authorization": "Bearer cs_00000000_not-a-key"},
               "revoked": {"Authorization": f"Bearer {revoked}"}}
    headers.update({role: {"Authorization": f"Bearer {secret}"} for role, secret in made.items()})
    return headers


def _call(client, method, rule, headers, consent_id, choice):
    values = {**ARGUMENTS, "consent_id": consent_id, "subject": consent_id}
    path = rule.build(values, append_unknown=False)[1] if rule.arguments else rule.rule
    body = {"json": choice} if method == "POST" else {}
    return client.open(path, method=method, headers=headers, **body)


def test_the_matrix(app, app_factory, credentials, choice):
    """REQ S-01: every route × {no key, bad key, revoked key, marketing, auditor, admin}:
    public routes answer everyone alike; protected ones 401 (problem, WWW-Authenticate) without
    a live key, 403 for a live key of another role, and serve the roles they name."""
    # Every public write of every caller, in one minute: above the default limit per address.
    client = app_factory(RATELIMIT_PUBLIC="10000/minute").test_client()
    checked = 0
    consent_id = client.post("/api/v1/consents", json=choice).json["consent_id"]
    api_routes = [route for route in _routes(app) if not route[0].startswith("console.")]
    for endpoint, method, rule in api_routes:
        allowed = RULES[endpoint]
        for caller in CALLERS:
            resp = _call(client, method, rule, credentials[caller], consent_id, choice)
            where = (endpoint, method, caller, resp.status_code)
            if allowed == METRICS:  # no token set here: off, whatever key is shown
                assert resp.status_code == 404, where
            elif allowed == PUBLIC:
                assert resp.status_code not in (401, 403), where
                assert resp.status_code < 500, where
            elif caller in ("none", "bad", "revoked"):
                assert resp.status_code == 401, where
                assert resp.mimetype == "application/problem+json", where
                assert resp.headers["WWW-Authenticate"].startswith("Bearer"), where
            elif caller in allowed:  # let in: whatever the (dummy) body, not refused
                assert resp.status_code not in (401, 403) and resp.status_code < 500, where
            else:
                assert resp.status_code == 403, where
                assert resp.mimetype == "application/problem+json", where
            checked += 1
    assert checked == len(api_routes) * len(CALLERS)


STAFF = ("signed-out", "marketing", "auditor", "admin")


def _to_sign_in(resp) -> bool:
    return resp.status_code == 302 and "/console/sign-in" in resp.headers["Location"]


def test_the_console_matrix(app, staff, csrf_token):
    """REQ S-01: every console route (from the URL map) × {signed out, marketing, auditor,
    admin}: signed out, a protected page redirects to the sign-in; a role the page is not for
    gets 403; the roles it names get in. POSTs carry a valid CSRF token, so that the role
    check, not the CSRF check, is what answers."""
    clients = {"signed-out": app.test_client(), **{role: staff(role) for role in STAFF[1:]}}
    tokens = {caller: csrf_token(client, "/console/sign-in" if caller == "signed-out"
                                 else "/console/") for caller, client in clients.items()}
    routes = [route for route in _routes(app) if route[0].startswith("console.")]
    assert len(routes) > 20
    for endpoint, method, rule in sorted(routes, key=lambda r: r[0] == "console.sign_out"):
        allowed = RULES[endpoint]
        for caller in STAFF:
            client, token = clients[caller], tokens[caller]
            path = rule.build(ARGUMENTS, append_unknown=False)[1] if rule.arguments else rule.rule
            data = {"csrf_token": token} if method == "POST" else None
            resp = client.open(path, method=method, data=data)
            where = (endpoint, method, caller, resp.status_code)
            assert resp.status_code < 500, where
            if allowed == CONSOLE_OPEN:
                assert resp.status_code != 403, where
            elif caller == "signed-out":
                assert _to_sign_in(resp), where
            elif endpoint == "console.sign_out":  # (last) it ends the session it was sent in
                assert resp.status_code == 302 and _to_sign_in(client.get("/console/")), where
            elif allowed == SIGNED_IN or caller in allowed:
                assert resp.status_code != 403 and not _to_sign_in(resp), where
            else:
                assert resp.status_code == 403, where
