"""The marketing team's API: the pre-send check, unsubscribe, the audience, existing customers."""
import csv
import io
import json
import random
import string

import pytest
from sqlalchemy import select

from consent_server.extensions import db
from consent_server.models import ConsentEvent
from consent_server.people.addresses import InvalidAddress, normalise
from consent_server.people.persons import normalise_fast

CUSTOMER = {"email": "kunde@example.no", "sale_date": "2026-11-02",
            "product_category": "sko", "opt_out_offered": True}


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


def test_the_whole_walk_from_sign_up_to_one_click_unsubscribe(client, app, smtp, api_key, audience,
                                                              check, link, sign_up):
    """REQ M-01 M-02 M-03 M-06: sign-up -> mail -> confirm -> allowed (consent) -> audience with
    both headers -> one-click POST -> denied (withdrawn) -> audience omits it."""
    key = api_key("marketing")
    sign_up(client, "kari@example.no")
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "pending")]
    assert audience(client, key) == []
    page = link(smtp.messages[0], "confirm")
    assert client.get(page).status_code == 200
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "pending")]
    assert client.post(page).status_code == 200
    assert check(client, key, "newsletter", [" kari@EXAMPLE.no"]) == [("allowed", "consent")]
    assert check(client, key, "marketing", ["kari@example.no"]) == [("denied", "no_consent")]

    [entry] = audience(client, key)
    assert entry["email"] == "kari@example.no" and entry["language"] == "nb"
    assert entry["basis"] == "consent"
    url = entry["unsubscribe_url"]
    assert url.startswith("https://consent.example/unsubscribe/")
    assert entry["list_unsubscribe"] == f"<{url}>"
    assert entry["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    assert audience(client, key, fmt="csv")[0]["unsubscribe_url"] == url
    assert audience(client, key, purpose="marketing") == []

    path = url.removeprefix("https://consent.example")
    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert "meldt av" in one_click.get_data(as_text=True)
    assert "Set-Cookie" not in one_click.headers
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "withdrawn")]
    assert audience(client, key) == []


def test_a_get_of_the_unsubscribe_link_changes_nothing_and_a_second_post_is_harmless(
        client, app, smtp, api_key, audience, check, confirmed):
    """REQ M-04 M-08 M-03: GET shows one button; the POST is idempotent."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    path = audience(client, key)[0]["unsubscribe_url"].removeprefix("https://consent.example")
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<form method=\"post\">" in html and "Meld meg av alt" in html
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("allowed", "consent")]
    with app.app_context():
        before = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)).scalars().all()
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(path).status_code == 200
    with app.app_context():
        after = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)).scalars().all()
        assert len(after) == len(before) + 1
        assert (after[-1].action, after[-1].source) == ("withdraw", "unsubscribe")


def test_unsubscribe_from_everything_stops_all_marketing_at_once(client, smtp, api_key, audience,
                                                                 check, confirmed):
    """REQ R-03: one request withdraws every purpose; from marketing it is an objection."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no",
              purposes={"newsletter": True, "marketing": True})
    path = audience(client, key)[0]["unsubscribe_url"].removeprefix("https://consent.example")
    done = client.post(path, data={"everything": "1"})
    assert done.status_code == 200
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "withdrawn")]
    assert check(client, key, "marketing", ["kari@example.no"]) == [("denied", "objected")]


def test_forged_unsubscribe_links_are_refused(client, smtp, api_key, audience, check, confirmed,
                                              link):
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    path = audience(client, key)[0]["unsubscribe_url"].removeprefix("https://consent.example")
    forged = path[:-2] + ("xx" if not path.endswith("xx") else "yy")
    assert client.get(forged).status_code == 404
    assert client.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert client.post("/unsubscribe/not-a-token").status_code == 404
    confirm_token = link(smtp.messages[0], "confirm").rsplit("/", 1)[1]  # another kind
    assert client.post(f"/unsubscribe/{confirm_token}").status_code == 404
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("allowed", "consent")]


def test_the_check_gives_every_reason(client, app, smtp, api_key, check, confirmed, sign_up):
    """REQ M-01: allowed or denied per address, and why; invalid ones do not fail the call."""
    key = api_key()
    confirmed(client, smtp, "fornoyd@example.no")
    sign_up(client, "venter@example.no")
    emails = ["fornoyd@example.no", "venter@example.no", "ukjent@example.no", "ikke en adresse",
              None, 17]
    assert check(client, key, "newsletter", emails) == [
        ("allowed", "consent"), ("denied", "pending"), ("denied", "no_consent"),
        ("denied", "invalid"), ("denied", "invalid"), ("denied", "invalid")]
    response = client.post("/api/v1/marketing/check", headers=key,
                            json={"purpose": "newsletter", "emails": emails[:3]})
    body = response.get_json()
    assert body["purpose"] == "newsletter" and body["checked"] == 3
    assert body["allowed"] == ["fornoyd@example.no"]
    assert body["denied"] == ["venter@example.no", "ukjent@example.no"]


def test_a_material_notice_change_makes_a_consent_expired(client, app, smtp, api_key, publish,
                                                          audience, check, confirmed):
    """REQ M-01: outdated consents are denied with reason expired."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    publish(app, material=True, force=True)
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "expired")]
    assert audience(client, key) == []


def test_the_check_takes_csv_and_keeps_every_column(client, smtp, api_key, confirmed):
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    body = "name,email,segment\r\nKari,kari@example.no,a\r\nOla,ola@example.no,b\r\n"
    response = client.post("/api/v1/marketing/check?purpose=newsletter", headers=key,
                            data=body.encode(), content_type="text/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [
        {"name": "Kari", "email": "kari@example.no", "segment": "a", "consent_status": "allowed",
         "consent_reason": "consent"},
        {"name": "Ola", "email": "ola@example.no", "segment": "b", "consent_status": "denied",
         "consent_reason": "no_consent"}]
    no_column = client.post("/api/v1/marketing/check?purpose=newsletter", headers=key,
                             data=b"name\r\nKari\r\n", content_type="text/csv")
    assert no_column.status_code == 422 and no_column.mimetype == "application/problem+json"
    no_purpose = client.post("/api/v1/marketing/check", headers=key, data=body.encode(),
                              content_type="text/csv")
    assert no_purpose.status_code == 422


def test_more_than_100000_addresses_is_refused_with_a_clear_message(client, api_key):
    """REQ S-04: 100,000 addresses a call at most."""
    key = api_key()
    emails = [f"a{i}@example.no" for i in range(100_001)]
    response = client.post("/api/v1/marketing/check", headers=key,
                            json={"purpose": "newsletter", "emails": emails})
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert "100,000" in response.get_json()["detail"]
    body = "email\n" + "\n".join(emails) + "\n"
    response = client.post("/api/v1/marketing/check?purpose=newsletter", headers=key,
                            data=body.encode(), content_type="text/csv")
    assert response.status_code == 413


@pytest.mark.parametrize("body", [
    {"purpose": "analytics", "emails": ["a@example.no"]},
    {"purpose": "newsletter"},
    {"purpose": "newsletter", "emails": "a@example.no"},
    {"emails": []},
    {"purpose": "newsletter", "emails": [], "other": 1},
    [],
])


def test_bad_checks_are_problem_json(client, api_key, body):
    response = client.post("/api/v1/marketing/check", headers=api_key(), json=body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"


def test_a_check_body_that_is_not_json_is_a_problem(client, api_key):
    response = client.post("/api/v1/marketing/check", headers=api_key(), data=b"{",
                            content_type="application/json")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("method, path", [
    ("post", "/api/v1/marketing/check"),
    ("post", "/api/v1/marketing/customers"),
    ("get", "/api/v1/marketing/audience?purpose=newsletter"),
])


def test_marketing_routes_need_a_marketing_or_admin_key(client, api_key, method, path):
    """REQ S-01: 401 without a key or with a wrong one, 403 for the auditor's role."""
    send = getattr(client, method)
    body = {"json": {"purpose": "newsletter", "emails": []}} if method == "post" else {}
    assert send(path, **body).status_code == 401
    assert send(path, headers={"Authorization": "Bearer cs_nope_nope"}, **body).status_code == 401
    assert send(path, headers=api_key("auditor"), **body).status_code == 403
    assert send(path, headers=api_key("admin"), **body).status_code != 403
    assert send(path, headers=api_key("marketing"), **body).status_code not in (401, 403)


def test_an_existing_customer_may_get_marketing_but_not_the_newsletter(client, app, api_key,
                                                                       audience, check):
    """REQ M-07: the customer basis (markedsføringsloven § 15 third paragraph) covers
    marketing only, of the product category the call names (none named: not at all)."""
    key = api_key()
    response = client.post("/api/v1/marketing/customers", headers=key,
                            json={"customers": [CUSTOMER]})
    assert response.status_code == 201 and response.get_json() == {"recorded": 1}
    address = [CUSTOMER["email"]]
    assert check(client, key, "marketing", address) == [("denied", "customer_needs_category")]
    assert check(client, key, "marketing", address, product_category="sko") == [
        ("allowed", "customer")]
    assert check(client, key, "marketing", address, product_category="bøker") == [
        ("denied", "no_consent")]
    assert check(client, key, "newsletter", address) == [("denied", "no_consent")]
    assert audience(client, key, purpose="marketing") == []
    [entry] = audience(client, key, purpose="marketing", product_category="sko")
    assert entry["email"] == CUSTOMER["email"] and entry["basis"] == "customer"
    assert audience(client, key, purpose="marketing", product_category="bøker") == []
    assert audience(client, key, purpose="newsletter") == []
    with app.app_context():
        [event] = db.session.execute(select(ConsentEvent)).scalars().all()
        assert (event.subject_type, event.source, event.action) == ("person", "api", "update")
        assert "kunde" not in event.subject


def test_a_customer_who_unsubscribed_is_never_allowed_again_on_that_basis(client, api_key,
                                                                          audience, check):
    """REQ M-07, R-03: never after an unsubscribe (an objection), even when a later sale is
    recorded."""
    key = api_key()
    client.post("/api/v1/marketing/customers", headers=key, json={"customers": [CUSTOMER]})
    path = audience(client, key, purpose="marketing", product_category="sko")[0][
        "unsubscribe_url"].removeprefix("https://consent.example")
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    sko = {"product_category": "sko"}
    assert check(client, key, "marketing", [CUSTOMER["email"]], **sko) == [
        ("denied", "objected")]
    client.post("/api/v1/marketing/customers", headers=key,
                 json={"customers": [{**CUSTOMER, "sale_date": "2026-11-20"}]})
    assert check(client, key, "marketing", [CUSTOMER["email"]], **sko) == [
        ("denied", "objected")]
    assert audience(client, key, purpose="marketing", **sko) == []


def test_customers_take_csv_and_refuse_rows_without_an_opt_out(client, api_key, check):
    key = api_key()
    body = ("email,sale_date,product_category,opt_out_offered\r\n"
            "a@example.no,2026-10-01,sko,true\r\nb@example.no,2026-10-02,sko,true\r\n")
    response = client.post("/api/v1/marketing/customers", headers=key, data=body.encode(),
                            content_type="text/csv")
    assert response.status_code == 201 and response.get_json() == {"recorded": 2}
    assert check(client, key, "marketing", ["a@example.no", "b@example.no"],
                 product_category="sko") == [("allowed", "customer"), ("allowed", "customer")]
    bad = client.post("/api/v1/marketing/customers", headers=key, json={"customers": [
        {**CUSTOMER, "email": "c@example.no"}, {**CUSTOMER, "opt_out_offered": False},
        {**CUSTOMER, "email": "nope"}]})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert set(bad.get_json()["errors"]["customers"]) == {"1", "2"}
    assert check(client, key, "marketing", ["c@example.no"]) == [("denied", "no_consent")]
    for wrong in ({"customers": [{**CUSTOMER, "sale_date": "yesterday"}]},
                  {"customers": [{"email": "a@example.no"}]}, {"customers": "x"}):
        assert client.post("/api/v1/marketing/customers", headers=key,
                            json=wrong).status_code == 422


def test_consent_and_customer_basis_together(client, smtp, api_key, audience, check, confirmed):
    """A customer who also consented is listed once, on the consent basis."""
    key = api_key()
    client.post("/api/v1/marketing/customers", headers=key, json={"customers": [CUSTOMER]})
    confirmed(client, smtp, CUSTOMER["email"], purposes={"marketing": True})
    assert check(client, key, "marketing", [CUSTOMER["email"]]) == [("allowed", "consent")]
    [entry] = audience(client, key, purpose="marketing")
    assert entry["basis"] == "consent"


def test_bad_audience_queries_are_problem_json(client, api_key):
    key = api_key()
    for query in ({"purpose": "analytics"}, {}, {"purpose": "newsletter", "format": "xml"}):
        response = client.get("/api/v1/marketing/audience", headers=key, query_string=query)
        assert response.status_code == 422 and response.mimetype == "application/problem+json"


def _random_address(rng: random.Random) -> str:
    local_chars = string.ascii_letters + string.digits + ".!#$%&'*+/=?^_`{|}~-\"@ æ"
    local = "".join(rng.choice(local_chars) for _ in range(rng.randint(0, 12)))
    labels = ["".join(rng.choice(string.ascii_letters + string.digits + "-_ø")
                      for _ in range(rng.randint(0, 8))) for _ in range(rng.randint(1, 3))]
    tld = rng.choice(["no", "COM", "test", "local", "123", "x", "", "org."])
    return rng.choice(["", " "]) + local + "@" + ".".join(labels + [tld]) + rng.choice(["", " "])


def test_the_fast_normalisation_agrees_with_the_reference():
    """REQ M-05: the check's fast path gives exactly normalise's answers."""
    rng = random.Random(20261201)
    samples = [_random_address(rng) for _ in range(5000)] + [
        "kari@example.no", "Kari@EXAMPLE.NO", "a..b@example.no", ".a@example.no",
        "a.@example.no", "a@-example.no", "a@example-.no", "a@localhost", "x" * 65 + "@a.no",
        "a@" + "b" * 64 + ".no", "a@xn--bcher-kva.example", "a@bücher.example",
        "\"quoted\"@example.no", "a@b@example.no", "a@[127.0.0.1]", "", "@", "a@"]
    for address in samples:
        try:
            expected = normalise(address)
        except InvalidAddress:
            expected = None
        try:
            got = normalise_fast(address)
        except InvalidAddress:
            got = None
        assert got == expected, address


def test_the_cli_check_reads_a_csv_and_writes_it_back_with_consent_status_and_reason(
        app, client, smtp, tmp_path, confirmed):
    """REQ M-01: `flask consent check --purpose P FILE.csv`, with a progress bar."""
    confirmed(client, smtp, "kari@example.no")
    given = tmp_path / "list.csv"
    given.write_text("email,name\nkari@example.no,Kari\nola@example.no,Ola\nnope,X\n",
                     encoding="utf-8")
    out = tmp_path / "out.csv"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["consent", "check", "--purpose", "newsletter", "--out",
                                 str(out), str(given)])
    assert result.exit_code == 0, result.output
    assert "1 of 3 allowed for newsletter" in result.output
    assert list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))) == [
        {"email": "kari@example.no", "name": "Kari", "consent_status": "allowed",
         "consent_reason": "consent"},
        {"email": "ola@example.no", "name": "Ola", "consent_status": "denied",
         "consent_reason": "no_consent"},
        {"email": "nope", "name": "X", "consent_status": "denied", "consent_reason": "invalid"}]
    bad = runner.invoke(args=["consent", "check", "--purpose", "analytics", str(given)])
    assert bad.exit_code != 0 and "Unknown purpose" in bad.output
    (tmp_path / "no_email.csv").write_text("name\nKari\n", encoding="utf-8")
    bad = runner.invoke(args=["consent", "check", "--purpose", "newsletter",
                              str(tmp_path / "no_email.csv")])
    assert bad.exit_code != 0 and "email" in bad.output


def test_the_audience_is_streamed(client, smtp, api_key, confirmed, sign_up):
    """REQ M-06: a streamed answer (memory flat), listing addresses with consent only."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    sign_up(client, "venter@example.no")
    response = client.get("/api/v1/marketing/audience?purpose=newsletter&format=csv",
                           headers=key)
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["email"] for row in rows] == ["kari@example.no"]
    assert set(rows[0]) == {"email", "language", "basis", "unsubscribe_url", "list_unsubscribe",
                            "list_unsubscribe_post"}


def test_the_ledger_keeps_each_basis_and_its_details_and_verifies(client, app, smtp, api_key,
                                                                  audience, confirmed):
    """REQ M-07 C-07: a confirmation is basis consent with its sign-up time; a customer is basis
    customer with the sale, no personal data; the chain and the state projection verify."""
    from consent_server import ledger

    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    client.post("/api/v1/marketing/customers", headers=key, json={"customers": [CUSTOMER]})
    path = audience(client, key, purpose="marketing", product_category="sko")[0][
        "unsubscribe_url"].removeprefix("https://consent.example")
    client.post(path, data={"List-Unsubscribe": "One-Click"})
    with app.app_context():
        events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)
                                    ).scalars().all()
        confirm, customer, unsubscribe = events
        assert (confirm.source, confirm.basis) == ("confirm", "consent")
        assert set(json.loads(confirm.details)) == {"signed_up_at"}
        assert (customer.source, customer.basis) == ("api", "customer")
        assert json.loads(customer.details) == {"sale_date": "2026-11-02",
                                                "product_category": "sko",
                                                "opt_out_offered": True}
        assert (unsubscribe.source, unsubscribe.action) == ("unsubscribe", "withdraw")
        assert json.loads(unsubscribe.details) == {"objection": "marketing"}  # REQ R-03
        assert all("@" not in (e.details or "") for e in events)
        result = ledger.verify(db.session)
        assert result.ok and result.state_ok, result.as_dict()
