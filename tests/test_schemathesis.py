"""The OpenAPI contract fuzzed with schemathesis (S-04): every operation of /openapi.json, a few
hundred generated cases, valid keys for the protected ones. No 5xx, every response as
documented, every error problem+json."""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode
from schemathesis.generation.meta import ParameterLocation

from consent_server import create_app
from consent_server.extensions import db
from consent_server.staff import keys
from consent_server.text import bad_text

# Per operation: about 500 cases in all. A longer run (a few thousand cases):
# CONSENT_SCHEMATHESIS_EXAMPLES=200 .venv/bin/python -m pytest tests/test_schemathesis.py
EXAMPLES = int(os.environ.get("CONSENT_SCHEMATHESIS_EXAMPLES", 25))


@pytest.fixture
def admin_key(app):
    with app.app_context():
        return keys.create_key(db.session, "schemathesis", "admin")[1]


# The document is read once, at collection, from an app without a database (fixtures do not
# run then); the cases then go to the app of the running test (on the test database), which the
# fixture below puts here.
CURRENT = {"app": create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})}


def _current_app(environ, start_response):
    return CURRENT["app"](environ, start_response)


schema = schemathesis.openapi.from_wsgi("/openapi.json", _current_app)


@pytest.fixture
def fuzzed(app_factory, app):
    """An app on the test database whose rate limits do not cut the run short."""
    before = CURRENT["app"]
    CURRENT["app"] = app_factory(RATELIMIT_PUBLIC="100000/minute",
                                 RATELIMIT_PER_CONSENT="100000/minute")
    yield CURRENT["app"]
    CURRENT["app"] = before


def _unexpressible(case) -> bool:
    """Whether a case's validity depends on what the document cannot say, so that a 422 for a
    request it allows is right: a notice version must be a published one, a CSV body needs an
    `email` column (and the check's CSV a ?purpose=), a site one of the site file's (its ids
    are the deployment's, not the document's), an instant must be a real date in the
    years 1970 to 9999 once in UTC, an address one we can write to (email-validator's rules),
    a subject a consent id or such an address, a tile path C2SP's grammar (`x001/234.p/5`), a
    cosignature a signed note of this log, and no string a NUL or a lone surrogate (S-04).
    Every other case is held to all checks, positive data acceptance too."""
    body = case.body if isinstance(case.body, dict) else {}
    return ("policy_version" in body or case.media_type == "text/csv" or "email" in body
            or "customers" in body or "site" in body
            or bool({"since", "until", "site"} & set(case.query or {}))
            or case.operation.path.startswith("/api/v1/audit/subjects/{subject}")
            or case.operation.path == "/log/cosignature"
            or case.operation.path.startswith("/log/tile/")
            or bad_text([case.body, case.query or {}, case.path_parameters or {}]))


def _lost_on_the_way(case) -> bool:
    """Whether a negative case's only faults are ones the request loses before the app judges
    it: a header mutation (this test sends a valid key in Authorization over whatever was
    generated) or a query parameter the operation does not declare (ignored by design, as
    caches and campaign tags add them: webargs excludes unknown query keys)."""
    if case.meta is None:
        return False
    negative = {location for location, info in case.meta.components.items()
                if info.mode == GenerationMode.NEGATIVE}
    undeclared = set(case.query or {}) - {p.name for p in case.operation.query}
    return bool(negative) and negative <= {ParameterLocation.HEADER, ParameterLocation.QUERY} \
        and (ParameterLocation.QUERY not in negative or bool(undeclared))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_the_api_keeps_its_contract(case, fuzzed, admin_key):
    """REQ S-04: no generated request gets a 5xx; status, content type, headers and body of
    every response conform to the document; errors are application/problem+json."""
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_key}", "Accept-Encoding": "identity"},
        excluded_checks=[
            *([checks.positive_data_acceptance] if _unexpressible(case) else []),
            *([checks.negative_data_rejection] if _lost_on_the_way(case) else [])])
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/problem+json")
        assert response.json()["status"] == response.status_code
