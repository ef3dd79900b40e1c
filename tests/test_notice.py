"""The privacy notice: complete in bokmål, nynorsk and English, versioned, tied to every consent."""
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from consent_server.consent import notices
from consent_server.extensions import db

SEED = Path(__file__).with_name("data") / "personvernerklaering.nb.txt"
SHARED_SEED = Path(__file__).resolve().parents[2] / "shared/seed/personvernerklaering.nb.txt"


class Text(HTMLParser):
    """The visible text of a page, one line per block."""

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], False

    def handle_starttag(self, tag, attrs):
        self.skip = tag in ("style", "script")
        if tag in ("p", "li", "h1", "h2", "h3", "br", "tr", "section"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        self.skip = False

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def page_text(client, path):
    resp = client.get(path)
    assert resp.status_code == 200, path
    parser = Text()
    parser.feed(resp.get_data(as_text=True))
    return resp, re.sub(r"[ \t]+", " ", "".join(parser.parts))


def seed_structure():
    """The seed's numbered headings and, per section, its bullets and other lines."""
    sections, current = {}, None
    for raw in SEED.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if match := re.match(r"^(\d)\. (.+)$", line):
            current = int(match[1])
            sections[current] = {"heading": match[2], "bullets": [], "lines": []}
        elif current and line.startswith("•"):
            sections[current]["bullets"].append(line.lstrip("• ").strip())
        elif current:
            sections[current]["lines"].append(line)
    return sections


@pytest.mark.skipif(not SHARED_SEED.exists(), reason="shared/ is not beside this clone")
def test_our_copy_of_the_seed_is_the_company_notice():
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_seed_has_eight_sections():
    assert sorted(seed_structure()) == list(range(1, 9))


def test_norwegian_page_has_every_seed_section_and_bullet_word_for_word(client):
    """REQ N-01: the seed notice, every section and bullet, in faithful bokmål."""
    resp, text = page_text(client, "/privacy/nb")
    lines = {line.strip() for line in text.splitlines()}
    assert "Personvernerklæring" in lines
    intro = SEED.read_text(encoding="utf-8").splitlines()[2].strip()
    assert intro in lines
    for number, section in seed_structure().items():
        assert f"{number}. {section['heading']}" in lines
        for item in section["bullets"] + section["lines"]:
            assert item in lines, item


def test_english_page_has_the_same_structure_and_facts(client):
    """REQ N-01: same structure (8 sections, same number of bullets), same facts."""
    resp, text = page_text(client, "/privacy/en")
    html = resp.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Privacy notice" in text
    headings = re.findall(r"<h2>(\d)\. ", html)
    assert headings == [str(n) for n in range(1, 9)]
    sections = re.split(r"<h2>\d\. ", html)[1:]
    for (number, seed), section in zip(sorted(seed_structure().items()), sections, strict=False):
        own = section.split("</section>")[0]
        assert own.count("<li>") == len(seed["bullets"]), number
    for fact in ("EXENTRI AS", "Bygdøy Allé 10, 0262 Oslo", "post@exentri.no", "22 22 39 00",
                 "+47 22 22 39 00", "www.exentri.no", "Exentri"):
        assert fact in text, fact
    nb_words = ("personopplysninger", "Personvernerklæring", "Dine rettigheter")
    assert not any(word in text for word in nb_words)


# The seed in nynorsk: its eight headings, and a line of each section's text, as translated.
NYNORSK = {
    1: ("Kven er ansvarleg for personopplysningane dine?", "Adresse: Bygdøy Allé 10, 0262 Oslo"),
    2: ("Kva opplysningar samlar vi inn?",
        "Brukarinformasjon: Brukarnamn, passord, kjøpshistorikk"),
    3: ("Korleis brukar vi opplysningane dine?",
        "Sende nyheitsbrev og marknadsføring (dersom du har gitt samtykke til dette)"),
    4: ("Deling av opplysningane dine",
        "Vi deler ikkje personopplysningane dine med tredjepartar, med mindre det er nødvendig "
        "for å:"),
    5: ("Tryggleiken til opplysningane dine",
        "Vi tek tryggleiken til personopplysningane dine på alvor og brukar høvelege tekniske og "
        "organisatoriske tiltak for å verne dei mot uautorisert tilgang, endring, avsløring eller "
        "øydelegging."),
    6: ("Rettane dine", "Få retta feil i personopplysningane dine"),
    7: ("Kontakt oss", "Telefon: +47 22 22 39 00"),
    8: ("Endringar i personvernerklæringa",
        "Vi kan oppdatere denne personvernerklæringa frå tid til anna. Eventuelle endringar vil "
        "bli publiserte på denne sida, og vi oppmodar deg til å gå gjennom ho jamleg."),
}


def test_nynorsk_page_has_every_seed_section_in_nynorsk(client):
    """REQ N-08, N-01: the seed in faithful nynorsk: the same eight sections with as many bullets
    as the seed, the same facts, the server's and the site's additions in nynorsk too."""
    resp, text = page_text(client, "/privacy/nn")
    html = resp.get_data(as_text=True)
    assert '<html lang="nn">' in html and resp.headers["Content-Language"] == "nn"
    lines = {line.strip() for line in text.splitlines()}
    assert "Personvernerklæring" in lines
    assert ("Velkommen til www.exentri.no. Den personlege integriteten din er viktig for oss, og "
            "vi pliktar å verne om personopplysningane dine.") in text
    for number, (heading, line) in NYNORSK.items():
        assert f"{number}. {heading}" in lines, heading
        assert line in lines, line
    sections = re.split(r"<h2>\d\. ", html)[1:]
    for (number, seed), section in zip(sorted(seed_structure().items()), sections, strict=True):
        assert section.split("</section>")[0].count("<li>") == len(seed["bullets"]), number
    for fact in ("EXENTRI AS", "post@exentri.no", "22 22 39 00", "Google Ireland Limited",
                 "Meta Platforms Ireland Limited", "Datatilsynet"):
        assert fact in text, fact
    for addition in ("Kven som får opplysningane dine", "Overføring til land utanfor EØS",
                     "felles behandlingsansvarlege", "Trekkje tilbake samtykke og klage",
                     "Informasjonskapslar", "Skil besøkjande frå kvarandre", "13 månader"):
        assert addition in text, addition
    bokmål = re.compile(r"\b(ikke|hva|hvordan|hvem|fra|hvis|dine personopplysninger|"
                        r"informasjonskapsler|markedsføring|måneder)\b")
    assert not bokmål.findall(text), bokmål.findall(text)


def test_the_bokmål_seed_stays_the_source_when_nynorsk_is_served(client):
    """REQ N-08, N-01: adding nynorsk changes no word of the bokmål page's seed text."""
    client.get("/privacy/nn")
    _, text = page_text(client, "/privacy/nb")
    lines = {line.strip() for line in text.splitlines()}
    for number, section in seed_structure().items():
        assert f"{number}. {section['heading']}" in lines
        assert all(item in lines for item in section["bullets"] + section["lines"])


@pytest.mark.parametrize("lang, words", [
    ("nb", ("Behandlingsgrunnlag", "Datatilsynet", "trekke tilbake", "bokføringsloven",
            "berettigede interesse", "markedsføringsloven § 15 tredje ledd", "samtykke")),
    ("nn", ("Behandlingsgrunnlag", "Datatilsynet", "trekkje tilbake", "bokføringslova",
            "berettiga interessa", "marknadsføringslova § 15 tredje ledd", "samtykke")),
    ("en", ("Legal basis", "Datatilsynet", "withdraw", "Bookkeeping Act",
            "legitimate interest", "section 15 third paragraph", "consent")),
])
def test_the_notice_adds_what_article_13_asks(client, lang, words):
    """REQ N-03: legal basis per purpose, retention, complaint to Datatilsynet, withdrawal; the
    server's own sections (legal basis, recipients, transfers, retention, the right to object)
    and the site file's (withdrawal and complaint) are marked as additions."""
    resp, text = page_text(client, f"/privacy/{lang}")
    for word in words:
        assert word in text, word
    assert resp.get_data(as_text=True).count('class="addition"') == 6


@pytest.mark.parametrize("lang, version_text", [
    ("nb", "Versjon 1, publisert"), ("nn", "Versjon 1, publisert"),
    ("en", "Version 1, published"),
])
def test_page_shows_version_date_other_language_and_settings(client, lang, version_text):
    """REQ N-02, N-05, N-08: version and date, a link to each other language (named in itself),
    a way back to settings."""
    resp, text = page_text(client, f"/privacy/{lang}")
    html = resp.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and resp.headers["Content-Language"] == lang
    assert version_text in text
    names = {"nb": "Norsk bokmål", "nn": "Norsk nynorsk", "en": "English"}
    for other in set(names) - {lang}:
        assert (f'<a href="/privacy/{other}" hreflang="{other}" lang="{other}">{names[other]}</a>'
                in html), other
    assert f'href="/privacy/{lang}"' not in html
    assert "data-consent-open" in html and '<script src="/widget.js"' in html
    assert html.count("<h1>") == 1 and html.count("<h2>") >= 12


def test_page_date_is_formatted_for_the_locale(client):
    """The date as its readers write it: "1. desember 2026", and "1 December 2026" (British
    order, as in Norway), not "December 1, 2026"."""
    from babel.dates import format_date

    from consent_server.models import utcnow

    today = utcnow().date()
    _, nb = page_text(client, "/privacy/nb")
    _, en = page_text(client, "/privacy/en")
    _, nn = page_text(client, "/privacy/nn")
    assert format_date(today, "long", locale="nb") in nb
    assert format_date(today, "long", locale="nn") in nn
    assert f"published {today.day} {format_date(today, 'MMMM', locale='en')} {today.year}" in en


def test_cookie_declaration_is_on_the_notice_page(client):
    """REQ C-03: which cookies each purpose sets, by whom, for how long."""
    _, text = page_text(client, "/privacy/nb")
    for word in ("Informasjonskapsler", "Statistikk", "Markedsføring", "_ga", "_fbp",
                 "Google Ireland Limited", "13 måneder"):
        assert word in text


@pytest.mark.parametrize("headers, query, lang", [
    ({"Accept-Language": "nb-NO,nb;q=0.9"}, "", "nb"),
    ({"Accept-Language": "en-GB,en;q=0.8"}, "", "en"),
    ({"Accept-Language": "nn"}, "", "nn"),
    ({"Accept-Language": "nn-NO,nb;q=0.5"}, "", "nn"),
    ({"Accept-Language": "no"}, "", "nb"),
    ({"Accept-Language": "nb-NO"}, "", "nb"),
    ({"Accept-Language": "de-DE,de;q=0.9"}, "", "nb"),
    ({"Accept-Language": "de,en;q=0.5"}, "", "en"),
    ({}, "", "nb"),
    ({"Accept-Language": "nb"}, "?lang=en", "en"),
    ({"Accept-Language": "en"}, "?lang=nb-NO", "nb"),
    ({"Accept-Language": "en"}, "?lang=xx", "en"),
    ({"Accept-Language": "en"}, "?lang=nn_NO", "nn"),
])
def test_negotiated_page_language(client, headers, query, lang):
    """REQ W-11, N-08: ?lang=, then Accept-Language (nb, nb-NO, no: bokmål; nn, nn-NO:
    nynorsk), then bokmål."""
    resp = client.get(f"/privacy{query}", headers=headers)
    assert resp.status_code == 200
    assert f'<html lang="{lang}">' in resp.get_data(as_text=True)
    assert "Accept-Language" in resp.headers["Vary"]


def test_unknown_language_page_is_404(client):
    assert client.get("/privacy/de").status_code == 404


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_policy_json_is_the_published_text_and_hash(app, client, lang):
    """REQ N-02: each version has a publication date and a hash of the exact text per language."""
    body = client.get(f"/api/v1/policy?lang={lang}").json
    assert body["version"] == "1" and body["language"] == lang and body["material"] is True
    assert notices.sha256(body["text"]) == body["text_hash"]
    assert body["published_at"]
    with app.app_context():
        rendered = notices.render(app.extensions["consent_site"], [lang])[lang]
    assert rendered == body["text"]


def test_policy_json_before_any_publication_is_404(app, client):
    from sqlalchemy import delete

    from consent_server.models import PolicyText, PolicyVersion

    with app.app_context():
        db.session.execute(delete(PolicyText))
        db.session.execute(delete(PolicyVersion))
        db.session.commit()
    resp = client.get("/api/v1/policy")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    assert client.get("/privacy/nb").status_code == 200  # the page still renders


def test_publish_policy_cli_publishes_only_changed_text(app, runner):
    """REQ N-02, N-04: unchanged text publishes nothing unless --force."""
    unchanged = runner.invoke(args=["consent", "publish-policy"])
    assert unchanged.exit_code == 0 and "nothing published" in unchanged.output
    forced = runner.invoke(args=["consent", "publish-policy", "--force"])
    assert "published notice version 2 (non-material)" in forced.output
    assert re.search(r"nb: sha256 [0-9a-f]{64}", forced.output)
    material = runner.invoke(args=["consent", "publish-policy", "--force", "--material"])
    assert "published notice version 3 (material)" in material.output


def test_changed_text_is_published(app, tmp_path, app_factory, publish):
    site = tmp_path / "site.toml"
    site.write_text(Path(app.config.get("SITE_FILE") or
                         Path(__file__).parents[1] / "consent_server" / "consent" / "site.toml")
                    .read_text(encoding="utf-8").replace("13 måneder", "12 måneder"),
                    encoding="utf-8")
    changed = app_factory(SITE_FILE=str(site))
    published = publish(changed)
    assert published is not None and published.version == "2"


def test_consent_event_records_version_and_text_hash_of_the_language_shown(client, choice):
    """REQ C-07, N-02: a consent names the version, the language and the hash of the text."""
    for lang in ("nb", "nn", "en"):
        created = client.post("/api/v1/consents", json={**choice, "language": lang}).json
        event = client.get(f"/api/v1/consents/{created['consent_id']}/events").json["events"][0]
        notice = client.get(f"/api/v1/policy?lang={lang}").json
        assert event["policy_version"] == "1" and event["language"] == lang
        assert event["text_hash"] == notice["text_hash"]


def test_after_an_upgrade_that_adds_nynorsk_publish_policy_publishes_it(app, client, runner,
                                                                       choice):
    """REQ N-08, N-02, N-04: a notice published before nn existed has no nynorsk text, so a
    consent in nn under it is refused (its hash would be of no published text) until
    `publish-policy` publishes a version with it: a non-material one, so no consent outdates."""
    from sqlalchemy import delete

    from consent_server.models import PolicyText

    before = client.post("/api/v1/consents", json={**choice, "language": "nb"}).json
    with app.app_context():
        db.session.execute(delete(PolicyText).where(PolicyText.language == "nn"))
        db.session.commit()
    refused = client.post("/api/v1/consents", json={**choice, "language": "nn"})
    assert refused.status_code == 422 and "policy_version" in refused.json["errors"]
    result = runner.invoke(args=["consent", "publish-policy"])
    assert "published notice version 2 (non-material)" in result.output, result.output
    assert re.search(r"nn: sha256 [0-9a-f]{64}", result.output)
    done = client.post("/api/v1/consents", json={**choice, "language": "nn",
                                                 "policy_version": "2"})
    assert done.status_code == 201
    assert client.get(f"/api/v1/consents/{before['consent_id']}").json["outdated"] is False


def test_unknown_policy_version_is_422(app, client, choice):
    resp = client.post("/api/v1/consents", json={**choice, "policy_version": "99"})
    assert resp.status_code == 422
    assert "policy_version" in resp.json["errors"]


def test_material_version_makes_earlier_consents_outdated(app, client, choice, publish):
    """REQ N-04, C-09: after a material version the banner asks again; later consents are fine."""
    before = client.post("/api/v1/consents", json=choice).json["consent_id"]
    assert client.get(f"/api/v1/consents/{before}").json["outdated"] is False
    publish(app, material=True, force=True)
    assert client.get(f"/api/v1/consents/{before}").json["outdated"] is True
    config = client.get("/api/v1/config").json
    assert config["policy_version"] == "2" and config["valid_policy_versions"] == ["2"]
    after = client.post("/api/v1/consents", json={**choice, "policy_version": "2"}).json
    assert client.get(f"/api/v1/consents/{after['consent_id']}").json["outdated"] is False


def test_non_material_version_keeps_consents_valid(app, client, choice, publish):
    """REQ N-04: a wording change keeps consents valid."""
    before = client.post("/api/v1/consents", json=choice).json["consent_id"]
    publish(app, material=False, force=True)
    assert client.get(f"/api/v1/consents/{before}").json["outdated"] is False
    config = client.get("/api/v1/config").json
    assert config["valid_policy_versions"] == ["1", "2"]
    # a consent still given under version 1 (a page loaded before) is accepted and valid
    late = client.post("/api/v1/consents", json=choice).json
    assert client.get(f"/api/v1/consents/{late['consent_id']}").json["outdated"] is False
