"""The existing-customer basis done right (REQ M-07, R-03): its product category, its lapse,
the objection that no later sale overrides, and the person's own page showing each basis."""
from datetime import date, timedelta

import pytest

from consent_server.models import utcnow
from consent_server.people.marketing import months_before

TODAY = utcnow().date()
LAST_MONTH = months_before(TODAY, 1).isoformat()
SALE = {"email": "kunde@example.no", "sale_date": LAST_MONTH, "product_category": "sko",
        "opt_out_offered": True}
SKO = {"product_category": "sko"}


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


@pytest.fixture
def customer(client, api_key):
    """customer(**fields): record a sale (SALE's fields unless given); the marketing key."""
    key = api_key()

    def record(**fields):
        response = client.post("/api/v1/marketing/customers", headers=key,
                               json={"customers": [{**SALE, **fields}]})
        assert response.status_code == 201, response.get_json()
        return key

    return record


def test_each_customer_reason(client, smtp, customer, check, confirmed, config):
    """REQ M-07: `customer` for the category named; `customer_needs_category` without one
    (a consent-based person in the same check is not affected); `customer_lapsed` once the last
    sale is CONSENT_CUSTOMER_BASIS_MONTHS old."""
    key = customer()
    limit = months_before(TODAY, 24)  # the default CONSENT_CUSTOMER_BASIS_MONTHS
    customer(email="gammel@example.no", sale_date=(limit - timedelta(days=1)).isoformat())
    customer(email="grense@example.no", sale_date=limit.isoformat())
    confirmed(client, smtp, "samtykke@example.no", purposes={"marketing": True})
    emails = ["kunde@example.no", "samtykke@example.no", "gammel@example.no",
              "grense@example.no"]
    assert check(client, key, "marketing", emails, **SKO) == [
        ("allowed", "customer"), ("allowed", "consent"), ("denied", "customer_lapsed"),
        ("allowed", "customer")]
    assert check(client, key, "marketing", emails) == [
        ("denied", "customer_needs_category"), ("allowed", "consent"),
        ("denied", "customer_lapsed"), ("denied", "customer_needs_category")]
    assert check(client, key, "marketing", emails, product_category="bøker") == [
        ("denied", "no_consent"), ("allowed", "consent"), ("denied", "no_consent"),
        ("denied", "no_consent")]
    customer(email="to-mnd@example.no", sale_date=months_before(TODAY, 2).isoformat())
    assert check(client, key, "marketing", ["to-mnd@example.no"], **SKO) == [
        ("allowed", "customer")]
    config["CUSTOMER_BASIS_MONTHS"] = 1
    assert check(client, key, "marketing", ["to-mnd@example.no"], **SKO) == [
        ("denied", "customer_lapsed")]


def test_the_audience_holds_customers_only_for_their_category_and_not_lapsed(
        client, customer, audience):
    key = customer()
    customer(email="gammel@example.no", sale_date=months_before(TODAY, 30).isoformat())
    assert audience(client, key, purpose="marketing") == []
    assert [e["email"] for e in audience(client, key, purpose="marketing", **SKO)] == [
        "kunde@example.no"]


def test_a_sale_needs_its_product_category(client, api_key):
    """REQ M-07: the basis covers products like those bought, so the category is required."""
    key = api_key()
    for sale in ({k: v for k, v in SALE.items() if k != "product_category"},
                 {**SALE, "product_category": ""}, {**SALE, "product_category": "  "}):
        response = client.post("/api/v1/marketing/customers", headers=key,
                               json={"customers": [sale]})
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
    body = "email,sale_date,opt_out_offered\r\nkunde@example.no,2026-11-02,true\r\n"
    response = client.post("/api/v1/marketing/customers", headers=key, data=body.encode(),
                           content_type="text/csv")
    assert response.status_code == 422


def test_an_objection_on_the_own_page_is_absolute_and_a_later_sale_never_overrides_it(
        client, smtp, customer, check, access_link, confirmed, link, config):
    """REQ R-03, M-07: the own page shows the basis and the right to object apart; the
    objection stops all marketing, a later sale does not bring the basis back; a new consent
    does."""
    key = customer()
    path = access_link(client, smtp, "kunde@example.no")
    html = client.get(path).get_data(as_text=True)
    assert f"Grunnlag: du er kunde (etter kjøpet {LAST_MONTH} i sko)." in html
    assert 'name="marketing" checked' in html
    assert "Retten din til å protestere" in html and "/object" in html
    objected = client.post(path + "/object")
    assert objected.status_code == 200
    assert "Du har protestert mot markedsføring." in objected.get_data(as_text=True)
    assert check(client, key, "marketing", ["kunde@example.no"], **SKO) == [
        ("denied", "objected")]
    customer(sale_date=TODAY.isoformat())
    customer(sale_date=TODAY.isoformat(), product_category="sykler")
    for category in ("sko", "sykler"):
        assert check(client, key, "marketing", ["kunde@example.no"],
                     product_category=category) == [("denied", "objected")]
    config["CONFIRM_RESEND_MINUTES"] = 0
    confirmed(client, smtp, "kunde@example.no", purposes={"marketing": True})
    assert check(client, key, "marketing", ["kunde@example.no"], **SKO) == [
        ("allowed", "consent")]


def test_unticking_marketing_for_a_customer_on_the_own_page_is_an_objection(
        client, smtp, customer, check, access_link):
    """The bug of issue 18: a customer's page showed marketing unticked, saving changed
    nothing and the check still said `allowed, customer`."""
    key = customer()
    path = access_link(client, smtp, "kunde@example.no")
    saved = client.post(path, data={})
    assert saved.status_code == 200
    assert check(client, key, "marketing", ["kunde@example.no"], **SKO) == [
        ("denied", "objected")]
    assert 'name="marketing" checked' not in saved.get_data(as_text=True)


def test_every_unsubscribe_from_marketing_is_an_objection(client, smtp, customer, check,
                                                          audience):
    """REQ R-03: the link's page button and the one-click POST alike."""
    key = customer()
    customer(email="to@example.no")
    entries = audience(client, key, purpose="marketing", **SKO)
    paths = [e["unsubscribe_url"].removeprefix("https://consent.example") for e in entries]
    assert client.post(paths[0], data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(paths[1]).status_code == 200
    assert check(client, key, "marketing", sorted(e["email"] for e in entries), **SKO) == [
        ("denied", "objected")] * 2


@pytest.mark.parametrize("day, months, earlier", [
    (date(2026, 12, 7), 24, date(2024, 12, 7)), (date(2026, 3, 31), 1, date(2026, 2, 28)),
    (date(2028, 2, 29), 12, date(2027, 2, 28)), (date(2026, 1, 15), 1, date(2025, 12, 15)),
])
def test_months_before(day, months, earlier):
    assert months_before(day, months) == earlier
