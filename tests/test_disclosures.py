"""The notice, the banner and the purposes from one source of truth (REQ N-03 N-06 N-07 C-03):
the site file's providers are named everywhere the visitor reads about recipients, a new one
is a material change, and the retention text follows the configured values."""
import re
from pathlib import Path

import pytest

from consent_server.consent.site import DEFAULT, SiteFileError, load

TIKTOK = '''
[[providers]]
name = "TikTok"
entity = "TikTok Technology Limited"
country = { nb = "Irland", en = "Ireland" }
transfer = "scc"
transfer_to = { nb = "Kina", en = "China" }
purposes = ["marketing"]

[[cookies]]
purpose = "marketing"
name = "_ttp"
provider = "TikTok Technology Limited"
lifetime = { nb = "13 måneder", en = "13 months" }
description = { nb = "Måler annonsene våre på TikTok.", en = "Measures our ads on TikTok." }
'''


@pytest.fixture
def with_tiktok(tmp_path):
    """The demo shop's site file with one more provider (and its cookie)."""
    path = tmp_path / "site.toml"
    path.write_text(DEFAULT.read_text(encoding="utf-8") + TIKTOK, encoding="utf-8")
    return str(path)


def section(text: str, heading: str) -> str:
    """One section of the notice's plain text: from its heading to the next blank line + 1."""
    return text.split("\n" + heading + "\n", 1)[1].split("\n\n", 1)[0]


@pytest.mark.parametrize("lang, recipients, transfers, basis", [
    ("nb", "Hvem som mottar opplysningene dine", "Overføring til land utenfor EØS",
     "EU-kommisjonens standardpersonvernbestemmelser"),
    ("en", "Who receives your data", "Transfers outside the EEA",
     "the European Commission's standard contractual clauses")])
def test_a_new_provider_is_named_in_all_four_places_and_publishing_it_is_material(
        app, app_factory, with_tiktok, lang, recipients, transfers, basis):
    """REQ N-06 C-03 N-04: add a provider to the site file, and the banner's first layer, the
    marketing purpose, the notice's recipients and transfers sections all name it; publishing
    without --material is refused with the reason, with --material it is published so."""
    before = app.test_client().get(f"/api/v1/config?lang={lang}").json
    assert "TikTok" not in str(before)
    changed = app_factory(SITE_FILE=with_tiktok)
    client = changed.test_client()
    config = client.get(f"/api/v1/config?lang={lang}").json
    and_ = " og " if lang == "nb" else ", and "  # CLDR's list patterns
    assert f"Google, Meta{and_}TikTok" in config["texts"]["body"]
    marketing = next(p for p in config["purposes"] if p["key"] == "marketing")
    assert marketing["description"].startswith(f"Google, Meta{and_}TikTok ")
    analytics = next(p for p in config["purposes"] if p["key"] == "analytics")
    assert "TikTok" not in analytics["description"]  # only where it receives data
    widget = client.get(f"/widget.js?lang={lang}").get_data(as_text=True)
    assert f"Google, Meta{and_}TikTok" in widget  # the first layer travels with the script
    text = client.get(f"/api/v1/policy?lang={lang}").json["text"]  # the published one
    assert "TikTok" not in text
    from_site = changed.test_client().get(f"/privacy/{lang}").get_data(as_text=True)
    assert "TikTok Technology Limited (Irland)" in from_site or \
        "TikTok Technology Limited (Ireland)" in from_site
    runner = changed.test_cli_runner()
    refused = runner.invoke(args=["consent", "publish-policy"])
    assert refused.exit_code != 0
    assert "new recipient(s): TikTok Technology Limited" in refused.output
    assert "--material" in refused.output
    done = runner.invoke(args=["consent", "publish-policy", "--material"])
    assert done.exit_code == 0 and "(material)" in done.output, done.output
    text = client.get(f"/api/v1/policy?lang={lang}").json["text"]
    assert "TikTok Technology Limited" in section(text, recipients)
    assert "TikTok Technology Limited" in section(text, transfers)
    assert basis in section(text, transfers)


def test_the_default_notice_names_every_provider_its_country_and_transfer_basis(client):
    """REQ N-06: Google and Meta by legal entity, country and basis; Meta as joint controller."""
    text = client.get("/api/v1/policy?lang=nb").json["text"]
    who = section(text, "Hvem som mottar opplysningene dine")
    assert "• Google Ireland Limited (Irland), til statistikk og markedsføring." in who
    assert "• Meta Platforms Ireland Limited (Irland), til markedsføring." in who
    assert "felles behandlingsansvarlige" in who and "artikkel 26" in who
    out = section(text, "Overføring til land utenfor EØS")
    assert out.count("EU–US Data Privacy Framework") == 2 and "til USA" in out
    # the seed's own section 4 stays word for word beside them
    assert "Vi deler ikke dine personopplysninger med tredjeparter" in text
    objection = section(text, "Retten til å protestere mot direkte markedsføring")
    assert "også når vi markedsfører overfor deg som eksisterende kunde" in objection


def test_no_provider_name_is_in_the_code_or_the_catalogs():
    """REQ N-06: provider names come from the site file only (Google's Consent Mode, a
    protocol the widget speaks, is not a recipient)."""
    root = Path(__file__).resolve().parents[1]
    files = [root / "translations" / "messages.pot",
             *(root / "consent_server" / "consent").glob("*.py"),
             *(root / "consent_server" / "web" / "templates" / "people").glob("*.html"),
             *(root / "consent_server" / "web" / "templates" / "mail").glob("*")]
    for path in files:
        text = path.read_text(encoding="utf-8").replace("Google Consent Mode", "")
        assert not re.findall(r"\b(Google|Meta|TikTok)\b", text), path


@pytest.mark.parametrize("setting, value, nb", [
    ("MAX_AGE_DAYS", 180, "Valget ditt om informasjonskapsler: 180 dager"),
    ("PERSON_RETENTION_DAYS", 45, "vi sletter den 45 dager etter at det siste opphørte"),
    ("CUSTOMER_BASIS_MONTHS", 18, "til 18 måneder etter det siste kjøpet ditt"),
    ("RETENTION_DAYS", 2000, "reservasjoner: 2000 dager etter"),
])
def test_the_retention_section_follows_the_configuration(app_factory, setting, value, nb):
    """REQ N-07 R-05: change a setting, and the retention text says the new value."""
    default = app_factory().test_client().get("/privacy/nb").get_data(as_text=True)
    assert nb not in default
    changed = app_factory(**{setting: value}).test_client().get("/privacy/nb")
    assert nb in changed.get_data(as_text=True)


@pytest.mark.parametrize("entry, message", [
    ('name = "X"\nentity = "X Ltd"\ncountry = { nb = "a", en = "b" }\ntransfer = "maybe"\n'
     'purposes = ["marketing"]', "transfer must be one of"),
    ('name = "X"\nentity = "X Ltd"\ncountry = { nb = "a", en = "b" }\ntransfer = "dpf"\n'
     'purposes = ["marketing"]', "transfer_to"),
    ('name = "X"\nentity = "X Ltd"\ncountry = { nb = "a", en = "b" }\ntransfer = "none"\n'
     'purposes = ["spying"]', "purposes must list some of"),
])
def test_a_bad_provider_stops_start_up_naming_the_key(tmp_path, entry, message):
    path = tmp_path / "site.toml"
    path.write_text(f'controller = "Eksempel AS"\n[[providers]]\n{entry}\n', encoding="utf-8")
    with pytest.raises(SiteFileError, match="site.toml") as error:
        load(path)
    assert message in str(error.value)


def test_a_cookie_must_name_a_declared_provider(with_tiktok, tmp_path):
    text = Path(with_tiktok).read_text(encoding="utf-8").replace(
        'provider = "TikTok Technology Limited"', 'provider = "TikTok"')
    path = tmp_path / "other.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SiteFileError, match=r"provider 'TikTok' is not the entity"):
        load(path)
