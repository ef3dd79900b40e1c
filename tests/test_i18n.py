"""One Babel catalog for every string a person reads, complete in nb, nn and en, and in step."""
import re

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from consent_server import catalogs

CATALOGS = catalogs.SOURCE


def catalog(lang):
    with open(CATALOGS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def extracted_ids(tmp_path):
    """What `flask consent i18n extract` finds in the code now (written to a temporary file)."""
    pot = tmp_path / "messages.pot"
    catalogs.extract(pot)
    with open(pot, "rb") as f:
        return {m.id for m in read_po(f) if m.id}


LANGUAGES = ["nb", "nn", "en"]


def test_the_catalogs_are_the_configured_languages(app):
    """REQ N-08: a catalog per configured language, nynorsk one of them."""
    assert list(app.config["LANGUAGES"]) == LANGUAGES == list(catalogs.LANGUAGES)
    for lang in LANGUAGES:
        assert (CATALOGS / lang / "LC_MESSAGES" / "messages.po").is_file()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(lang):
    entries = [m for m in catalog(lang) if m.id]
    assert entries
    untranslated = [m.id for m in entries if not m.string]
    fuzzy = [m.id for m in entries if m.fuzzy]
    assert not untranslated, untranslated
    assert not fuzzy, fuzzy


def test_catalogs_are_in_step_with_the_code(tmp_path):
    """Run `flask consent i18n update` when this fails."""
    in_code = extracted_ids(tmp_path)
    assert "Accept all" in in_code and "Privacy notice" in in_code  # the extraction found code
    with open(CATALOGS / "messages.pot", "rb") as f:
        in_template = {m.id for m in read_po(f) if m.id}
    assert in_code == in_template, {"missing from messages.pot": in_code - in_template,
                                    "no longer in the code": in_template - in_code}
    for lang in LANGUAGES:
        assert {m.id for m in catalog(lang) if m.id} == in_code, lang


@pytest.mark.parametrize("lang", ["nb", "nn"])
def test_norwegian_differs_from_english_where_it_should(lang):
    same = [m.id for m in catalog(lang) if m.id and m.string == m.id]
    # names and addresses read the same in every language
    assert set(same) <= {"EXENTRI AS", "Exentri Outdoor"}, same


def test_nynorsk_is_not_bokmål():
    """REQ N-08: the nynorsk catalog is written in nynorsk: the words that differ from bokmål
    in nearly every sentence (ikke, hva, hvordan, fra, hvis, nettleseren) are not in it."""
    nn = {m.id: m.string for m in catalog("nn") if m.id}
    nb = {m.id: m.string for m in catalog("nb") if m.id}
    texts = [s for v in nn.values() for s in (v if isinstance(v, tuple) else (v,))]
    words = {w for t in texts for w in re.findall(r"\w+", t.lower())}
    bokmål = {"ikke", "hva", "hvordan", "hvilke", "hvem", "fra", "nettleseren", "hvis", "noen",
              "innstillinger", "informasjonskapsler", "markedsføring", "nyhetsbrev", "lenken"}
    assert not words & bokmål, words & bokmål
    differs = [i for i in nn if nn[i] != nb[i]]  # short console words (Revisjon, Rolle) agree
    assert len(differs) > 0.65 * len(nn), len(differs)


@pytest.mark.parametrize("norwegian", ["nb", "nn"])
def test_banner_texts_complete_and_different_in_both_languages(client, norwegian):
    """REQ W-11, W-13, N-08: complete, different texts for every key in nb (or nn) and en."""
    nb = client.get(f"/api/v1/config?lang={norwegian}").json
    en = client.get("/api/v1/config?lang=en").json
    assert nb["language"] == norwegian and en["language"] == "en"
    assert nb["languages"] == LANGUAGES
    assert set(nb["texts"]) == set(en["texts"]) and len(nb["texts"]) >= 10
    for key in nb["texts"]:
        assert nb["texts"][key] and en["texts"][key]
        assert nb["texts"][key] != en["texts"][key], key
    for a, b in zip(nb["purposes"], en["purposes"], strict=False):
        assert a["name"] != b["name"] and a["description"] != b["description"]
        for x, y in zip(a["cookies"], b["cookies"], strict=False):
            assert x["name"] == y["name"] and x["description"] != y["description"]


def test_bokmal_uses_datatilsynets_words(client):
    """REQ W-13: Godta alle, Avvis alle, Innstillinger, Lagre innstillinger, ..."""
    body = client.get("/api/v1/config?lang=nb").json
    texts = body["texts"]
    assert texts["accept_all"] == "Godta alle"
    assert texts["reject_all"] == "Avvis alle"
    assert texts["settings"] == "Innstillinger"
    assert texts["save"] == "Lagre innstillinger"
    assert texts["change"] == "Endre samtykke"
    assert texts["privacy_link"] == "Personvernerklæring"
    assert "informasjonskapsler" in texts["body"] and "samtykke" in texts["body"]
    assert "Global Privacy Control" in texts["gpc"]
    names = [p["name"] for p in body["purposes"]]
    assert names == ["Strengt nødvendige", "Statistikk", "Markedsføring"]


def test_nynorsk_uses_språkrådets_words(client):
    """REQ N-08: the banner in nynorsk: Godta alle, Avvis alle, Innstillingar, informasjonskapslar,
    Personvernerklæring, samtykke, Marknadsføring."""
    body = client.get("/api/v1/config?lang=nn").json
    texts = body["texts"]
    assert body["language"] == "nn"
    assert texts["accept_all"] == "Godta alle"
    assert texts["reject_all"] == "Avvis alle"
    assert texts["settings"] == "Innstillingar"
    assert texts["save"] == "Lagre innstillingane"
    assert texts["change"] == "Endre samtykke"
    assert texts["privacy_link"] == "Personvernerklæring"
    assert "informasjonskapslar" in texts["body"] and "samtykket" in texts["body"]
    assert "Samtykkjer du, brukar vi også informasjonskapslar" in texts["body"]
    assert "Global Privacy Control" in texts["gpc"] and "ikkje" in texts["gpc"]
    names = [p["name"] for p in body["purposes"]]
    assert names == ["Strengt nødvendige", "Statistikk", "Marknadsføring"]
    cookies = {c["name"]: c for p in body["purposes"] for c in p["cookies"]}
    assert cookies["consent"]["lifetime"] == "12 månader"
    assert cookies["_ga"]["description"] == "Skil besøkjande frå kvarandre i besøksstatistikken."


@pytest.mark.parametrize("headers, query, lang", [
    ({"Accept-Language": "nb-NO,nb;q=0.9"}, "", "nb"),
    ({"Accept-Language": "en-US,en;q=0.9"}, "", "en"),
    ({"Accept-Language": "nn-NO"}, "", "nn"),
    ({"Accept-Language": "nn"}, "", "nn"),
    ({"Accept-Language": "no"}, "", "nb"),
    ({"Accept-Language": "nb"}, "", "nb"),
    ({"Accept-Language": "en-GB"}, "", "en"),
    ({"Accept-Language": "nn-NO,nn;q=0.9,nb;q=0.8,en;q=0.5"}, "", "nn"),
    ({"Accept-Language": "de-DE,nn;q=0.5"}, "", "nn"),
    ({"Accept-Language": "en"}, "?lang=nn", "nn"),
    ({"Accept-Language": "en"}, "?lang=nn-NO", "nn"),
    ({"Accept-Language": "en"}, "?lang=nn_NO", "nn"),
    ({"Accept-Language": "nn"}, "?lang=no", "nb"),
    ({"Accept-Language": "nn"}, "?lang=nb-NO", "nb"),
    ({"Accept-Language": "sv-SE,sv;q=0.9"}, "", "nb"),
    ({"Accept-Language": "en"}, "?lang=nb", "nb"),
    ({"Accept-Language": "nb"}, "?lang=en", "en"),
    ({}, "?lang=zz", "nb"),
])
def test_config_language_choice(client, headers, query, lang):
    """REQ W-11, N-08: ?lang=, then Accept-Language (nb-NO, no: bokmål; nn, nn-NO, nn_NO:
    nynorsk), else bokmål."""
    resp = client.get(f"/api/v1/config{query}", headers=headers)
    assert resp.json["language"] == lang
    assert resp.headers["Vary"].count("Accept-Language") >= 1
    assert "max-age" in resp.headers["Cache-Control"]


def test_config_ignores_cache_busting_parameters(client):
    assert client.get("/api/v1/config?lang=en&_=12345").status_code == 200


def test_the_committed_template_is_what_extraction_writes(tmp_path):
    """`flask consent i18n extract` would leave an up-to-date messages.pot byte for byte as is."""
    pot = tmp_path / "messages.pot"
    catalogs.extract(pot)
    assert pot.read_bytes() == (CATALOGS / "messages.pot").read_bytes()


def key(value):
    """A message's id or string as a dict key: a plural one is a list (in .mo) or a tuple."""
    return tuple(value) if isinstance(value, list | tuple) else value


def test_i18n_cli_compile_builds_the_catalogs(runner, tmp_path):
    """The compile command writes .mo files that hold every translation of the .po files."""
    result = runner.invoke(args=["consent", "i18n", "compile", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for lang in LANGUAGES:
        with open(tmp_path / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
            compiled = {key(m.id): key(m.string) for m in read_mo(f) if m.id}
        expected = {key(m.id): key(m.string) for m in catalog(lang) if m.id}
        assert compiled == expected, lang
    nb = dict((m.id, m.string) for m in catalog("nb") if m.id)
    assert nb["Accept all"] == "Godta alle"
