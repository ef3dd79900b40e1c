"""The wording table of issue 23 in bokmål and English (REQ W-13): the words people read are
the usual ones, one term for one thing, and a heading is not a button's label."""
import pytest
from babel.messages.pofile import read_po

from consent_server import catalogs
from consent_server.console.marketing import REASONS
from consent_server.vocabulary import Reason


def catalog(lang):
    with open(catalogs.SOURCE / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


@pytest.mark.parametrize("msgid, context, bokmål", [
    ("Lifetime", None, "Lagringstid"),
    ("Confirm your subscription", None, "Bekreft påmeldingen din"),
    ("Thank you, your subscription is confirmed", None, "Takk! Påmeldingen din er bekreftet."),
    ("Your subscriptions and consents", None, "Dine påmeldinger og samtykker"),
    ("E-mail address: %(email)s", None, "E-postadresse: %(email)s"),
    ("Unsubscribe", "heading", "Avmelding"),
    ("Unsubscribe", "button", "Meld meg av"),
    ("This link has expired. Ask for a new link.", None, "Lenken er utløpt. Be om en ny lenke."),
    ("Subject", None, "Den registrerte"),
    ("Create the key", None, "Opprett nøkkelen"),
    ("Revoke %(name)s", None, "Tilbakekall %(name)s"),
    ("no consent", None, "mangler samtykke"),
    ("This page does not take that method.", None,
     "Denne siden støtter ikke denne typen forespørsel."),
    ("The link can be used once, within %(hours)s hours.", None,
     "Lenken kan brukes én gang og gjelder i %(hours)s timer."),
    ("By confirming, you declare that you are at least 15.", None,
     "Ved å bekrefte erklærer du at du har fylt 15 år."),
    ("every address that may now be sent mail for a purpose", None,
     "alle adresser som nå kan få utsendelser for et formål"),
])
def test_the_bokmål_words_of_the_table(msgid, context, bokmål):
    assert catalog("nb").get(msgid, context=context).string == bokmål


@pytest.mark.parametrize("wrong", ["siden siden", "samtykke-id", "Samtykke-id", "script-tagg",
                                   "ikke samtykke)", "Levetid", "abonnement", "måling av dem",
                                   "Lag nøkkel", "Trekk tilbake %", "godtar ikke den metoden",
                                   "virker i %(hours)s timer, én gang", "så den er slått av"])
def test_no_bokmål_entry_keeps_the_old_wording(wrong):
    found = [m.id for m in catalog("nb") if m.id and wrong in str(m.string)]
    assert not found, found


def test_the_customer_count_is_a_plural_in_both_languages():
    nb = catalog("nb").get("%(num)s existing customer is recorded.")
    assert nb.string == ("%(num)s eksisterende kunde er registrert.",
                         "%(num)s eksisterende kunder er registrert.")
    en = catalog("en").get("%(num)s existing customer is recorded.")
    assert en.string[0].endswith("customer is recorded.") and en.string[1].endswith(
        "customers are recorded.")


def test_the_unsubscribe_page_heads_with_a_noun_and_the_button_acts(client, smtp, api_key,
                                                                     audience, confirmed):
    confirmed(client, smtp, "kari@example.no")
    path = audience(client, api_key())[0]["unsubscribe_url"].removeprefix(
        "https://consent.example")
    html = client.get(path).get_data(as_text=True)
    assert "<h1>Avmelding</h1>" in html
    assert '<button type="submit">Meld meg av</button>' in html


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


def test_every_check_reason_has_words_in_the_console():
    """A reason added to the vocabulary (restricted, R-04) is said in words on the look-up page,
    not left blank."""
    assert set(REASONS) == set(Reason)
