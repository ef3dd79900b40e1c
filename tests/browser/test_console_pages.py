"""The staff console in headless Chromium: each role signs in and walks its pages, axe-core on
every page, an auditor's export re-verifies, an admin creates and revokes a key."""
import os
import re
import tempfile
from pathlib import Path

import pytest

from consent_server.extensions import db
from consent_server.models import utcnow
from consent_server.people import marketing

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover (the tests here skip, see conftest)
    expect = None

# The screenshots in docs/ are rewritten only when asked (CONSENT_UPDATE_SCREENSHOTS=1), so a
# test run leaves the checkout as it was.
DOCS = (Path(__file__).resolve().parents[2] / "docs" if os.environ.get("CONSENT_UPDATE_SCREENSHOTS")
        else Path(tempfile.gettempdir()) / "consent-console-screenshots")
MARKETING = ["/console/marketing/check", "/console/marketing/audience",
             "/console/marketing/lookup", "/console/marketing/customers"]
PAGES = {"marketing": ["/console/", *MARKETING],
         "auditor": ["/console/", "/console/audit", "/console/audit/export",
                     "/console/audit/subject", "/console/audit/charts"],
         "admin": ["/console/", "/console/audit", "/console/audit/export",
                   "/console/audit/subject", "/console/audit/charts", "/console/admin/keys",
                   "/console/admin/users", "/console/admin/notices",
                   "/console/admin/access-log", *MARKETING]}


class ConsoleServer:
    """The console as the tests see it: its address, the app, a device's consent id."""

    def __init__(self, url, app, consent_id):
        self.url, self.app, self.consent_id = url, app, consent_id


@pytest.fixture
def app_settings(live_settings):
    """The app that live_server serves."""
    return live_settings


@pytest.fixture
def server(app, live_server, client, choice, make_user):
    """The console under pytest-flask's live_server (a process of its own, on the test
    database), with one account per role and some consents."""
    for role in PAGES:
        make_user(app, f"{role}@example.com", role)
    consent_id = client.post("/api/v1/consents", json=choice).json["consent_id"]
    client.post("/api/v1/consents", json={**choice, "consent_id": consent_id,
                                          "choices": {"analytics": False, "marketing": True}})
    with app.app_context():
        marketing.record_customers(db.session, [{
            "email": "kunde@example.no", "sale_date": utcnow().date(),
            "product_category": "sko", "opt_out_offered": True}], "nb", utcnow())
    for choices in ({"analytics": True, "marketing": True},
                    {"analytics": False, "marketing": False}):
        client.post("/api/v1/consents", json={**choice, "choices": choices})
    return ConsoleServer(app.config["PUBLIC_URL"], app, consent_id)


@pytest.fixture
def context(browser):
    # bypass_csp only to inject axe-core; the pages themselves load nothing inline.
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True,
                              locale="nb-NO", accept_downloads=True)
    yield ctx
    ctx.close()


@pytest.fixture
def sign_in(server, staff_password):
    """sign_in(page, role, lang="nb"): sign in through the form, in Chromium."""

    def submit(page, role, lang="nb"):
        page.goto(f"{server.url}/console/sign-in?lang={lang}")
        page.get_by_label("E-mail address" if lang == "en" else "E-postadresse").fill(
            f"{role}@example.com")
        page.get_by_label("Password" if lang == "en" else "Passord").fill(staff_password)
        page.get_by_role("button", name="Sign in" if lang == "en" else "Logg inn").click()
        expect(page.locator("h1")).to_have_text("Consent console" if lang == "en"
                                                else "Samtykkekonsoll")

    return submit


def test_signed_out_every_console_url_goes_to_sign_in(context, server, axe):
    page = context.new_page()
    for url in {u for pages in PAGES.values() for u in pages}:
        page.goto(server.url + url)
        assert page.url.startswith(f"{server.url}/console/sign-in?next="), url
        expect(page.locator("h1")).to_have_text("Logg inn")
        assert "example.com" not in page.content()
    assert axe(page) == []


@pytest.mark.parametrize("role", list(PAGES))
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_each_role_walks_its_pages_with_no_axe_violations(browser, server, axe, role,
                                                          scheme, sign_in):
    """axe-core finds no violation on any console page a role opens, in nb, nn and en, light and
    dark; the other roles' pages answer 403."""
    ctx = browser.new_context(bypass_csp=True, color_scheme=scheme)
    try:
        page = ctx.new_page()
        for lang in ("nb", "nn", "en"):
            sign_in(page, role, lang)
            for url in PAGES[role]:
                response = page.goto(f"{server.url}{url}?lang={lang}")
                assert response.status == 200, url
                assert axe(page) == [], (role, lang, url)
            page.get_by_role("button", name="Sign out" if lang == "en" else "Logg ut").click()
        sign_in(page, role)
        for url in PAGES["admin"]:
            if url not in PAGES[role]:
                assert page.goto(server.url + url).status == 403, url
                assert axe(page) == [], url
    finally:
        ctx.close()


def test_sign_in_failure_page_has_no_axe_violations(context, server, axe):
    page = context.new_page()
    page.goto(f"{server.url}/console/sign-in")
    page.get_by_label("E-postadresse").fill("nobody@example.com")
    page.get_by_label("Passord").fill("not the password")
    page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("alert")).to_have_text("Adressen eller passordet er feil.")
    assert axe(page) == []


def test_auditor_exports_ndjson_that_re_verifies(context, sign_in, verified_offline):
    """REQ L-03: the export form downloads the NDJSON stream; the file verifies offline."""
    page = context.new_page()
    sign_in(page, "auditor")
    page.get_by_role("navigation").get_by_role("link", name="Eksport").click()
    page.get_by_label("Filformat").select_option("ndjson")
    with page.expect_download() as info:
        page.get_by_role("button", name="Last ned eksporten").click()
    download = info.value
    assert download.suggested_filename == "consent-events.ndjson"
    verified_offline(Path(download.path()).read_text(encoding="utf-8"))


def test_auditor_opens_a_subjects_history_and_a_chart(context, server, axe, sign_in):
    """REQ C-07: the history names each event's choices, notice version and the text shown."""
    page = context.new_page()
    sign_in(page, "auditor")
    page.get_by_role("navigation").get_by_role("link", name="Historikk for en registrert").click()
    page.get_by_label("Samtykke-ID eller e-postadresse").fill(server.consent_id)
    page.get_by_role("button", name="Slå opp").click()
    rows = page.locator(".proof table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("grant")
    expect(rows.nth(1)).to_contain_text("update")
    expect(page.locator(".notice-text")).to_contain_text("Personvernerklæring")
    assert axe(page) == []
    page.get_by_role("navigation").get_by_role("link", name="Diagrammer").click()
    expect(page.locator("svg.chart")).to_have_count(4)
    expect(page.get_by_role("img", name=re.compile("Andel"))).to_be_visible()
    expect(page.locator("table").first).to_contain_text("4")


def test_admin_creates_and_revokes_a_key(context, server, sign_in, axe):
    """REQ S-01: the secret is shown once; revoked, it no longer opens the API."""
    page = context.new_page()
    sign_in(page, "admin")
    page.get_by_role("navigation").get_by_role("link", name="API-nøkler").click()
    page.get_by_label("Navn (hvem eller hva som bruker nøkkelen)").fill("revisjonsskript")
    page.get_by_label("Rolle").select_option("auditor")
    page.get_by_role("button", name="Opprett nøkkelen").click()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("cs_")
    api = server.app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/audit/verify", headers=auth).status_code == 200
    page.get_by_role("button", name="Tilbakekall revisjonsskript").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("revisjonsskript")  # asks first
    assert axe(page) == []
    assert api.get("/api/v1/audit/verify", headers=auth).status_code == 200
    page.get_by_role("button", name="Tilbakekall revisjonsskript").click()
    expect(page.get_by_role("status")).to_contain_text("revisjonsskript")
    assert secret not in page.content()
    assert api.get("/api/v1/audit/verify", headers=auth).status_code == 401


# As Norwegian Excel saves it: semicolons, UTF-8 with a BOM, CRLF, the column named E-post.
CHECK_CSV = "\ufeffE-post;Navn\r\nkunde@example.no;Kunde\r\nukjent@example.no;Ukjent\r\n" \
            "ikke en adresse;=Feil\r\n"


@pytest.mark.parametrize("scripts", [True, False])
def test_marketer_uploads_a_csv_and_gets_the_statuses_back(browser, server, tmp_path, scripts,
                                                           sign_in):
    """REQ M-01, M-09: a Norwegian Excel file comes back in its own form with consent_status
    and consent_reason per row: through the page's script (progress, the download, then the
    counts on the page) or, without scripts, the plain form."""
    ctx = browser.new_context(accept_downloads=True, java_script_enabled=scripts)
    try:
        page = ctx.new_page()
        sign_in(page, "marketing")
        page.get_by_role("navigation").get_by_role("link", name="Kontroll").click()
        source = tmp_path / "mottakere.csv"
        source.write_bytes(CHECK_CSV.encode("utf-8"))
        page.get_by_label("CSV-fil eksportert fra nyhetsbrevverktøyet eller et regneark"
                          ).set_input_files(str(source))
        page.get_by_label("Formål").select_option("marketing")
        page.get_by_label("Produktkategori (for eksisterende kunder, valgfritt)").fill("sko")
        with page.expect_download() as info:
            page.get_by_role("button", name="Kontroller filen").click()
        download = info.value
        assert download.suggested_filename == "checked-marketing.csv"
        lines = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()
        assert lines == ["E-post;Navn;consent_status;consent_reason",
                         "kunde@example.no;Kunde;allowed;customer",
                         "ukjent@example.no;Ukjent;denied;no_consent",
                         "ikke en adresse;'=Feil;denied;invalid"]
        if scripts:
            expect(page.get_by_role("status")).to_have_text(
                "Ferdig: den kontrollerte filen er lastet ned.")
            expect(page.locator("#check-result")).to_be_visible()
            summary = page.locator("#check-summary")
            expect(summary).to_be_visible()
            expect(summary.locator("dt").first).to_have_text("adresser sjekket")
            counts = {dd.get_attribute("data-key"): dd.text_content()
                      for dd in summary.locator("dd").all()}
            assert counts == {"checked": "3", "allowed": "1", "denied": "2", "customer": "1",
                              "no_consent": "1", "invalid": "1"}
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=str(DOCS / "console-check.nb.png"), full_page=True)
    finally:
        ctx.close()


def test_screenshots_for_the_readme(context, server, sign_in):
    """The audit dashboard and charts in bokmål, as docs/ shows them to a newcomer."""
    page = context.new_page()
    sign_in(page, "auditor")
    DOCS.mkdir(exist_ok=True)
    page.goto(f"{server.url}/console/audit?lang=nb")
    page.screenshot(path=str(DOCS / "console-audit.nb.png"), full_page=True)
    page.goto(f"{server.url}/console/audit/charts?lang=nb")
    page.screenshot(path=str(DOCS / "console-charts.nb.png"), full_page=True)
    assert (DOCS / "console-audit.nb.png").stat().st_size > 10_000
