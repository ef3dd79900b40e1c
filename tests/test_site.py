"""The site file: the cookie declaration per purpose and the notice's additions."""
import pytest

from consent_server import create_app
from consent_server.consent.site import SiteFileError, load

GOOD = '''
controller = "Eksempel AS"

[[cookies]]
purpose = "analytics"
name = "_pk_id.*"
provider = "Matomo"
lifetime = { nb = "13 måneder", en = "13 months" }
description = { nb = "Statistikk.", en = "Statistics." }
'''


def test_default_site_file_declares_cookies_for_every_device_purpose():
    site = load()
    assert {c.purpose for c in site.cookies} == {"necessary", "analytics", "marketing"}
    assert site.cookies_for("analytics", "en")[0]["lifetime"] == "13 months"


def test_config_lists_each_purposes_cookies_in_the_language(client):
    """REQ C-03: which cookies each purpose sets, shown in the banner's settings."""
    body = client.get("/api/v1/config?lang=nb").json
    by_key = {p["key"]: p["cookies"] for p in body["purposes"]}
    assert [c["name"] for c in by_key["analytics"]] == ["_ga", "_ga_*"]
    assert by_key["marketing"][0] == {"name": "_gcl_au", "provider": "Google Ireland Limited",
                                      "lifetime": "3 måneder",
                                      "description": "Måler hvordan annonsene våre virker."}


def test_a_site_file_setting_replaces_the_default(tmp_path, app_factory):
    path = tmp_path / "site.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load(path).cookies[0].name == "_pk_id.*"
    app = app_factory(SITE_FILE=str(path))
    body = app.test_client().get("/api/v1/config?lang=en").json["texts"]["body"]
    assert body.startswith("Eksempel AS uses cookies")


def test_a_site_without_nynorsk_shows_its_bokmål_texts_in_nynorsk(tmp_path, app_factory):
    """REQ N-08: nn is optional in the site file; where a site gives none, its bokmål text (and
    its bokmål privacy address) stands in, and the server's own texts are still nynorsk."""
    path = tmp_path / "site.toml"
    path.write_text(GOOD + '[privacy]\nurl = { nb = "https://eksempel.no/personvern", '
                    'en = "https://eksempel.no/en/privacy" }\n', encoding="utf-8")
    site = load(path)
    assert site.cookies_for("analytics", "nn")[0]["lifetime"] == "13 måneder"
    assert site.privacy_url("nn") == "https://eksempel.no/personvern"
    body = app_factory(SITE_FILE=str(path)).test_client().get("/api/v1/config?lang=nn").json
    assert body["language"] == "nn" and body["privacy_url"] == "https://eksempel.no/personvern"
    assert body["texts"]["settings"] == "Innstillingar"


def test_a_sites_own_nynorsk_wins(tmp_path):
    """REQ N-08: a site's nn text and privacy address are used in nynorsk."""
    path = tmp_path / "site.toml"
    path.write_text(GOOD.replace('description = { nb = "Statistikk.",',
                                 'description = { nb = "Statistikk.", nn = "Besøkstal.",')
                    + '[privacy]\nurl = { nb = "https://eksempel.no/personvern", '
                    'nn = "https://eksempel.no/nn/personvern", en = "https://eksempel.no/en" }\n',
                    encoding="utf-8")
    site = load(path)
    assert site.cookies_for("analytics", "nn")[0]["description"] == "Besøkstal."
    assert site.cookies_for("analytics", "nb")[0]["description"] == "Statistikk."
    assert site.privacy_url("nn") == "https://eksempel.no/nn/personvern"


@pytest.mark.parametrize("lang, start", [("nb", "Exentri AS bruker informasjonskapsler"),
                                         ("nn", "Exentri AS brukar informasjonskapslar"),
                                         ("en", "Exentri AS uses cookies")])
def test_the_banner_names_the_controller_and_how_to_withdraw(client, lang, start):
    """REQ C-03, N-08: before the choice the banner says who asks, what for, and how to undo
    it."""
    body = client.get(f"/api/v1/config?lang={lang}").json["texts"]["body"]
    assert body.startswith(start)
    assert {"nb": "trekke tilbake", "nn": "trekkje tilbake", "en": "withdraw"}[lang] in body


@pytest.mark.parametrize("text, message", [
    ("[[cookies]]\npurpose = \"analytics\"\nname = ", "line 3"),
    ("[[cookies]]\npurpose = analytics\nname = \"x\"\n", "line 2"),
    ("[[cookies]\n", "line 1"),
    (GOOD.replace('"analytics"', '"spying"'), "cookies[0].purpose 'spying'"),
    (GOOD.replace(', en = "Statistics."', ""), "cookies[0].description"),
    (GOOD.replace('name = "_pk_id.*"', ""), "cookies[0].name"),
    (GOOD.replace('controller = "Eksempel AS"', ""), "controller must name who asks"),
    ("[[notice.additions]]\nafter_section = 12\nheading = { nb = \"a\", en = \"b\" }\n"
     "items = [{ nb = \"x\", en = \"y\" }]\n", "after_section"),
    ("[[notice.additions]]\nafter_section = 2\nheading = { nb = \"a\", en = \"b\" }\n",
     "items or paragraphs"),
    (GOOD + "[purposes.sms]\nmeaning = { nb = \"a\", en = \"b\" }\n",
     "purposes may only give a meaning for [purposes.marketing] and [purposes.newsletter]"),
    (GOOD + "[purposes.newsletter]\nmeaning = { nb = \"Hver uke.\" }\n",
     "purposes.newsletter.meaning must give a text for each language"),
])
def test_a_malformed_site_file_stops_start_up_naming_the_place(tmp_path, text, message):
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SiteFileError, match="site.toml") as error:
        create_app({"TESTING": True, "SITE_FILE": str(path),
                    "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert message in str(error.value)


def test_each_e_mail_purpose_means_what_the_site_file_says(tmp_path, app):
    """REQ C-03: the sign-up form and the confirmation mail say what the newsletter and
    marketing mean in the site file's words; a site file without them gets ours."""
    path = tmp_path / "site.toml"
    path.write_text(GOOD + '[purposes.newsletter]\nmeaning = { nb = "Hver fredag.", '
                    'en = "Every Friday." }\n', encoding="utf-8")
    site = load(path)
    assert site.meaning("newsletter", "en") == "Every Friday."
    with app.test_request_context():
        assert site.meaning("marketing", "en") == ("Offers and news about our goods and "
                                                   "services by e-mail.")
    assert "én gang i måneden" in load().meaning("newsletter", "nb")


def test_a_missing_site_file_stops_start_up(tmp_path):
    with pytest.raises(SiteFileError, match="cannot read"):
        load(tmp_path / "nope.toml")
