"""The access-control matrix (S-01): every route of the app's URL map × every kind of caller.

The rules below are the contract. The routes come from the URL map, so a route added without
a rule here fails test_every_route_has_a_rule until someone decides who may use it.
"""
import pytest
from conftest import CHOICE

from consent_server import keys
from consent_server.extensions import db

PUBLIC = "public"  # anyone, with or without a key (a key is neither needed nor looked at)
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
    "audit.verify": ("auditor", "admin"),
    "audit.events": ("auditor", "admin"),
    "audit.public_keys": ("auditor", "admin"),
    "audit.checkpoint": ("auditor", "admin"),
    "audit.verify_receipt": ("auditor", "admin"),
    "audit.subject": ("auditor", "admin"),
    "audit.stats": ("auditor", "admin"),
    "marketing.check": ("marketing", "admin"),
    "marketing.customers": ("marketing", "admin"),
    "marketing.audience": ("marketing", "admin"),
    "marketing.rectify": ("admin",),  # correcting an address is the controller's, not a tool's
    "subscriptions.create": PUBLIC,
    "subscriptions.access": PUBLIC,  # always 202: it tells nobody whether an address is known
    # People's pages: the signed link in the path is the capability (M-04, M-08).
    "subscriptions_web.autosubmit": PUBLIC,
    "subscriptions_web.confirm_page": PUBLIC,
    "subscriptions_web.confirm": PUBLIC,
    "subscriptions_web.unsubscribe_page": PUBLIC,
    "subscriptions_web.unsubscribe": PUBLIC,
    "subscriptions_web.own_page": PUBLIC,
    "subscriptions_web.change": PUBLIC,
    "subscriptions_web.history": PUBLIC,
    "subscriptions_web.erase": PUBLIC,
    "widget.settings_script": PUBLIC,
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
             "subject": None, "token": "not-a-valid-token"}


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


def _call(client, method, rule, headers, consent_id):
    values = {**ARGUMENTS, "consent_id": consent_id, "subject": consent_id}
    path = rule.build(values, append_unknown=False)[1] if rule.arguments else rule.rule
    body = {"json": CHOICE} if method == "POST" else {}
    return client.open(path, method=method, headers=headers, **body)


def test_the_matrix(app, app_factory, credentials):
    """REQ S-01: every route × {no key, bad key, revoked key, marketing, auditor, admin}:
    public routes answer everyone alike; protected ones 401 (problem, WWW-Authenticate) without
    a live key, 403 for a live key of another role, and serve the roles they name."""
    # Every public write of every caller, in one minute: above the default limit per address.
    client = app_factory(RATELIMIT_PUBLIC="10000/minute").test_client()
    checked = 0
    consent_id = client.post("/api/v1/consents", json=CHOICE).json["consent_id"]
    for endpoint, method, rule in _routes(app):
        allowed = RULES[endpoint]
        for caller in CALLERS:
            resp = _call(client, method, rule, credentials[caller], consent_id)
            where = (endpoint, method, caller, resp.status_code)
            if allowed == PUBLIC:
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
    assert checked == len(list(_routes(app))) * len(CALLERS)
