"""People's pages and mails look like the controller's (REQ C-03 A-05 A-06): our stylesheet,
the controller's name, the site file's accent colour made readable and its logo; the HTML
mails with inlined styles, a real button and a plain-text part that reads alone."""
import re

import pytest

from consent_server.consent.colours import contrast, palette
from consent_server.consent.site import SiteFileError, load

SITE = '''controller = "Eksempel AS"
[theme]
accent = "{accent}"
logo = "logo.svg"
'''
LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20">'
        '<rect width="80" height="20"/></svg>')


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


@pytest.fixture
def themed(tmp_path, app_factory, mail_settings):
    """themed(accent): an app (mailing to the test server) whose site file sets this accent
    and a logo."""

    def make(accent: str):
        (tmp_path / "logo.svg").write_text(LOGO, encoding="utf-8")
        path = tmp_path / "site.toml"
        path.write_text(SITE.format(accent=accent), encoding="utf-8")
        return app_factory(SITE_FILE=str(path), **mail_settings)

    return make


def custom_properties(css: str, scheme: str) -> dict:
    block = css.split("@media")[0] if scheme == "light" else css.split("@media")[1]
    return dict(re.findall(r"(--[\w-]+): (#[0-9a-f]{6})", block))


@pytest.mark.parametrize("accent", ["#0b57d0", "#ffcc00", "#1a1a1a", "#e8e8e8", "#7f7f7f"])
def test_the_accent_is_used_where_it_reads_and_replaced_where_it_would_not(themed, accent):
    """REQ A-05: whatever colour the site file names, text and links keep 4.5:1 in light and
    dark; the site's own colour is kept wherever it passes."""
    css = themed(accent).test_client().get("/people/theme.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    for scheme, background in (("light", "#ffffff"), ("dark", "#121212")):
        props = custom_properties(css.get_data(as_text=True), scheme)
        assert contrast(props["--accent"], props["--accent-fg"]) >= 4.5, (scheme, props)
        assert contrast(props["--link"], background) >= 4.5, (scheme, props)
        if contrast(accent, background) >= 4.5:
            assert props["--link"] == accent
        else:
            assert props["--link"] != accent


def test_contrast_is_wcags_ratio():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54  # the lightest grey that passes
    assert contrast("#777777", "#777777") == 1.0
    assert palette(None)["light"]["--accent"] == "#0b57d0"


def test_the_pages_show_the_controller_and_the_logo_from_the_site_file(themed, sign_up,
                                                                      smtp, link):
    app = themed("#7a1fa2")
    client = app.test_client()
    assert sign_up(client, "kari@example.no").status_code == 202
    page = client.get(link(smtp.messages[-1], "confirm"))
    html = page.get_data(as_text=True)
    assert '<link rel="stylesheet" href="/people/static/people.css">' in html
    assert '<link rel="stylesheet" href="/people/theme.css">' in html
    assert '<img class="logo" src="/people/logo" alt="Eksempel AS">' in html
    assert "<title>Bekreft påmeldingen din – Eksempel AS</title>" in html
    assert "style=" not in html and "<style" not in html  # the CSP allows neither
    logo = client.get("/people/logo")
    assert logo.status_code == 200 and logo.mimetype == "image/svg+xml"
    assert logo.get_data(as_text=True) == LOGO
    css = client.get("/people/static/people.css")
    assert css.status_code == 200 and "min-height: 2.75rem" in css.get_data(as_text=True)
    css.close()
    logo.close()


def test_without_a_logo_the_controller_is_named_in_text(client, smtp, sign_up, link):
    assert sign_up(client, "kari@example.no").status_code == 202
    html = client.get(link(smtp.messages[-1], "confirm")).get_data(as_text=True)
    assert '<p class="controller">Exentri AS</p>' in html
    assert client.get("/people/logo").status_code == 404


@pytest.mark.parametrize("theme, message", [
    ('accent = "blue"', "theme.accent must be a colour"),
    ('accent = "#12345"', "theme.accent must be a colour"),
    ('logo = "logo.gif"', "theme.logo must name an image file"),
    ('logo = "missing.svg"', "theme.logo: no such file"),
])
def test_a_bad_theme_stops_start_up_naming_the_key(tmp_path, theme, message):
    path = tmp_path / "site.toml"
    path.write_text(f'controller = "Eksempel AS"\n[theme]\n{theme}\n', encoding="utf-8")
    with pytest.raises(SiteFileError, match="site.toml") as error:
        load(path)
    assert message in str(error.value)


def test_the_html_mail_has_inlined_styles_and_a_real_button(themed, sign_up, html_part,
                                                            text_part, smtp):
    """The HTML part: no <style> left (mail programs drop it), the link a button in the
    accent colour; the text part: the link on a line of its own, nothing of the HTML."""
    client = themed("#7a1fa2").test_client()
    assert sign_up(client, "kari@example.no").status_code == 202
    html = html_part(smtp.messages[-1])
    text = text_part(smtp.messages[-1]).replace("\r\n", "\n")  # SMTP line ends
    assert "<style" not in html
    button = re.search(r'<td style="([^"]*)"><a href="(https://[^"]+/subscriptions/confirm/'
                       r'[^"]+)" style="([^"]*)">Bekreft påmeldingen din</a>', html)
    assert button, html
    assert "background: #7a1fa2" in button.group(1)
    assert "color: #ffffff" in button.group(3) and "padding: 12px 24px" in button.group(3)
    assert text.startswith("Eksempel AS\n\nHei,\n")
    assert f"\n\n{button.group(2)}\n\n" in text
    assert "<" not in text


@pytest.mark.parametrize("language, withdraw, meanings", [
    ("nb", "Du kan når som helst trekke tilbake samtykket",
     ["Nyhetsbrev: Nyhetsbrevet vårt på e-post, omtrent én gang i måneden: nye varer, turtips "
      "og arrangementer i butikkene våre.",
      "Markedsføring: Tilbud og kampanjer på e-post om våre egne varer og tjenester, høyst én "
      "gang i uken."]),
    ("nn", "Du kan når som helst trekkje tilbake samtykket",
     ["Nyheitsbrev: Nyheitsbrevet vårt på e-post, om lag éin gong i månaden: nye varer, turtips "
      "og arrangement i butikkane våre.",
      "Marknadsføring: Tilbod og kampanjar på e-post om våre eigne varer og tenester, høgst éin "
      "gong i veka."]),
    ("en", "You can withdraw your consent at any time",
     ["Newsletter: Our newsletter by e-mail, about once a month: new products, hiking tips and "
      "events in our shops.",
      "Marketing: Offers and sales by e-mail about our own goods and services, at most once a "
      "week."])])
def test_the_confirmation_mail_says_what_happens_and_whom_to_ask(
        client, smtp, sign_up, text_part, html_part, language, withdraw, meanings):
    """REQ C-03 M-02 N-08: Reply-To the controller's address from the site file and a contact
    line; what each purpose means (the site file's words); that consent can be withdrawn, said
    before the button; in bokmål, nynorsk and English."""
    assert sign_up(client, "kari@example.no", language=language,
                   purposes={"newsletter": True, "marketing": True}).status_code == 202
    message = smtp.messages[-1]
    assert message["Reply-To"] == "post@exentri.no"
    text = text_part(message).replace("\r\n", "\n")
    html = html_part(message)
    for meaning in meanings:
        assert f"- {meaning}" in text
        name, _, what = meaning.partition(": ")
        assert f"<strong>{name}</strong>: {what}</li>" in html
    assert text.index(withdraw) < text.index("/subscriptions/confirm/")
    assert html.index(withdraw) < html.index('<table class="button"')
    assert "post@exentri.no" in text.split("\n-- \n")[1]  # the contact line, in the footer
    assert '<a href="mailto:post@exentri.no"' in html


def test_without_a_contact_in_the_site_file_there_is_no_reply_to(themed, sign_up, smtp,
                                                                 text_part):
    client = themed("#0b57d0").test_client()
    assert sign_up(client, "kari@example.no").status_code == 202
    assert smtp.messages[-1]["Reply-To"] is None
    footer = text_part(smtp.messages[-1]).replace("\r\n", "\n").split("\n-- \n")[1]
    assert "@" not in footer and footer.startswith("Personvernerklæring: ")
