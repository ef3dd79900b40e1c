"""The console's marketing pages: the CSV check, the audience, one address, existing customers."""
import csv
import io

import pytest
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.models import AccessLogEntry

PAGES = ["/console/marketing/check", "/console/marketing/audience",
         "/console/marketing/lookup", "/console/marketing/customers"]


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


@pytest.fixture
def marketer(app, signed_in):
    """A test client signed in to a marketing account."""
    return signed_in(app, "marketer@example.com", "marketing")


@pytest.fixture
def upload(marketer, csrf_token):
    """upload(url, text, filename="list.csv", **fields): the marketer posts a file form."""

    def post(url, text, filename="list.csv", **fields):
        data = {"csrf_token": csrf_token(marketer, url),
                "file": (io.BytesIO(text.encode()), filename), **fields}
        return marketer.post(url, data=data, content_type="multipart/form-data")

    return post


@pytest.mark.parametrize("url", PAGES)
def test_marketing_pages_need_a_signed_in_marketer_or_admin(app, url, assert_only_for):
    assert_only_for(app, url, allowed=["admin"], refused=["auditor"])


def test_the_csv_comes_back_with_consent_status_and_reason(app, client, smtp, marketer, access_log,
                                                   confirmed, sign_up, upload):
    """REQ M-01, M-09: the upload is the API's check; every input column kept, consent_status
    and consent_reason added, in the order given, the counts in a header; the check is logged
    with its row count, no address."""
    confirmed(client, smtp, "kari@example.no")
    sign_up(client, "ola@example.no")
    text = ("name,email\r\nKari,kari@example.no\r\nOla,ola@example.no\r\n"
            "Per,per@example.no\r\nX,not an address\r\n")
    resp = upload("/console/marketing/check", text, purpose="newsletter")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="checked-newsletter.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert resp.headers["Consent-Check-Summary"] == (
        "checked=4, allowed=1, denied=3, consent=1, no_consent=1, pending=1, invalid=1")
    assert [(r["name"], r["email"], r["consent_status"], r["consent_reason"])
            for r in rows] == [
        ("Kari", "kari@example.no", "allowed", "consent"),
        ("Ola", "ola@example.no", "denied", "pending"),
        ("Per", "per@example.no", "denied", "no_consent"),
        ("X", "not an address", "denied", "invalid")]
    marketing_rows = list(csv.DictReader(io.StringIO(upload(
        "/console/marketing/check", text, purpose="marketing").get_data(as_text=True))))
    assert marketing_rows[0]["consent_status"] == "denied"
    assert access_log(app, "check") == [("purpose newsletter", 4), ("purpose marketing", 4)]
    with app.app_context():
        logged = " ".join(str(e.detail) for e in db.session.execute(
            select(AccessLogEntry)).scalars())
        assert "kari" not in logged


@pytest.mark.parametrize("text, status, message", [
    ("name\r\nKari\r\n", 422, "Ingen kolonne inneholder adressene. Overskrifter funnet "
     "(kommaseparert, utf-8): “name”."),
    ("navn;telefon;status\r\nKari;+4790000000;x\r\n", 422, "Overskrifter funnet "
     "(semikolonseparert, utf-8): “navn”, “telefon”, “status”."),
    ("E-post;consent_status\r\nk@example.no;x\r\n", 422,
     "Filen har allerede en kolonne som heter “consent_status”"),
    ("email\r\n" + "a@example.no\r\n" * 3, 413, "Filen har flere enn 2 rader; del den opp."),
])
def test_a_bad_file_is_refused_with_a_reason(app, marketer, text, status, message, access_log,
                                             config, upload):
    config["CHECK_MAX_ADDRESSES"] = 2
    resp = upload("/console/marketing/check", text, purpose="newsletter")
    assert resp.status_code == status and b'aria-invalid="true"' in resp.data
    assert message in resp.get_data(as_text=True)
    assert access_log(app, "check") == []


def test_a_file_that_is_not_csv_or_missing_is_refused(marketer, csrf_token, upload):
    """REQ M-09: a workbook is refused as a workbook, not as "no email column"."""
    bad = {"csrf_token": csrf_token(marketer, "/console/marketing/check"), "purpose": "newsletter",
           "file": (io.BytesIO(b"PK\x03\x04\x14\x00\x06\x00xl/workbook.xml"), "l.xlsx")}
    refused = marketer.post("/console/marketing/check", data=bad,
                            content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "Dette er ikke CSV-tekst, men" in refused.get_data(as_text=True)
    none = {"csrf_token": csrf_token(marketer, "/console/marketing/check"), "purpose": "newsletter"}
    assert marketer.post("/console/marketing/check", data=none).status_code == 422
    unknown = upload("/console/marketing/check", "email\r\na@example.no\r\n",
                     purpose="necessary")
    assert unknown.status_code == 422


def test_the_check_page_offers_progress_from_its_own_script(marketer):
    html = marketer.get("/console/marketing/check").get_data(as_text=True)
    assert '<script src="/console/static/check.js" defer></script>' in html
    assert '<progress id="check-progress"' in html and 'role="status"' in html
    with marketer.get("/console/static/check.js") as script:
        assert script.status_code == 200 and b"upload" in script.data


def test_the_audience_lists_only_addresses_with_consent(app, client, smtp, marketer, access_log,
                                                        confirmed, csrf_token, sign_up):
    """REQ M-06: the audience export: addresses that may get the purpose, each with its
    unsubscribe link, nothing else; logged as an export with its row count."""
    confirmed(client, smtp, "kari@example.no")
    sign_up(client, "ola@example.no")
    resp = marketer.post("/console/marketing/audience", data={
        "csrf_token": csrf_token(marketer, "/console/marketing/audience"), "purpose": "newsletter"})
    assert resp.status_code == 200 and resp.is_streamed
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["email"] for r in rows] == ["kari@example.no"]
    assert rows[0]["unsubscribe_url"].startswith("https://consent.example/unsubscribe/")
    assert set(rows[0]) == {"email", "language", "basis", "unsubscribe_url",
                            "list_unsubscribe", "list_unsubscribe_post"}
    assert access_log(app, "export") == [("audience newsletter", 1)]
    bad = marketer.post("/console/marketing/audience", data={
        "csrf_token": csrf_token(marketer, "/console/marketing/audience"), "purpose": "analytics"})
    assert bad.status_code == 422


def test_one_address_shows_its_state_and_history(app, client, smtp, marketer, access_log,
                                                 confirmed, csrf_token):
    confirmed(client, smtp, "kari@example.no")
    resp = marketer.post("/console/marketing/lookup?lang=en", data={
        "csrf_token": csrf_token(marketer, "/console/marketing/lookup"),
        "email": " kari@EXAMPLE.no"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    statuses = html[html.index('id="statuses"'):html.index('id="history-heading"')]
    assert "newsletter</th><td class=\"ok\">allowed" in statuses
    assert "marketing</th><td class=\"bad\">not allowed" in statuses
    history = html[html.index('id="history-heading"'):]
    assert "<td>grant (consent)</td>" in history and "<td>confirm</td>" in history
    assert "newsletter: yes" in history
    assert access_log(app, "lookup")[0][1] >= 1
    unknown = marketer.post("/console/marketing/lookup?lang=en", data={
        "csrf_token": csrf_token(marketer, "/console/marketing/lookup"), "email": "per@example.no"})
    assert "The ledger has nothing about this address." in unknown.get_data(as_text=True)
    bad = marketer.post("/console/marketing/lookup", data={
        "csrf_token": csrf_token(marketer, "/console/marketing/lookup"), "email": "bad@"})
    assert bad.status_code == 422


def test_existing_customers_from_a_csv(app, marketer, access_log, upload):
    """REQ M-07: recorded from a CSV; a row without the opt-out offered records nothing."""
    good = ("email,sale_date,product_category,opt_out_offered\r\n"
            "kunde@example.no,2026-11-02,sko,true\r\n")
    resp = upload("/console/marketing/customers", good)
    assert resp.status_code == 302
    assert "1 " in marketer.get("/console/marketing/customers").get_data(as_text=True)
    assert access_log(app, "customers") == [(None, 1)]
    check = upload("/console/marketing/check", "email\r\nkunde@example.no\r\n",
                   purpose="marketing", product_category="sko")
    assert "allowed,customer" in check.get_data(as_text=True)
    bad = good + "ny@example.no,2026-11-03,sko,false\r\nfeil,ikke-en-dato,sko,true\r\n"
    resp = upload("/console/marketing/customers", bad)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "<td>4</td><td>sale_date</td>" in html
    assert access_log(app, "customers") == [(None, 1)]
