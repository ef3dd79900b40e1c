"""GET /widget.js (size budget, caching, compression) and the /demo shop, without a browser."""
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from consent_server.consent import banner
from consent_server.web import widget

WIDGET = widget.DIST.parent
SOURCES = {path.name: path.read_text(encoding="utf-8")
           for path in sorted((WIDGET / "src").iterdir())}


def served(client, path="/widget.js?lang=en", **headers):
    return client.get(path, headers={"Accept-Encoding": "identity", **headers})


def settings_of(js: str) -> dict:
    """The JSON the server put before the built banner (after the compile hint)."""
    assert js.startswith(widget.COMPILE_HINT + "{const CONSENT_SETTINGS={")
    prefix = js.removeprefix(widget.COMPILE_HINT + "{const CONSENT_SETTINGS=")
    return json.JSONDecoder().raw_decode(prefix)[0]


def source_hash() -> str:
    """The hash widget/build.mjs writes into dist/stamp.json: each source's name and bytes."""
    digest = hashlib.sha256()
    for path in sorted((WIDGET / "src").iterdir(), key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def test_the_built_file_is_up_to_date_with_its_sources():
    """The committed widget/dist/ was built from widget/src/ as it is (run `npm ci && node
    build.mjs` in widget/ after a change); checked without Node."""
    stamp = json.loads((widget.DIST / "stamp.json").read_text(encoding="utf-8"))
    assert stamp["sources"] == source_hash(), "widget/dist is stale: cd widget && node build.mjs"


@pytest.mark.skipif(not shutil.which("node") or not (WIDGET / "node_modules").is_dir(),
                    reason="node and widget/node_modules (npm ci) are needed to rebuild")
def test_a_rebuild_gives_the_committed_files(tmp_path):
    """The build is reproducible: esbuild and terser (pinned in package-lock.json) give back
    exactly the committed files."""
    copy = tmp_path / "widget"
    shutil.copytree(WIDGET, copy, ignore=shutil.ignore_patterns("node_modules"))
    (copy / "node_modules").symlink_to(WIDGET / "node_modules")
    result = subprocess.run(["node", "build.mjs"], cwd=copy, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in ("consent.min.js", "settings.min.js", "stamp.json"):
        assert (copy / "dist" / name).read_bytes() == (widget.DIST / name).read_bytes(), name


def test_first_visit_fits_the_gzip_budget(client):
    """REQ W-12: everything a first visit needs before the banner can be used (widget.js: JS,
    CSS and the first layer's texts in one file) is at most 5 KB gzipped, in each language
    (REQ N-08: nynorsk too)."""
    sizes = {}
    for lang in ("nb", "nn", "en"):
        raw = served(client, f"/widget.js?lang={lang}").data
        assert b".csw{" in raw  # the stylesheet is inside
        sizes[lang] = len(gzip.compress(raw, 9))
    assert max(sizes.values()) <= widget.BUDGET_GZIP == 5120, f"gzipped sizes: {sizes}"


def test_what_only_some_visitors_need_is_in_the_config(client):
    """REQ W-09, W-12, W-04: the GPC texts (wanted only where the browser sends GPC) and the
    held-back iframe's placeholder (drawn by the second file) are in /api/v1/config, not in
    widget.js; the live region's words are (said after a choice on the first layer)."""
    texts = settings_of(served(client, "/widget.js?lang=nb").get_data(as_text=True))["texts"]
    assert not {"accept_gpc", "gpc", "placeholder"} & set(texts)
    assert texts["saved"] == "Valget ditt er lagret"
    config = client.get("/api/v1/config?lang=nb").json["texts"]
    assert config["accept_gpc"] == "Godta alle unntatt markedsføring"
    assert config["saved"] == "Valget ditt er lagret"
    assert client.get("/api/v1/config?lang=en").json["texts"]["saved"] == (
        "Your choice has been saved")


def test_the_compile_hint_comes_before_any_code(client):
    """REQ W-12: V8 compiles the banner's functions off the main thread while the script streams
    in only when its `//# allFunctionsCalledOnLoad` comes before the first token of the file."""
    for lang in ("nb", "nn", "en"):
        js = served(client, f"/widget.js?lang={lang}").get_data(as_text=True)
        assert js.startswith("//# allFunctionsCalledOnLoad\n{")


def test_served_as_cacheable_javascript(client):
    resp = client.get("/widget.js?lang=nb")
    assert resp.status_code == 200
    assert resp.mimetype == "application/javascript"
    assert "public" in resp.headers["Cache-Control"] and "max-age=" in resp.headers["Cache-Control"]
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Language"] == "nb"
    assert re.fullmatch(r'"[0-9a-f]{32}"', resp.headers["ETag"])  # strong, from the content
    assert "Content-Encoding" not in resp.headers


def test_gzip_when_the_client_accepts_it(client):
    plain = client.get("/widget.js")
    zipped = client.get("/widget.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 2
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # one tag per representation


def test_etag_revalidation_answers_304(client):
    first = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    again = client.get("/widget.js", headers={"Accept-Encoding": "gzip",
                                              "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    stale = client.get("/widget.js", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_one_script_per_language_with_its_own_etag(client):
    """REQ W-12, W-13: the first layer's texts come with the script, per language (?lang=, else
    Accept-Language, which the answer then varies on), each with its own ETag."""
    nb, en = served(client, "/widget.js?lang=nb"), served(client, "/widget.js?lang=en")
    assert nb.headers["ETag"] != en.headers["ETag"]
    assert settings_of(nb.get_data(as_text=True))["texts"]["accept_all"] == "Godta alle"
    assert settings_of(en.get_data(as_text=True))["texts"]["accept_all"] == "Accept all"
    assert served(client, "/widget.js?lang=no").headers["ETag"] == nb.headers["ETag"]
    negotiated = served(client, "/widget.js", **{"Accept-Language": "en-GB,en;q=0.8"})
    assert negotiated.headers["ETag"] == en.headers["ETag"]
    assert negotiated.headers["Vary"] == "Accept-Encoding, Accept-Language"
    assert served(client, "/widget.js").headers["Content-Language"] == "nb"  # the default
    assert served(client, "/widget.js?lang=de", **{"Accept-Language": "de"}).headers[
        "Content-Language"] == "nb"


@pytest.mark.parametrize("query, headers", [
    ("?lang=nn", {}), ("?lang=nn-NO", {}), ("?lang=nn_NO", {}), ("", {"Accept-Language": "nn-NO"}),
])
def test_the_banner_in_nynorsk(client, query, headers):
    """REQ N-08, W-11: widget.js?lang=nn (nn-NO, nn_NO, or Accept-Language nn) carries the first
    layer in nynorsk, a script of its own (ETag), not bokmål's."""
    nn = served(client, f"/widget.js{query}", **headers)
    nb = served(client, "/widget.js?lang=nb")
    assert nn.headers["Content-Language"] == "nn" and nn.headers["ETag"] != nb.headers["ETag"]
    settings = settings_of(nn.get_data(as_text=True))
    texts = settings["texts"]
    assert settings["language"] == "nn" and settings["privacy_url"].endswith("/privacy/nn")
    assert texts["title"] == "Vi brukar informasjonskapslar"
    assert texts["settings"] == "Innstillingar" and texts["saved"] == "Valet ditt er lagra"
    assert "nettsida skal verke" in texts["body"] and "trekkje tilbake samtykket" in texts["body"]


def test_the_prefix_is_the_first_layer_config(client):
    """REQ C-03, W-06, W-08: the server fills in only a JSON prefix: the first layer's texts
    naming the controller, the optional purposes' cookie names, the cookie and Consent Mode
    settings, the notice versions and the allowed sites; the built file follows unchanged."""
    js = served(client).get_data(as_text=True)
    settings = settings_of(js)
    assert js.endswith((widget.DIST / "consent.min.js").read_text(encoding="utf-8"))
    config = client.get("/api/v1/config?lang=en").json
    assert settings["texts"]["body"].startswith("Exentri AS uses cookies")
    assert set(settings["texts"]) < set(config["texts"])  # the settings layer's come later
    assert "placeholder" not in settings["texts"]  # drawn by the second file (W-04)
    assert config["cookie"] == {"name": "consent", "max_age_days": 365, "domain": None}
    assert settings["cookie"] == {"name": "consent", "max_age_days": 365}  # no domain: none
    assert settings["consent_mode"]["marketing"] == ["ad_storage", "ad_user_data",
                                                     "ad_personalization"]
    assert settings["purposes"] == [  # the names of cookies a refusal deletes (W-05)
        {"key": p["key"], "cookies": [c["name"] for c in p["cookies"]]}
        for p in config["purposes"] if not p["required"]]
    assert settings["policy_version"] == "1" and settings["valid_policy_versions"] == ["1"]
    assert settings["origins"] == ["https://shop.example", "https://www.shop.example"]
    assert settings["privacy_url"] == config["privacy_url"] == "http://127.0.0.1:5000/privacy/en"


def test_a_text_cannot_close_the_script_element(app_factory, tmp_path, publish):
    """A site file's text with </script> in it stays inside the JSON string."""
    path = Path(site_file(tmp_path, ""))
    path.write_text(path.read_text(encoding="utf-8").replace(
        'controller = "Exentri AS"', 'controller = "A</script><b>"'), encoding="utf-8")
    app = app_factory(SITE_FILE=path)
    publish(app)
    js = served(app.test_client()).get_data(as_text=True)
    assert "</script>" not in js and settings_of(js)["texts"]["body"].startswith("A</script><b>")


def config_of(js: str) -> dict:
    """The full config the server put before the settings layer."""
    assert js.startswith("const CONSENT_CONFIG={")
    return json.JSONDecoder().raw_decode(js.removeprefix("const CONSENT_CONFIG="))[0]


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_the_settings_layer_module(client, lang):
    """The settings layer is an ES module of its own, loaded from any allowed site (CORS), with
    the full config in the banner's language before it (issue 21: one request, no fetch), the
    same as /api/v1/config's; cached and revalidated like the banner."""
    resp = served(client, f"/widget-settings.js?lang={lang}")
    assert resp.status_code == 200 and resp.mimetype == "application/javascript"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Content-Language"] == lang
    js = resp.get_data(as_text=True)
    assert js.endswith((widget.DIST / "settings.min.js").read_text(encoding="utf-8"))
    assert config_of(js) == client.get(f"/api/v1/config?lang={lang}").get_json()
    again = client.get(f"/widget-settings.js?lang={lang}",
                       headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_built_once_per_app_and_language(app):
    with app.test_request_context():
        assert widget.bundle(app, "nb") is widget.bundle(app, "nb")
        assert widget.bundle(app, "nb") is not widget.bundle(app, "en")
        assert widget.bundle(app, "nb", settings=True) is widget.bundle(app, "nb", settings=True)
        assert widget.bundle(app, "nb", settings=True) is not widget.bundle(app, "nb")


def test_a_material_notice_version_rebuilds_the_script(app, client, monkeypatch, publish):
    """REQ C-09: the script carries the valid notice versions, so a returning visitor's choice
    under an outdated one is not applied; a material version changes the script and its ETag."""
    first = client.get("/widget.js")
    assert settings_of(first.get_data(as_text=True))["valid_policy_versions"] == ["1"]
    publish(app, material=True, force=True)
    monkeypatch.setattr(widget, "VERSIONS_TTL", 0)
    again = client.get("/widget.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert settings_of(again.get_data(as_text=True))["valid_policy_versions"] == ["2"]
    assert again.headers["ETag"] != first.headers["ETag"]
    # The settings layer's file too (its config's versions go with a choice made there).
    module = served(client, "/widget-settings.js")
    assert config_of(module.get_data(as_text=True))["valid_policy_versions"] == ["2"]


def max_age(resp) -> int:
    """The max-age of an answer's Cache-Control."""
    return int(re.search(r"\bmax-age=(\d+)", resp.headers["Cache-Control"]).group(1))


def test_what_carries_the_notice_versions_is_kept_briefly(client):
    """REQ C-09, N-04: widget.js, the settings layer's file and /api/v1/config carry the valid
    notice versions, so a browser or cache keeps them no longer than FRESH_SECONDS and never
    serves them stale; with the server's look-up interval that is the README's bound (20 s, the
    issue's 30 s at most)."""
    for path in ("/widget.js?lang=nb", "/widget-settings.js?lang=nb", "/api/v1/config?lang=nb"):
        resp = client.get(path)
        assert "stale-while-revalidate" not in resp.headers["Cache-Control"], path
        assert max_age(resp) == banner.FRESH_SECONDS, path
    assert widget.VERSIONS_TTL + banner.FRESH_SECONDS == 20 <= 30


def test_a_publication_is_looked_up_within_versions_ttl(app, client, monkeypatch, publish):
    """REQ C-09, N-04: the server looks the valid versions up again at most VERSIONS_TTL
    seconds after it last did, whoever published (another process, the CLI)."""
    clock = [1000.0]
    monkeypatch.setattr(widget.time, "monotonic", lambda: clock[0])
    first = client.get("/widget.js")
    publish(app, material=True, force=True)
    clock[0] += widget.VERSIONS_TTL - 0.5
    assert client.get("/widget.js").headers["ETag"] == first.headers["ETag"]
    clock[0] += 0.5
    fresh = client.get("/widget.js")
    assert settings_of(fresh.get_data(as_text=True))["valid_policy_versions"] == ["2"]


# A static import or re-export of a module of widget/src (not the dynamic import of the settings
# layer, which is a URL the server answers, loaded at run time).
STATIC_IMPORT = re.compile(r"""^(?:import|export)\b[^'"`;]*?\bfrom\s*['"]\./([\w.-]+)['"]"""
                           r"""|^import\s*['"]\./([\w.-]+)['"]""", re.M)


def widget_imports() -> dict[str, set[str]]:
    """Each module of widget/src and the modules it imports."""
    return {name: {a or b for a, b in STATIC_IMPORT.findall(text)}
            for name, text in SOURCES.items() if name.endswith(".js")}


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A chain of imports that comes back to where it started, or None."""
    done = set()

    def walk(name, path):
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        for imported in sorted(graph[name]):
            if found := walk(imported, path + [name]):
                return found
        done.add(name)
        return None

    return next(filter(None, (walk(name, []) for name in sorted(graph))), None)


def test_the_widget_modules_import_no_cycle():
    """Issue 17: start.js wires the modules together and a lower module gets what it calls back
    as an argument, so no import chain comes back to where it started."""
    graph = widget_imports()
    assert {"blocking.js", "layers.js", "state.js"} <= graph["start.js"]  # the parser sees them
    for name, imported in graph.items():
        assert imported <= graph.keys(), f"{name} imports a file not in widget/src: {imported}"
    assert import_cycle(graph) is None, " -> ".join(import_cycle(graph))


def test_only_state_js_writes_the_state():
    """Issue 17: one module owns the banner's state; the others read it, or change it through
    state.js's functions (a direct write such as `state.choices = ...` fails here)."""
    write = re.compile(r"\bstate(\.\w+)+\s*=[^=]|Object\.assign\(\s*state\b|\bdelete\s+state\.")
    for name, text in SOURCES.items():
        if name.endswith(".js") and name != "state.js":
            assert not write.search(text), f"{name} writes the state: {write.search(text)[0]}"


def test_source_keeps_the_widget_rules():
    """REQ W-12, W-13: no eval or string code, no HTML parsing of text, one global (and the
    tags' own queues), and no Norwegian words of its own (texts come from the catalog)."""
    source = "\n".join(text for name, text in SOURCES.items() if name.endswith(".js"))
    for banned in ("eval(", "new Function", "innerHTML", "insertAdjacentHTML", "document.write",
                   "setTimeout('", 'setTimeout("'):
        assert banned not in source, banned
    # dataLayer and uetq are Google's and Microsoft's own queues, made only if the page has none.
    assert sorted(set(re.findall(r"\bwindow\.(\w+)\s*=[^=]", source))) == [
        "ConsentServer", "dataLayer", "uetq"]
    for word in ("Godta", "Avvis", "Innstillinger", "samtykke", "Accept all", "Reject all"):
        assert word not in source


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed to parse the bundle")
def test_the_served_scripts_are_valid_javascript(client, tmp_path):
    """The prefix and the built file together parse (node --check), as does the module."""
    path = tmp_path / "widget.js"
    path.write_bytes(served(client).data)
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    module = tmp_path / "settings.mjs"
    module.write_bytes(served(client, "/widget-settings.js?lang=nb").data)
    result = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_demo_page_embeds_the_banner_like_a_customer(client):
    """The demo: one async script tag, held-back scripts and iframe, a strict CSP."""
    resp = client.get("/demo?lang=en")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<script src="/widget.js" async></script>' in html
    assert html.count('type="text/plain" data-consent=') == 3
    assert 'iframe data-consent="marketing" data-src=' in html
    csp = resp.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert f'nonce="{nonce}"' in html
    assert client.get("/demo/analytics.js").mimetype == "application/javascript"
    assert client.get("/demo/embed").status_code == 200
    assert client.get("/demo/panel.js").status_code == 200


def test_demo_page_speaks_the_visitors_language(client):
    assert '<html lang="nb">' in client.get("/demo?lang=nb").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/demo?lang=en").get_data(as_text=True)
    nn = client.get("/demo?lang=nn").get_data(as_text=True)
    assert '<html lang="nn">' in nn and "Exentri Outdoor" in nn
    assert '<a href="/demo?lang=nb" hreflang="nb" lang="nb">Norsk bokmål</a>' in nn


def test_the_bokmal_words(client):
    """REQ W-13, C-02, C-03, C-08: a native reader's corrections, in Datatilsynet's words: the
    banner ends on where to change or withdraw, the GPC text says what is off and where to turn
    it on, necessary is not "always on" twice, location is approximate, the placeholder fits
    any held-back content, the settings heading names cookies."""
    config = client.get("/api/v1/config?lang=nb").json
    texts = config["texts"]
    assert texts["body"].endswith("Du kan når som helst endre valget ditt eller trekke tilbake "
                                  "samtykket under «Endre samtykke».")
    assert texts["gpc"].endswith("ikke ønsker markedsføring. Markedsføring er derfor slått av, "
                                 "med mindre du selv slår den på under «Innstillinger».")
    assert texts["accept_gpc"] == "Godta alle unntatt markedsføring"
    # Any held-back iframe (a video, a map, a post), whatever its purpose.
    assert texts["placeholder"] == "Dette innholdet vises først når du har gitt samtykke til det."
    assert texts["settings_title"] == "Innstillinger for informasjonskapsler"
    purposes = {p["key"]: p for p in config["purposes"]}
    assert "Alltid på" not in purposes["necessary"]["description"]
    analytics = purposes["analytics"]["description"]
    assert "omtrentlig plassering" in analytics and "lokasjon" not in analytics
    cookies = {c["name"]: c["description"] for p in config["purposes"] for c in p["cookies"]}
    assert cookies["consent"] == "Husker hvilke informasjonskapsler du har godtatt."
    notice = client.get("/privacy/nb").get_data(as_text=True)
    assert "Regnskap og andre lovpålagte plikter" in notice
    assert "plikter vi har etter loven" not in notice


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
def test_marketing_is_ads_by_named_third_parties(client, lang):
    """REQ C-02, C-03, C-08: device marketing is ads and measuring them, not messages (those are
    the newsletter's consent); the first layer names Google and Meta, and the description says
    how to withdraw."""
    config = client.get(f"/api/v1/config?lang={lang}").json
    marketing = next(p for p in config["purposes"] if p["key"] == "marketing")["description"]
    change = config["texts"]["change"]
    for text in (marketing, config["texts"]["body"]):
        assert "Google" in text and "Meta" in text and change in text
    for bundled in ("messages", "meldinger", "markedsføring til deg", "e-mail", "e-post"):
        assert bundled not in marketing
    first_layer = settings_of(served(client, f"/widget.js?lang={lang}").get_data(as_text=True))
    assert "Google" in first_layer["texts"]["body"] and "Meta" in first_layer["texts"]["body"]


def site_file(tmp_path, addition: str) -> str:
    """The default site file with some TOML added after the controller."""
    source = (widget.resource("widget").parent / "consent_server" / "consent" / "site.toml")
    path = tmp_path / "site.toml"
    path.write_text(source.read_text(encoding="utf-8").replace(
        'controller = "Exentri AS"\n', 'controller = "Exentri AS"\n' + addition), encoding="utf-8")
    return str(path)


def test_the_privacy_link_can_be_the_sites_own_per_language(app_factory, tmp_path, publish):
    """REQ N-05, C-03: the site file may name the site's own notice per language; the banner
    links to it (in widget.js and the config), else to this server's /privacy/<lang>."""
    path = site_file(tmp_path, '[privacy]\nurl = { nb = "https://www.exentri.no/personvern", '
                               'en = "https://www.exentri.no/en/privacy" }\n')
    app = app_factory(SITE_FILE=path)
    publish(app)
    client = app.test_client()
    for lang, expected in (("nb", "https://www.exentri.no/personvern"),
                           ("en", "https://www.exentri.no/en/privacy")):
        assert client.get(f"/api/v1/config?lang={lang}").json["privacy_url"] == expected
        js = served(client, f"/widget.js?lang={lang}").get_data(as_text=True)
        assert settings_of(js)["privacy_url"] == expected


@pytest.mark.parametrize("addition, message", [
    ('[privacy]\nurl = { nb = "https://x.no/p" }\n', "privacy.url must give a text for each"),
    ('[privacy]\nurl = { nb = "javascript:alert(1)", en = "https://x.no/p" }\n',
     "privacy.url.nb must be a web address"),
    ('privacy = "https://x.no/p"\n', "privacy.url must give a text for each"),
])
def test_a_bad_privacy_url_is_named(tmp_path, addition, message):
    from consent_server.consent.site import SiteFileError, load

    with pytest.raises(SiteFileError, match=message):
        load(site_file(tmp_path, addition))


def test_the_server_sets_the_cookie_on_the_shared_domain(app_factory, choice, publish):
    """REQ W-06: with CONSENT_COOKIE_DOMAIN, a choice sent by an allowed site under that domain
    gets the consent cookie from the server (a credentialed CORS answer), the value the banner
    writes, on the parent domain: one cookie for every subdomain."""
    app = app_factory(COOKIE_DOMAIN=".Example.no",
                      ALLOWED_ORIGINS="https://www.example.no,https://shop.example")
    publish(app)
    client = app.test_client()
    assert client.get("/api/v1/config").json["cookie"]["domain"] == "example.no"
    resp = client.post("/api/v1/consents", json=choice,
                       headers={"Origin": "https://www.example.no"})
    assert resp.status_code == 201
    assert resp.headers["Access-Control-Allow-Origin"] == "https://www.example.no"
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    [cookie] = resp.headers.getlist("Set-Cookie")
    name_value, *attributes = cookie.split("; ")
    assert {"Domain=example.no", "Path=/", "SameSite=Lax", "Secure",
            f"Max-Age={365 * 86400}"} <= set(attributes)
    assert "HttpOnly" not in attributes  # the banner reads it
    name, value = name_value.split("=", 1)
    stored = json.loads(urllib.parse.unquote(value))
    assert name == "consent" and stored["id"] == resp.json["consent_id"]
    assert stored["choices"] == {"necessary": True, "analytics": True, "marketing": False}
    assert stored["version"] == "1" and stored["gpc"] is False and stored["domain"] == "example.no"
    assert isinstance(stored["time"], int)


@pytest.mark.parametrize("settings, origin", [
    ({"COOKIE_DOMAIN": "example.no"}, "https://shop.example"),  # allowed, another domain
    ({"COOKIE_DOMAIN": "example.no"}, None),  # not from a browser page
    ({}, "https://www.example.no"),  # no CONSENT_COOKIE_DOMAIN
    ({"COOKIE_DOMAIN": "example.no"}, "https://www.notexample.no"),
])
def test_no_server_cookie_for_other_sites(app_factory, settings, origin, choice, publish):
    """The server sets the cookie for allowed sites under the domain only; everything else
    keeps the banner's own cookie (and a page of a site not allowed is refused anyway)."""
    app = app_factory(ALLOWED_ORIGINS="https://www.example.no,https://shop.example,"
                                      "https://www.notexample.no", **settings)
    publish(app)
    headers = {"Origin": origin} if origin else {}
    resp = app.test_client().post("/api/v1/consents", json=choice, headers=headers)
    assert resp.status_code == 201
    assert "Set-Cookie" not in resp.headers
    assert "Access-Control-Allow-Credentials" not in resp.headers


def test_no_answer_outside_the_console_depends_on_a_cookie(client):
    """The console's session cookie is not read or set for the banner, the API or the notice:
    shared caches may keep them (no Vary: Cookie, no Set-Cookie)."""
    for path in ("/widget.js", "/api/v1/config?lang=nb", "/privacy/nb", "/healthz"):
        resp = client.get(path, headers={"Cookie": "console_session=forged"})
        assert "Cookie" not in resp.headers.get("Vary", ""), path
        assert "Set-Cookie" not in resp.headers, path
