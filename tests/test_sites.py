"""Several sites of one controller: the site file's [[sites]] or a folder of site files, the
site of a request (named, or its page's origin), the site of every event, per-site notices,
versions, exports and statistics."""
import json
import re

import pytest

from consent_server.consent import notices, sites
from consent_server.consent.site import SiteFileError
from consent_server.extensions import db

SHOP, BLOG = "https://shop.example", "https://blog.example"
BANNER = {"choices": {"analytics": True, "marketing": False}, "language": "en"}


def settings_of(script: bytes, name: str = "CONSENT_SETTINGS") -> dict:
    """The CONSENT_SETTINGS widget.js carries before the banner (or the CONSENT_CONFIG of the
    settings layer's file)."""
    text, declared = script.decode(), f"const {name}="
    return json.JSONDecoder().raw_decode(text, text.index(declared) + len(declared))[0]


# ---- the site file ------------------------------------------------------------------------

def test_a_file_without_sites_is_the_one_default_site_as_before(app, client):
    """REQ N-09: today's single site file keeps working unchanged: one site, the default, for
    the pages of CONSENT_ALLOWED_ORIGINS."""
    served = app.extensions["consent_sites"]
    assert served.ids() == ["default"] and served.default is app.extensions["consent_site"]
    assert served.default.origins == (SHOP, "https://www.shop.example")
    body = client.get("/api/v1/config?lang=en", headers={"Origin": SHOP}).json
    assert body["site"] == "default" and body["texts"]["body"].startswith("Exentri AS uses")


def test_sites_share_the_top_level_and_replace_what_they_declare(two_sites_file):
    """REQ N-09: each [[sites]] entry has its id, name and origins; what it declares replaces
    the top level's, the rest (controller, providers) is shared."""
    served = sites.load(two_sites_file(), ["https://www.shop.example/"])
    shop, blog = served.by_id["default"], served.by_id["blog"]
    assert served.default is shop and [s.id for s in served] == ["default", "blog"]
    assert shop.origins == (SHOP, "https://www.shop.example") and blog.origins == (BLOG,)
    assert blog.controller == shop.controller == "Eksempel AS"
    assert blog.providers == shop.providers
    assert [c.name for c in blog.cookies] == ["consent", "_blog_stats"]
    assert [c.name for c in shop.cookies] == ["consent", "_ga"]
    assert blog.privacy_url("nb") == "https://blog.example/personvern"
    assert shop.privacy_url("nb") is None
    assert blog.shown_name == "Eksempelbloggen (Eksempel AS)"
    assert served.by_origin("https://BLOG.example/") is blog and served.by_origin(None) is None


def test_a_folder_holds_one_site_file_per_site(tmp_path):
    """REQ N-09: a folder of site files, one site each, its id the file's name."""
    folder = tmp_path / "sites"
    folder.mkdir()
    one = 'controller = "Eksempel AS"\nname = "{}"\norigins = ["{}"]\n'
    (folder / "default.toml").write_text(one.format("Butikken", SHOP), encoding="utf-8")
    (folder / "blog.toml").write_text(one.format("Bloggen", BLOG), encoding="utf-8")
    served = sites.load(folder)
    assert sorted(served.ids()) == ["blog", "default"] and served.default.name == "Butikken"
    assert served.by_origin(BLOG).name == "Bloggen"
    (folder / "other.toml").write_text('controller = "Annen AS"\n', encoding="utf-8")
    with pytest.raises(SiteFileError, match="the same controller"):
        sites.load(folder)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace('id = "blog"', 'id = "default"'), "two sites have the id 'default'"),
    (lambda t: t.replace('id = "blog"', 'id = "Blog!"'), r"sites\[1\]: id must be"),
    (lambda t: t.replace('id = "blog"\n', ""), r"sites\[1\].id must name the site"),
    (lambda t: t.replace(f'origins = ["{BLOG}"]', f'origins = ["{SHOP}"]'), "in two sites"),
    (lambda t: t.replace(f'origins = ["{BLOG}"]', f'origins = ["{BLOG}/news"]'),
     r"sites\[1\]: origins must list"),
    (lambda t: t.replace('name = "Eksempelbloggen"', 'name = ""'), r"sites\[1\]: name must"),
    (lambda t: t.replace('name = "Eksempelbloggen"', 'controller = "Annen AS"'),
     "one controller for every site"),
    (lambda t: t.replace('name = "_blog_stats"', 'name = ""'),
     r"sites\[1\]: cookies\[1\].name"),
    (lambda t: "sites = []\n" + t.split("[[sites]]")[0], r"\[\[sites\]\] must be a list"),
])
def test_a_bad_site_file_stops_the_start_naming_the_problem(two_sites_file, app_factory, change,
                                                            message):
    """REQ N-09: a wrong [[sites]] entry stops the server at its start, in one clear line."""
    path = two_sites_file()
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(SiteFileError, match=message) as error:
        app_factory(SITE_FILE=str(path))
    assert str(error.value).startswith(str(path))


# ---- which site a request is for ----------------------------------------------------------

def test_the_config_is_the_site_of_the_pages_origin_or_the_one_named(two_sites):
    """REQ N-09: /api/v1/config by the page's Origin (CORS per site), else ?site=; each
    site's name, cookie declaration and privacy URL; an unknown site is a 422."""
    app, versions = two_sites
    client = app.test_client()
    blog = client.get("/api/v1/config?lang=en", headers={"Origin": BLOG})
    assert blog.headers["Access-Control-Allow-Origin"] == BLOG
    assert blog.json["site"] == "blog" and blog.json["policy_version"] == versions["blog"]
    assert blog.json["texts"]["body"].startswith("Eksempelbloggen (Eksempel AS) uses cookies")
    analytics = {p["key"]: p["cookies"] for p in blog.json["purposes"]}["analytics"]
    assert [c["name"] for c in analytics] == ["_blog_stats"]
    assert blog.json["privacy_url"] == "https://blog.example/privacy"
    shop = client.get("/api/v1/config?lang=en", headers={"Origin": SHOP}).json
    assert shop["site"] == "default" and shop["policy_version"] == versions["default"]
    assert shop["texts"]["body"].startswith("Eksempel nettbutikk (Eksempel AS) uses")
    assert shop["privacy_url"].endswith("/privacy/en")
    named = client.get("/api/v1/config?lang=en&site=blog").json
    assert named["site"] == "blog"
    referred = client.get("/api/v1/config", headers={"Referer": BLOG + "/post/1"}).json
    assert referred["site"] == "blog"
    unknown = client.get("/api/v1/config?site=nowhere")
    assert unknown.status_code == 422 and unknown.content_type == "application/problem+json"
    assert "blog" in unknown.json["errors"]["site"][0]


def test_widget_js_is_the_site_of_its_tag_or_of_the_embedding_page(two_sites):
    """REQ N-09: widget.js for ?site= on its tag, else the embedding page's origin (Referer:
    a script request has no Origin), else the default site; a shared cache keeps them apart."""
    app, versions = two_sites
    client = app.test_client()
    by_page = client.get("/widget.js?lang=en", headers={"Referer": BLOG + "/"})
    settings = settings_of(by_page.data)
    assert settings["origins"] == [BLOG]
    assert settings["policy_version"] == versions["blog"]
    assert settings["texts"]["body"].startswith("Eksempelbloggen (Eksempel AS)")
    assert "Referer" in by_page.headers["Vary"]
    by_tag = client.get("/widget.js?lang=en&site=default", headers={"Referer": BLOG + "/"})
    assert settings_of(by_tag.data)["origins"][0] == SHOP
    assert "Referer" not in by_tag.headers["Vary"]
    assert by_tag.headers["ETag"] != by_page.headers["ETag"]
    assert settings_of(client.get("/widget.js?lang=en").data)["origins"][0] == SHOP
    assert client.get("/widget.js?site=nowhere").status_code == 422


def test_the_settings_layer_is_of_the_site_of_the_page_that_imports_it(two_sites):
    """REQ N-09: /widget-settings.js, which the banner imports as a module (with CORS, so with
    the page's Origin), carries the full config of the page's site; a shared cache keeps the
    sites apart."""
    app, versions = two_sites
    client = app.test_client()
    blog = client.get("/widget-settings.js?lang=en", headers={"Origin": BLOG})
    config = settings_of(blog.data, "CONSENT_CONFIG")
    assert config["site"] == "blog" and config["policy_version"] == versions["blog"]
    assert config["texts"]["body"].startswith("Eksempelbloggen (Eksempel AS)")
    assert "Origin" in blog.headers["Vary"]
    shop = client.get("/widget-settings.js?lang=en", headers={"Origin": SHOP})
    assert settings_of(shop.data, "CONSENT_CONFIG")["site"] == "default"
    assert shop.headers["ETag"] != blog.headers["ETag"]


# ---- the site of every event --------------------------------------------------------------

def test_each_consent_records_the_site_of_its_page(two_sites, events_of_site):
    """REQ C-07: an event records its site (hashed, ledger v3): the one the page's origin
    belongs to, or the one the body names when the page is one of its origins."""
    app, versions = two_sites
    client = app.test_client()
    blog = client.post("/api/v1/consents", headers={"Origin": BLOG},
                       json={**BANNER, "policy_version": versions["blog"]})
    assert blog.status_code == 201 and blog.json["site"] == "blog"
    shop = client.post("/api/v1/consents", headers={"Origin": SHOP},
                       json={**BANNER, "policy_version": versions["default"], "site": "default"})
    assert shop.status_code == 201 and shop.json["site"] == "default"
    [event] = events_of_site(app, "blog")
    assert event.subject == blog.json["consent_id"] and event.v == 3
    events = client.get(f"/api/v1/consents/{blog.json['consent_id']}/events").json["events"]
    assert [e["site"] for e in events] == ["blog"]
    assert client.get("/api/v1/audit/verify").status_code == 401  # (an auditor's, below)


@pytest.mark.parametrize("origin, body, status, field", [
    (BLOG, {"site": "default"}, 403, None),  # a blog page cannot write for the shop
    (BLOG, {"site": "nowhere"}, 422, "site"),
    (BLOG, {"policy_version": "shop"}, 422, "policy_version"),  # the shop's version, below
    ("https://evil.example", {}, 403, None),
])
def test_a_consent_for_another_site_or_version_is_refused(two_sites, origin, body, status,
                                                          field):
    """REQ S-02: a page writes only for its own site, under that site's notice versions."""
    app, versions = two_sites
    if body.get("policy_version") == "shop":
        body = {"policy_version": versions["default"]}
    response = app.test_client().post("/api/v1/consents", headers={"Origin": origin},
                                      json={**BANNER, "policy_version": versions["blog"], **body})
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    if field:
        assert field in response.json["errors"]


def test_the_servers_own_pages_may_name_any_site(two_sites):
    """REQ N-09: the server's own pages (its public URL) name the site they record for."""
    app, versions = two_sites
    response = app.test_client().post(
        "/api/v1/consents", headers={"Origin": app.config["PUBLIC_URL"].rstrip("/")},
        json={**BANNER, "policy_version": versions["blog"], "site": "blog"})
    assert response.status_code == 201 and response.json["site"] == "blog"


# ---- per-site notices, versions, exports and statistics ------------------------------------

def test_a_material_change_of_one_site_outdates_only_its_consents(two_sites, app_factory,
                                                                  two_sites_file, publish_sites):
    """REQ N-04: a material change to the blog's cookie declaration asks again those who chose
    on the blog, and nobody who chose on the shop."""
    app, versions = two_sites
    client = app.test_client()
    ids = {}
    for site, origin in (("blog", BLOG), ("default", SHOP)):
        ids[site] = client.post("/api/v1/consents", headers={"Origin": origin}, json={
            **BANNER, "policy_version": versions[site]}).json["consent_id"]
    changed = app_factory(SITE_FILE=str(two_sites_file(blog_cookie="_new_tracker",
                                                       name="changed.toml")))
    after = publish_sites(changed, material=True, only="blog")
    assert after["default"] == versions["default"] and after["blog"] != versions["blog"]
    changed_client = changed.test_client()
    assert changed_client.get(f"/api/v1/consents/{ids['blog']}").json["outdated"] is True
    assert changed_client.get(f"/api/v1/consents/{ids['default']}").json["outdated"] is False
    blog = changed_client.get("/api/v1/config?site=blog").json
    assert blog["valid_policy_versions"] == [after["blog"]]
    shop = changed_client.get("/api/v1/config?site=default").json
    assert versions["default"] in shop["valid_policy_versions"]
    assert after["blog"] not in shop["valid_policy_versions"]


def test_the_notice_page_is_the_sites(two_sites):
    """REQ N-09: /privacy?site= renders that site's notice (name, cookie declaration); an
    unknown site is a 404."""
    client = two_sites[0].test_client()
    blog = client.get("/privacy/en?site=blog").get_data(as_text=True)
    assert "Eksempelbloggen" in blog and "_blog_stats" in blog and "_ga<" not in blog
    assert 'href="/privacy/nb?site=blog"' in blog
    shop = client.get("/privacy/en").get_data(as_text=True)
    assert "_ga" in shop and "_blog_stats" not in shop
    assert client.get("/privacy/en?site=nowhere").status_code == 404
    policy = client.get("/api/v1/policy?lang=en&site=blog").json
    assert "_blog_stats" in policy["text"]


def test_exports_and_statistics_filter_by_site(two_sites, auditor_key):
    """REQ L-03: the auditor's export and statistics of one site only (?site=)."""
    app, versions = two_sites
    client = app.test_client()
    for site, origin, n in (("blog", BLOG, 2), ("default", SHOP, 3)):
        for _ in range(n):
            client.post("/api/v1/consents", headers={"Origin": origin},
                        json={**BANNER, "policy_version": versions[site]})
    lines = client.get("/api/v1/audit/events?site=blog&format=ndjson",
                       headers=auditor_key).get_data(as_text=True).splitlines()
    assert len(lines) == 2 and {json.loads(line)["site"] for line in lines} == {"blog"}
    every = client.get("/api/v1/audit/events?format=ndjson", headers=auditor_key)
    assert len(every.get_data(as_text=True).splitlines()) == 5
    stats = client.get("/api/v1/audit/stats?site=blog", headers=auditor_key).json
    assert stats["site"] == "blog" and sum(d["choices"] for d in stats["days"]) == 2
    assert client.get("/api/v1/audit/stats?site=nowhere", headers=auditor_key).status_code == 422
    assert client.get("/api/v1/audit/verify", headers=auditor_key).json["ok"] is True


def test_publish_policy_publishes_each_site_or_the_one_named(two_sites):
    """REQ N-02: each site's notice has its own versions; --site names one."""
    app, _ = two_sites
    runner = app.test_cli_runner()
    unchanged = runner.invoke(args=["consent", "publish-policy"])
    assert unchanged.exit_code == 0 and "of site blog is unchanged" in unchanged.output
    forced = runner.invoke(args=["consent", "publish-policy", "--site", "blog", "--force"])
    assert forced.exit_code == 0 and "of site blog (non-material)" in forced.output
    assert "default" not in forced.output
    wrong = runner.invoke(args=["consent", "publish-policy", "--site", "nowhere"])
    assert wrong.exit_code != 0 and "--site: Must be one of: default, blog" in wrong.output


def test_a_sign_up_on_a_site_records_it_and_the_audience_filters_by_site(
        two_sites, app_factory, two_sites_file, api_key, sign_up, audience, events_of_site):
    """REQ M-06: a person who signs up on the blog (under the blog's notice) is recorded for
    the blog; the audience of one site lists only its people."""
    app, versions = two_sites
    direct = app_factory(SITE_FILE=str(two_sites_file(name="direct.toml")), DOUBLE_OPT_IN=False)
    client = direct.test_client()
    blog = sign_up(client, "kari@example.no", policy_version=versions["blog"])
    shop = sign_up(client, "ola@example.no", policy_version=versions["default"])
    assert blog.status_code == shop.status_code == 201
    assert [e.subject_type for e in events_of_site(app, "blog")] == ["person"]
    headers = api_key()
    by_site = {site: [row["email"] for row in audience(client, headers, site=site)]
               for site in ("blog", "default")}
    assert by_site == {"blog": ["kari@example.no"], "default": ["ola@example.no"]}
    assert len(audience(client, headers)) == 2
    wrong = client.get("/api/v1/marketing/audience?purpose=newsletter&site=nowhere",
                       headers=headers)
    assert wrong.status_code == 422


def test_the_console_filters_export_charts_and_audience_by_site(two_sites, signed_in,
                                                               csrf_token):
    """REQ L-03: with several sites, the console's export, charts and audience have a site
    selector, and the export it gives is that site's."""
    app, versions = two_sites
    client = app.test_client()
    for site, origin in (("blog", BLOG), ("default", SHOP), ("default", SHOP)):
        client.post("/api/v1/consents", headers={"Origin": origin},
                    json={**BANNER, "policy_version": versions[site]})
    auditor = signed_in(app, "revisor@example.no", "admin")
    for page in ("/console/audit/export", "/console/audit/charts",
                 "/console/marketing/audience"):
        html = auditor.get(page).get_data(as_text=True)
        assert '<select id="site" name="site"' in html and "Eksempelbloggen" in html, page
    token = csrf_token(auditor, "/console/audit/export")
    exported = auditor.post("/console/audit/export", data={
        "csrf_token": token, "format": "ndjson", "site": "blog", "purpose": "",
        "action": ""})
    lines = exported.get_data(as_text=True).splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["site"] == "blog"
    charts = auditor.get("/console/audit/charts?site=default").get_data(as_text=True)
    assert '<option selected value="default">' in charts
    versions_page = auditor.get("/console/admin/notices").get_data(as_text=True)
    assert f"<td>{versions['blog']}</td>" in versions_page and "<td>blog</td>" in versions_page


def test_one_site_shows_no_site_selector(app, signed_in):
    """REQ N-09: a deployment of one site looks as before: no site selector."""
    auditor = signed_in(app, "revisor@example.no", "admin")
    assert 'name="site"' not in auditor.get("/console/audit/export").get_data(as_text=True)


def test_the_cli_export_takes_a_site(two_sites, tmp_path):
    """REQ L-03: `flask consent export --site ID` writes that site's events only."""
    app, versions = two_sites
    client = app.test_client()
    for site, origin in (("blog", BLOG), ("default", SHOP)):
        client.post("/api/v1/consents", headers={"Origin": origin},
                    json={**BANNER, "policy_version": versions[site]})
    out = tmp_path / "blog.ndjson"
    done = app.test_cli_runner().invoke(args=["consent", "export", "--site", "blog",
                                              "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert [json.loads(line)["site"] for line in out.read_text().splitlines()] == ["blog"]
    wrong = app.test_cli_runner().invoke(args=["consent", "export", "--site", "nowhere",
                                               "--out", str(out)])
    assert wrong.exit_code != 0 and "Must be one of: default, blog" in wrong.output


def test_the_console_publishes_the_chosen_sites_notice(two_sites, signed_in, csrf_token,
                                                       access_log):
    """REQ N-09: with several sites the notices page has a site selector; it shows and
    publishes that site's notice only (the other site's latest version is unchanged); an
    unknown site is refused."""
    app, versions = two_sites
    admin = signed_in(app, "admin@example.no", "admin")
    page = admin.get("/console/admin/notices?site=blog").get_data(as_text=True)
    assert '<select id="site" name="site"' in page
    assert '<option value="blog" selected>' in page
    assert 'name="site" type="hidden" value="blog"' in page
    expected = re.search(r'name="expected" type="hidden" value="(\w+)"', page).group(1)
    token = csrf_token(admin, "/console/admin/notices?site=blog")
    done = admin.post("/console/admin/notices", data={
        "csrf_token": token, "expected": expected, "site": "blog", "material": "y"})
    assert done.status_code == 302 and done.location.endswith("/console/admin/notices?site=blog")
    with app.app_context():
        blog, shop = (notices.current(db.session, s) for s in ("blog", "default"))
        assert blog.version != versions["blog"] and blog.material and blog.site == "blog"
        assert shop.version == versions["default"]
    assert access_log(app, "notice_published")[-1][0].endswith(", site blog")
    # The shop's page holds the shop's text: its digest does not publish the blog's.
    shop_page = admin.get("/console/admin/notices").get_data(as_text=True)
    assert 'name="site" type="hidden" value="default"' in shop_page
    assert admin.get("/console/admin/notices?site=nowhere").status_code == 422


def test_a_pasted_sign_up_form_on_a_site_signs_up_under_that_sites_notice(
        two_sites, app_factory, two_sites_file, events_of_site):
    """REQ N-09: the sign-up form pasted on the blog (no version in it) signs the person up
    under the blog's current notice, so the grant is recorded for the blog; a form naming the
    blog posted from the shop's page is refused."""
    app, versions = two_sites
    direct = app_factory(SITE_FILE=str(two_sites_file(name="direct.toml")), DOUBLE_OPT_IN=False)
    client = direct.test_client()
    form = {"email": "kari@example.no", "purpose": "newsletter", "language": "nb"}
    done = client.post("/subscriptions/signup", data=form, headers={"Origin": BLOG})
    assert done.status_code == 201, done.get_data(as_text=True)
    granted = events_of_site(app, "blog")
    assert [(e.subject_type, e.policy_version) for e in granted] == [("person", versions["blog"])]
    assert events_of_site(app, "default") == []
    wrong = client.post("/subscriptions/signup", data={**form, "site": "blog"},
                        headers={"Origin": SHOP})
    assert wrong.status_code == 403
