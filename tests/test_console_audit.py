"""The console's audit pages: chain status, checkpoint, export, subject history, charts."""
import json
import re

import pytest
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.ledger import signing
from consent_server.models import AccessLogEntry

PAGES = ["/console/audit", "/console/audit/export", "/console/audit/subject",
         "/console/audit/charts", "/console/audit/checkpoint"]


@pytest.fixture
def auditor(app, signed_in):
    """A test client signed in as an auditor."""
    return signed_in(app, "dpo@example.com", "auditor")


@pytest.mark.parametrize("url", PAGES)
def test_audit_pages_need_a_signed_in_auditor_or_admin(app, url, assert_only_for):
    """Signed out: a redirect to sign-in; the marketing role: 403; admin: 200."""
    assert_only_for(app, url, allowed=["admin"], refused=["marketing"])


def test_a_checkpoint_downloads_signed_and_is_logged(app, auditor, post_consent, access_log):
    """REQ L-07: the button gives a checkpoint that verify --checkpoint accepts."""
    post_consent()
    resp = auditor.get("/console/audit/checkpoint")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    given = json.loads(resp.data)
    with app.app_context():
        assert given["seq"] == 1
        assert signing.check_checkpoint(db.session, app.extensions["consent_signing_key"],
                                        given) is None
    assert access_log(app, "checkpoint") == [("seq 1", None)]
    page = auditor.get("/console/audit?lang=en").get_data(as_text=True)
    assert "Last checkpoint taken here" in page and "seq 1" in page


@pytest.fixture
def export_form(auditor, csrf_token):
    """export_form(**fields): the auditor posts the export form (NDJSON of everything unless
    the fields say otherwise)."""

    def post(**fields):
        data = {"since": "", "until": "", "purpose": "", "action": "", "format": "ndjson",
                "csrf_token": csrf_token(auditor, "/console/audit/export"), **fields}
        return auditor.post("/console/audit/export", data=data)

    return post


def test_the_ndjson_export_streams_a_file_that_re_verifies(app, auditor, access_log,
                                                           export_form, seed, verified_offline):
    """REQ L-03, L-02: the console's export is the API's stream; the file verifies offline."""
    seed(app)
    resp = export_form()
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.mimetype == "application/x-ndjson"
    assert 'filename="consent-events.ndjson"' in resp.headers["Content-Disposition"]
    head = verified_offline(resp.get_data(as_text=True))
    assert access_log(app, "export") == [("format ndjson", head.events)]


def test_export_filters_and_formats(app, auditor, access_log, export_form, seed):
    seed(app)
    csv_body = export_form(format="csv", action="erase").get_data(as_text=True)
    assert csv_body.splitlines()[0].startswith("seq,") and len(csv_body.splitlines()) == 2
    body = export_form(format="json", purpose="newsletter").get_data(as_text=True)
    events = json.loads(body)
    assert [e["subject_type"] for e in events] == ["person"]
    none = export_form(format="json", until="2000-01-01").get_data(as_text=True)
    assert json.loads(none) == []
    assert access_log(app, "export")[-1] == ("format json, until 2000-01-01", 0)


@pytest.mark.parametrize("fields", [{"format": "xml"}, {"since": "yesterday"},
                                    {"purpose": "spying"}, {"action": "edit"}])
def test_a_bad_export_form_is_422_and_exports_nothing(app, auditor, fields, access_log,
                                                      export_form):
    resp = export_form(**fields)
    assert resp.status_code == 422 and b'aria-invalid="true"' in resp.data
    assert access_log(app, "export") == []


def test_export_without_csrf_token_is_refused(app, auditor, access_log):
    resp = auditor.post("/console/audit/export", data={"format": "ndjson"})
    assert resp.status_code == 400
    assert access_log(app, "export") == []


@pytest.fixture
def lookup(auditor, csrf_token):
    """lookup(subject, lang="nb"): the auditor looks a subject up on the history page."""

    def post(subject, lang="nb"):
        return auditor.post(f"/console/audit/subject?lang={lang}", data={
            "subject": subject, "csrf_token": csrf_token(auditor, "/console/audit/subject")})

    return post


def test_subject_history_by_consent_id_with_the_notice_text(app, auditor, post_consent, access_log,
                                                            lookup):
    """REQ C-07: when, which choices, which notice version and language, its text, the chain
    of earlier choices; the look-up is logged without the subject."""
    consent_id = post_consent().json["consent_id"]
    post_consent(consent_id=consent_id, choices={"analytics": False, "marketing": True})
    resp = lookup(consent_id, "en")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert consent_id in html and "version 1, nb" in html
    assert html.count("<td>grant</td>") == 1 and html.count("<td>update</td>") == 1
    assert "Notice version 1 (nb)" in html and "Personvernerklæring" in html
    assert "does not match" not in html
    assert access_log(app, "subject_lookup") == [(None, 2)]
    with app.app_context():
        logged = db.session.execute(select(AccessLogEntry)).scalars().all()
        assert not any(consent_id in (e.detail or "") for e in logged)


def test_the_subject_page_downloads_the_subjects_proof_bundle(app, auditor, post_consent,
                                                               csrf_token, access_log, client,
                                                               tmp_path, run_log_verifier):
    """REQ L-11: from the subject's page, their proof bundle as a file: their events only, each
    proven in one signed checkpoint, which the offline verifier accepts with the log's key."""
    mine = post_consent().json["consent_id"]
    other = post_consent().json["consent_id"]
    post_consent(consent_id=mine, choices={"analytics": False})
    token = csrf_token(auditor, "/console/audit/subject")
    page = auditor.post("/console/audit/subject", data={"subject": mine, "csrf_token": token})
    assert 'action="/console/audit/subject/proof"' in page.get_data(as_text=True)
    resp = auditor.post("/console/audit/subject/proof",
                        data={"subject": mine, "csrf_token": token})
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert [e["subject"] for e in resp.json["events"]] == [mine] * 2
    assert other not in resp.get_data(as_text=True)
    (tmp_path / "bundle.json").write_bytes(resp.data)
    (tmp_path / "log.key").write_text(client.get("/log/key").get_data(as_text=True))
    checked = run_log_verifier("bundle", tmp_path / "log.key", tmp_path / "bundle.json")
    assert checked.returncode == 0 and checked.stdout.startswith("ok: 2 events"), checked.stderr
    assert access_log(app, "subject_lookup")[-1] == (None, 2)
    assert auditor.post("/console/audit/subject/proof", data={
        "subject": "no-such-consent", "csrf_token": token}).status_code == 404
    assert auditor.post("/console/audit/subject/proof",
                        data={"subject": mine}).status_code == 400  # no CSRF token


def test_subject_history_by_address(app, auditor, lookup, person_email, seed):
    seed(app)
    html = lookup(person_email, "en").get_data(as_text=True)
    assert "signup" in html and "person" in html


@pytest.mark.parametrize("subject, status", [("no-such-consent", 404), ("bad@", 422),
                                             ("", 422)])
def test_subject_lookup_errors(app, auditor, subject, status, lookup):
    resp = lookup(subject)
    assert resp.status_code == status and b'aria-invalid="true"' in resp.data


def test_charts_are_svg_with_the_numbers_as_a_table(app, auditor, post_consent):
    """Consent per purpose per day, drawn on the server (no script), numbers in tables."""
    first = post_consent(choices={"analytics": True, "marketing": True}).json["consent_id"]
    post_consent(choices={"analytics": False, "marketing": False})
    post_consent(choices={"analytics": True, "marketing": False})
    post_consent(consent_id=first, choices={"analytics": False, "marketing": True})
    resp = auditor.get("/console/audit/charts?lang=en")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.count('<svg class="chart"') == 1 + 3  # the share, then each optional purpose
    assert "<script" not in html
    assert re.search(r'<rect class="bar accept_all" [^>]+><title>[0-9-]+: accept all 1</title>',
                     html)
    analytics = html[html.index('id="p-analytics"'):html.index('id="p-marketing"')]
    row = re.search(r'<tr><th scope="row">[0-9-]+</th>((?:<td class="num">\d+</td>){3})</tr>',
                    analytics).group(1)
    assert re.findall(r"\d+", row) == ["2", "1", "1"]  # granted, refused, withdrawn
    share = html[html.index('id="share-heading"'):html.index('id="p-analytics"')]
    assert re.search(r'<td class="num">4</td><td class="num">1 \(25\.0 %\)</td>'
                     r'<td class="num">1 \(25\.0 %\)</td><td class="num">2 \(50\.0 %\)</td>', share)


@pytest.mark.parametrize("query", ["since=garbage", "since=2026-02-01&until=2026-01-01",
                                   "since=2020-01-01&until=2026-01-01"])
def test_charts_refuse_a_bad_range(auditor, query):
    assert auditor.get(f"/console/audit/charts?{query}").status_code == 422


def test_charts_of_an_empty_period(auditor):
    html = auditor.get("/console/audit/charts?since=2001-01-01&until=2001-01-03&lang=en")
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    assert "No choices in this period." in text and "01-03" in text
