"""The banner on phones and at 200 % zoom (issue 21), measured box by box in Chromium: the first
layer's words, privacy link and buttons, the buttons' rows, the floating button, the settings
layer's buttons, and the first layer on the notice's own page."""
import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover (the tests here skip, see fixtures_browser)
    expect = None

# 320×640 and 360×740 phones, and a 1280×800 desktop at 200 % zoom (its CSS pixels halved).
SCREENS = {"320x640": {"viewport": {"width": 320, "height": 640}, "device_scale_factor": 2,
                       "is_mobile": True, "has_touch": True},
           "360x740": {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
                       "is_mobile": True, "has_touch": True},
           "1280x800@200%": {"viewport": {"width": 640, "height": 400},
                             "device_scale_factor": 2}}
WORDS = {"nb": ("Godta alle", "Avvis alle", "Innstillinger", "Personvernerklæring"),
         "en": ("Accept all", "Reject all", "Settings", "Privacy notice")}
GPC = "Object.defineProperty(Navigator.prototype,'globalPrivacyControl',{get:()=>true})"

# Where each of the first layer's parts is, in CSS pixels of the viewport, and whether the
# words are whole in view or scroll under a cue.
MEASURE = """() => {
  const box = (node) => { const r = node.getBoundingClientRect();
    return {x: r.x, y: r.y, w: r.width, h: r.height, bottom: r.bottom, right: r.right}; };
  const banner = document.querySelector('.csw-b');
  const words = banner.querySelector('.csw-x') || document.createElement('div');
  const style = getComputedStyle(words.isConnected ? words : banner);
  const hit = (node) => { const r = node.getBoundingClientRect();
    return node.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); };
  const buttons = [...banner.querySelectorAll('.csw-row > button')];
  const lines = (node) => { const s = getComputedStyle(node); return Math.round((node.clientHeight -
    parseFloat(s.paddingTop) - parseFloat(s.paddingBottom)) / parseFloat(s.lineHeight)); };
  // What each label needs on one line (the row's buttons are laid out again, unconstrained).
  const natural = buttons.map((b) => { const c = b.cloneNode(true);
    c.style.cssText = 'position:absolute;visibility:hidden;width:max-content;flex:none';
    b.parentNode.append(c); const w = c.getBoundingClientRect().width; c.remove(); return w; });
  const row = banner.querySelector('.csw-row');
  return {
    viewport: {w: innerWidth, h: innerHeight},
    banner: box(banner), row: box(row), gap: parseFloat(getComputedStyle(row).columnGap),
    words: {...box(words), shown: words.isConnected, scrollHeight: words.scrollHeight,
            clientHeight: words.clientHeight,
            lineHeight: parseFloat(style.lineHeight), background: style.backgroundImage},
    links: [...banner.querySelectorAll('a')].map((a) => ({...box(a), href: a.href, hit: hit(a)})),
    buttons: buttons.map((b) => ({...box(b), hit: hit(b), text: b.textContent,
                                  lines: lines(b)})),
    natural,
    pageWidth: document.documentElement.scrollWidth,
  };
}"""


@pytest.fixture
def app_settings(live_settings):
    """The app that live_server serves."""
    return live_settings


def open_page(browser, screen, url, lang, gpc=False):
    ctx = browser.new_context(locale="nb-NO" if lang == "nb" else "en-GB", **SCREENS[screen])
    if gpc:
        ctx.add_init_script(GPC)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector(".csw-b")
    return ctx, page


def inside(inner, outer):
    return (inner["x"] >= outer["x"] - 0.5 and inner["right"] <= outer["right"] + 0.5 and
            inner["y"] >= outer["y"] - 0.5 and inner["bottom"] <= outer["bottom"] + 0.5)


def check_first_layer(m, words_needed=True):
    """The measured first layer (MEASURE) on one screen."""
    view = {"x": 0, "y": 0, "right": m["viewport"]["w"], "bottom": m["viewport"]["h"]}
    assert m["pageWidth"] <= m["viewport"]["w"]
    assert inside(m["banner"], view), m["banner"]
    words = m["words"]
    if words["scrollHeight"] > words["clientHeight"] + 1:  # cut: a cue, and two lines at least
        assert "linear-gradient" in words["background"], words
        assert words["clientHeight"] >= 2 * words["lineHeight"] - 1, words
    elif words_needed:
        assert words["h"] >= words["lineHeight"]
    # All three buttons in view and on top (nothing over them), equal in size.
    assert len(m["buttons"]) == 3
    for button in m["buttons"]:
        assert inside(button, view) and button["hit"], button
        assert button["w"] >= 24 and button["h"] >= 24
    sizes = {(round(b["w"]), round(b["h"])) for b in m["buttons"]}
    assert len(sizes) == 1, m["buttons"]
    # One row where the labels fit on one line each, else one column: never two and one.
    tops = {round(b["y"]) for b in m["buttons"]}
    needed = 3 * max(m["natural"]) + 2 * m["gap"]
    if len(tops) == 1:
        assert all(b["lines"] == 1 for b in m["buttons"]), m["buttons"]
    else:
        assert len(tops) == 3 and {round(b["x"]) for b in m["buttons"]} == {round(m["row"]["x"])}
        assert round(m["buttons"][0]["w"]) == round(m["row"]["w"])
        # A row would not have fitted with a tenth to spare (the banner reckons a label's
        # width from its length, 1ch a character, without a layout of its own: dom.js).
        assert needed > 0.9 * m["row"]["w"], (needed, m["row"])
    return len(tops) == 1


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("lang, gpc", [("nb", False), ("en", False), ("nb", True)])
def test_the_first_layer_fits_phones_and_zoom(browser, live_server, config, screen, lang, gpc):
    """REQ A-06, W-01, N-05: on 320×640 and 360×740 phones and at 200 % zoom the first layer's
    words are whole or scroll under a visible cue, and its privacy link and three equal buttons
    are in view without scrolling the page; the buttons share a row when every label fits on
    one line, else they stand in one column."""
    ctx, page = open_page(browser, screen, f"{config['PUBLIC_URL']}/demo?lang={lang}", lang, gpc)
    try:
        m = page.evaluate(MEASURE)
        in_a_row = check_first_layer(m)
        [link] = m["links"]
        assert link["href"].endswith(f"/privacy/{lang}") and link["hit"], link
        assert inside(link, {"x": 0, "y": 0, "right": m["viewport"]["w"],
                             "bottom": m["viewport"]["h"]})
        assert [b["text"] for b in m["buttons"]][1:] == list(WORDS[lang][1:3])
        if screen == "1280x800@200%" and not gpc:
            assert in_a_row  # short labels share one row on a wide screen
        if screen == "320x640":
            assert not in_a_row
    finally:
        ctx.close()


def text_box(page, selector):
    """The box of an element's words (a Range), not of its block: what a reader must see."""
    return page.evaluate("""(s) => { const r = document.createRange();
        r.selectNodeContents(document.querySelector(s)); const b = r.getBoundingClientRect();
        return {x: b.x, y: b.y, right: b.right, bottom: b.bottom}; }""", selector)


def overlap(a, b):
    return not (a["right"] <= b["x"] or b["right"] <= a["x"] or
                a["bottom"] <= b["y"] or b["bottom"] <= a["y"])


def fab_box(page):
    return page.evaluate("""() => { const r = document.querySelector('.csw-fab')
        .getBoundingClientRect(); return {x: r.x, y: r.y, right: r.right, bottom: r.bottom,
        w: r.width, h: r.height}; }""")


@pytest.mark.parametrize("screen", SCREENS)
def test_the_floating_button_leaves_the_headings_readable(browser, live_server, config, screen):
    """REQ C-08, A-06: after a choice the floating button does not cover the page's first
    heading; with data-button="small" (the site's choice) it is smaller, in the right corner,
    and covers no product heading's words wherever the page is scrolled to put one level with
    it; it stays a target of at least 24×24 px."""
    base = f"{config['PUBLIC_URL']}/demo?lang=nb"
    sizes = {}
    for look in ("", "small"):
        ctx, page = open_page(browser, screen, base + (f"&button={look}" if look else ""), "nb")
        try:
            page.get_by_role("button", name="Avvis alle", exact=True).click()
            expect(page.locator(".csw-fab")).to_be_visible()
            fab = sizes[look] = fab_box(page)
            assert fab["w"] >= 24 and fab["h"] >= 24
            assert not overlap(fab, text_box(page, "main h1")), fab
            if look != "small":
                continue
            assert fab["right"] >= page.viewport_size["width"] - 16  # in the right corner
            for index in range(page.locator("main h2").count()):
                selector = f"main li:nth-child({index + 1}) h2" if index < 3 else "#video-title"
                page.evaluate("""([s, y]) => { const h = document.querySelector(s);
                    scrollBy(0, h.getBoundingClientRect().top - y); }""", [selector, fab["y"]])
                assert not overlap(fab_box(page), text_box(page, selector)), selector
        finally:
            ctx.close()
    assert sizes["small"]["w"] * sizes["small"]["h"] < sizes[""]["w"] * sizes[""]["h"]


@pytest.mark.parametrize("screen", SCREENS)
def test_the_settings_buttons_are_equally_high(browser, live_server, config, screen):
    """REQ W-01, A-06: the settings layer's four buttons are equal in height and width (one
    row where every label fits on one line, else one column), whole on screen in its dialog."""
    ctx, page = open_page(browser, screen, f"{config['PUBLIC_URL']}/demo?lang=nb", "nb")
    try:
        page.locator(".csw-b").get_by_role("button", name="Innstillinger", exact=True).click()
        dialog = page.locator("dialog.csw-d")
        expect(dialog).to_be_visible()
        buttons = dialog.locator(".csw-row > button")
        assert buttons.count() == 4
        boxes = [buttons.nth(i).bounding_box() for i in range(4)]
        assert len({(round(b["width"]), round(b["height"])) for b in boxes}) == 1, boxes
        tops = {round(b["y"]) for b in boxes}
        assert len(tops) in (1, 4), boxes  # a row, or a column: never 2 + 2 or 3 + 1
        heights = buttons.evaluate_all("""(bs) => bs.map((b) => { const s = getComputedStyle(b);
            return Math.round((b.clientHeight - parseFloat(s.paddingTop) -
                               parseFloat(s.paddingBottom)) / parseFloat(s.lineHeight)); })""")
        if len(tops) == 1:
            assert heights == [1, 1, 1, 1]  # no label wraps in a row
        assert page.get_by_role("button", name="Lagre innstillinger").is_visible()
    finally:
        ctx.close()


@pytest.mark.parametrize("lang", ["nb", "nn", "en"])
@pytest.mark.parametrize("screen", ["320x640", "360x740"])
def test_on_the_notice_page_the_first_layer_is_compact(browser, live_server, config, lang,
                                                       screen):
    """REQ N-05, A-06, A-08: on the notice's own page the first layer does not link to that
    page nor repeat what the page says (its title and three buttons are enough), and is lower
    than on any other page, its buttons in view."""
    heights = {}
    for path in (f"/demo?lang={lang}", f"/privacy/{lang}"):
        ctx, page = open_page(browser, screen, config["PUBLIC_URL"] + path, lang)
        try:
            m = page.evaluate(MEASURE)
            on_notice = path.startswith("/privacy")
            check_first_layer(m, words_needed=not on_notice)
            heights[path] = m["banner"]["h"]
            if on_notice:  # its words are the page's: the title and the buttons are enough
                assert m["links"] == [] and not m["words"]["shown"]
                assert m["banner"]["h"] <= 0.4 * m["viewport"]["h"]
            else:
                assert [link["href"] for link in m["links"]] == [
                    f"{config['PUBLIC_URL']}/privacy/{lang}"]
        finally:
            ctx.close()
    assert heights[f"/privacy/{lang}"] < heights[f"/demo?lang={lang}"]


@pytest.mark.parametrize("screen", SCREENS)
def test_axe_finds_no_violations_on_phones_and_zoom(browser, live_server, config, axe, screen):
    """REQ A-07, A-06: axe-core finds no violation at 320×640, 360×740 and 200 % zoom: the demo
    with the first layer (its words scrolling under the cue), with the settings layer open,
    and the notice's page with its compact first layer."""
    ctx = browser.new_context(bypass_csp=True, locale="nb-NO", **SCREENS[screen])  # axe's tag
    try:
        page = ctx.new_page()
        for path in ("/demo?lang=nb", "/privacy/nb"):
            page.goto(config["PUBLIC_URL"] + path)
            page.wait_for_selector(".csw-b")
            assert axe(page) == [], path
        page.goto(config["PUBLIC_URL"] + "/demo?lang=nb")
        page.locator(".csw-b").get_by_role("button", name="Innstillinger", exact=True).click()
        page.wait_for_selector("dialog.csw-d")
        assert axe(page) == [], "settings"
    finally:
        ctx.close()
