"""People's rights: the access link, the person's own page (history, download, change,
erase), and an admin's correction of an address."""
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from consent_server import ledger
from consent_server.api import subscriptions as subscriptions_api
from consent_server.extensions import db
from consent_server.models import ConsentEvent, CustomerBasis, Person, utcnow
from consent_server.people.addresses import subject_hash


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


def test_access_always_answers_202_and_mails_only_a_known_address(client, smtp, confirmed):
    """REQ R-01: the answer never says whether an address is known."""
    confirmed(client, smtp, "kari@example.no")
    answers = [client.post("/api/v1/subscriptions/access", json={"email": address})
               for address in ("ukjent@example.no", "ikke-en-adresse", "kari@example.no")]
    assert {(a.status_code, a.get_data()) for a in answers} == {
        (202, answers[0].get_data())}
    assert len(smtp.messages) == 2  # the confirmation, then one access mail
    message = smtp.messages[-1]
    assert message["To"] == "kari@example.no"
    assert message["Subject"] == "Dine påmeldinger og samtykker"
    assert message.get_body(("html",)) is not None
    bad = client.post("/api/v1/subscriptions/access", json={"email": "a@example.no", "x": 1})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_many_access_requests_at_once_send_one_mail_and_say_nothing(app, client, smtp,
                                                                    confirmed):
    """REQ R-01: the access link has sign-up's resend limit, per address: 25 requests at once
    for a known address send one mail; for an unknown one none; every answer is the same."""
    confirmed(client, smtp, "kari@example.no")
    before = len(smtp.messages)

    def ask(address):
        resp = app.test_client().post("/api/v1/subscriptions/access", json={"email": address})
        return resp.status_code, resp.get_data()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, ["kari@example.no"] * 25 + ["ukjent@example.no"] * 25))
    assert set(answers) == {answers[0]} and answers[0][0] == 202
    assert len(smtp.messages) == before + 1


def test_a_new_access_link_is_mailed_once_the_resend_time_has_passed(client, smtp, confirmed,
                                                                     config, monkeypatch):
    confirmed(client, smtp, "kari@example.no")
    before = len(smtp.messages)
    for _ in range(3):
        client.post("/api/v1/subscriptions/access", json={"email": "kari@example.no"})
    assert len(smtp.messages) == before + 1
    later = utcnow() + timedelta(minutes=config["CONFIRM_RESEND_MINUTES"], seconds=1)
    monkeypatch.setattr(subscriptions_api, "utcnow", lambda: later)
    client.post("/api/v1/subscriptions/access", json={"email": "kari@example.no"})
    assert len(smtp.messages) == before + 2


def test_the_own_page_shows_the_history_and_downloads_it_as_json(client, app, smtp, access_link,
                                                                 confirmed):
    """REQ R-01: access and portability, proven by a signed link to the address."""
    confirmed(client, smtp, "kari@example.no")
    path = access_link(client, smtp, "kari@example.no")
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "kari@example.no" in html and "Du meldte deg på nyhetsbrevet." in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    download = client.get(path + "/history.json")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    body = json.loads(download.data)
    assert body["email"] == "kari@example.no"
    assert body["choices"] == {"marketing": False, "newsletter": True}
    [event] = body["events"]
    assert (event["action"], event["source"], event["policy_version"]) == (
        "grant", "confirm", "1")
    assert "ip" not in event and "user_agent" not in event
    assert client.get(path[:-2] + "zz").status_code == 404


def history_rows(html: str) -> list[list[str]]:
    """The own page's history table: each row's cells as text, tags dropped."""
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.mark.parametrize("language, expected", [
    ("nb", [("Du meldte deg på nyhetsbrevet.", "Med bekreftelseslenken i e-posten"),
            ("Du meldte deg av nyhetsbrevet.", "På denne siden"),
            ("Du sa ja til markedsføring på e-post.", "På denne siden"),
            ("Du sa nei til markedsføring på e-post.", "Med avmeldingslenken i en e-post"),
            ("E-postadressen din ble rettet.", "Registrert av Exentri AS"),
            ("Adressen din ble slettet.", "På denne siden")]),
    ("en", [("You signed up for the newsletter.", "With the confirmation link in the e-mail"),
            ("You unsubscribed from the newsletter.", "On this page"),
            ("You said yes to marketing by e-mail.", "On this page"),
            ("You said no to marketing by e-mail.", "With the unsubscribe link in an e-mail"),
            ("Your e-mail address was corrected.", "Recorded by Exentri AS"),
            ("Your address was erased.", "On this page")])])
def test_the_history_says_what_changed_and_how_in_the_persons_language(
        client, app, smtp, api_key, access_link, confirmed, audience, language, expected):
    """REQ R-01: each row says what changed (not what remained) and how, in the person's
    language, with no raw code (grant, confirm, api); each event's full hash is shown."""
    admin = api_key("admin")
    confirmed(client, smtp, "kari@example.no", language=language)
    path = access_link(client, smtp, "kari@example.no")
    client.post(path, data={"marketing": "on"})
    [entry] = audience(client, api_key(), purpose="marketing")
    client.post(entry["unsubscribe_url"].removeprefix("https://consent.example"))
    assert client.post("/api/v1/marketing/rectify", headers=admin, json={
        "email": "kari@example.no", "new_email": "kari.n@example.no"}).status_code == 200
    client.post(path + "/erase", data={"confirmed": "1"})
    rows = history_rows(client.get(path).get_data(as_text=True))
    assert [(what, how) for _time, what, how, _version, _hash in rows] == expected
    with app.app_context():
        events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)
                                    ).scalars().all()
    assert [row[4] for row in rows] == [e.hash for e in events]  # whole, not cut short
    assert [e.source for e in events] == ["confirm", "preferences", "preferences",
                                          "unsubscribe", "api", "preferences"]
    for code in ("grant", "update", "withdraw", "erase", "confirm", "api", "preferences"):
        assert not any(re.search(rf"\b{code}\b", cell) for row in rows for cell in row[1:3])


def test_the_own_page_changes_each_purpose(client, smtp, api_key, access_link, check, confirmed):
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    path = access_link(client, smtp, "kari@example.no")
    saved = client.post(path, data={"marketing": "on"})
    assert saved.status_code == 200 and "lagret" in saved.get_data(as_text=True)
    html = saved.get_data(as_text=True)
    assert 'name="marketing" checked' in html and 'name="newsletter" checked' not in html
    assert check(client, key, "marketing", ["kari@example.no"]) == [("allowed", "consent")]
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "withdrawn")]
    client.post(path, data={})
    assert check(client, key, "marketing", ["kari@example.no"]) == [("denied", "objected")]


def test_erasure_clears_the_address_and_keeps_the_suppression_and_the_proof(
        client, app, smtp, api_key, access_link, check, config, confirmed):
    """REQ R-02: the address and personal fields go; the keyed hash stays, the chain verifies,
    the address stays suppressed, and the erasure is on record."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no", purposes={"newsletter": True, "marketing": True})
    client.post("/api/v1/marketing/customers", headers=key, json={"customers": [
        {"email": "kari@example.no", "sale_date": "2026-10-01", "opt_out_offered": True}]})
    path = access_link(client, smtp, "kari@example.no")
    erased = client.post(path + "/erase", data={"confirmed": "1"})  # REQ R-07: the second step
    assert erased.status_code == 200 and "slettet" in erased.get_data(as_text=True)
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "erased")]
    assert check(client, key, "marketing", ["kari@example.no"]) == [("denied", "erased")]
    assert client.get("/api/v1/marketing/audience?purpose=marketing", headers=key).data == b""
    with app.app_context():
        person = db.session.execute(select(Person)).scalar_one()
        assert person.email is None and person.signup_ip is None
        assert person.subject == subject_hash(config["EMAIL_HASH_KEY"], "kari@example.no")
        assert db.session.execute(select(CustomerBasis)).first() is None
        events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)
                                    ).scalars().all()
        assert events[-1].action == "erase"
        assert all(e.ip is None and e.user_agent is None for e in events)
        assert ledger.verify(db.session).ok
    # Nothing of the address is left in any table.
    with app.app_context():
        for table in (Person.__table__, ConsentEvent.__table__):
            for row in db.session.execute(select(table)):
                assert "kari@example.no" not in json.dumps([str(v) for v in row])
    assert client.post(path + "/erase", data={"confirmed": "1"}).status_code == 200  # harmless
    page = client.get(path)
    assert page.status_code == 200 and "kari@example.no" not in page.get_data(as_text=True)
    # No access mail to an erased address: it is no longer known.
    before = len(smtp.messages)
    assert client.post("/api/v1/subscriptions/access",
                        json={"email": "kari@example.no"}).status_code == 202
    assert len(smtp.messages) == before


@pytest.mark.parametrize("language, asks, deleted, kept", [
    ("nb", "Vil du slette adressen din?", "E-postadressen din.",
     "En kode laget av adressen din, som ikke kan gjøres om til adressen igjen"),
    ("en", "Erase your address?", "Your e-mail address.",
     "A code made from your address that cannot be turned back into the address")])
def test_erasure_asks_once_more_saying_what_goes_and_what_stays(client, smtp, api_key, check,
                                                                 access_link, confirmed,
                                                                 language, asks, deleted, kept):
    """REQ R-07: the own page's button leads to a second page (a GET that changes nothing)
    saying what is deleted and what is kept; only its own button erases; a POST without that
    answer shows the question again."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no", language=language)
    path = access_link(client, smtp, "kari@example.no")
    own = client.get(path).get_data(as_text=True)
    assert f'<form method="get" action="{path}/erase">' in own
    page = client.get(path + "/erase")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"<h1>{asks}</h1>" in html
    assert deleted in html and kept in html
    assert '<input type="hidden" name="confirmed" value="1">' in html
    assert f'href="{path}"' in html  # the way back, keeping the address
    assert client.post(path + "/erase").get_data(as_text=True) == html  # asked again
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("allowed", "consent")]
    assert client.post(path + "/erase", data={"confirmed": "1"}).status_code == 200
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "erased")]
    assert "<h1>" + asks not in client.get(path + "/erase").get_data(as_text=True)


def test_an_erased_address_can_sign_up_again_with_a_new_confirmation(client, smtp, api_key,
                                                                     access_link, check, config,
                                                                     confirmed, link, sign_up):
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    client.post(access_link(client, smtp, "kari@example.no") + "/erase", data={"confirmed": "1"})
    config["CONFIRM_RESEND_MINUTES"] = 0
    sign_up(client, "kari@example.no")
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "pending")]
    assert client.post(link(smtp.messages[-1], "confirm")).status_code == 200
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("allowed", "consent")]


def test_an_expired_access_link_is_refused(client, app, smtp, access_link, config, confirmed):
    confirmed(client, smtp, "kari@example.no")
    path = access_link(client, smtp, "kari@example.no")
    config["CONFIRM_MAX_AGE_HOURS"] = -1
    expired = client.get(path)
    assert expired.status_code == 410
    # the advice fits the link: a new link, not a new sign-up
    assert "Lenken er utløpt. Be om en ny lenke." in expired.get_data(as_text=True)
    assert client.post(path + "/erase").status_code == 410


def test_an_admin_corrects_an_address_without_losing_its_history(client, app, smtp, api_key, check,
                                                                 confirmed):
    """REQ R-04: the same subject, its history and consent, under the corrected address."""
    admin, marketing = api_key("admin"), api_key("marketing")
    confirmed(client, smtp, "kari@exmaple.no")
    body = {"email": "kari@exmaple.no", "new_email": "kari@example.no"}
    assert client.post("/api/v1/marketing/rectify", headers=marketing,
                        json=body).status_code == 403
    assert client.post("/api/v1/marketing/rectify", json=body).status_code == 401
    response = client.post("/api/v1/marketing/rectify", headers=admin, json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email"] == "kari@example.no"
    assert check(client, marketing, "newsletter", ["kari@example.no", "kari@exmaple.no"]) == [
        ("allowed", "consent"), ("denied", "no_consent")]
    with app.app_context():
        events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.seq)
                                    ).scalars().all()
        assert len({e.subject for e in events}) == 1 and len(events) == 2
    auditor = api_key("auditor")  # the auditor finds the history under the corrected address
    history = client.get("/api/v1/audit/subjects/kari@example.no", headers=auditor)
    assert history.status_code == 200 and len(history.get_json()["events"]) == 2
    exported = client.get("/api/v1/audit/events?subject=kari@example.no", headers=auditor)
    assert exported.status_code == 200 and len(exported.get_data(as_text=True).splitlines()) == 2
    unknown = client.post("/api/v1/marketing/rectify", headers=admin, json=body)
    assert unknown.status_code == 404
    confirmed(client, smtp, "ola@example.no")
    taken = client.post("/api/v1/marketing/rectify", headers=admin,
                         json={"email": "ola@example.no", "new_email": "kari@example.no"})
    assert taken.status_code == 409 and taken.mimetype == "application/problem+json"
    bad = client.post("/api/v1/marketing/rectify", headers=admin,
                       json={"email": "ola@example.no", "new_email": "nope"})
    assert bad.status_code == 422


def test_restriction_denies_every_purpose_until_it_is_lifted(client, smtp, api_key, check,
                                                             audience, access_link, confirmed):
    """REQ R-04: the person restricts processing from their own page: the data stays, the check
    answers `denied`, reason `restricted`, the audience leaves the address out; lifting it
    restores the earlier answers. Both changes are in the history."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no", purposes={"newsletter": True, "marketing": True})
    path = access_link(client, smtp, "kari@example.no")
    assert len(audience(client, key)) == 1
    page = client.post(path + "/restrict", data={"restrict": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Behandlingen er begrenset" in html
    assert "kari@example.no" in html  # kept, not erased
    for purpose in ("newsletter", "marketing"):
        assert check(client, key, purpose, ["kari@example.no"]) == [("denied", "restricted")]
    assert audience(client, key) == [] and audience(client, key, purpose="marketing") == []
    assert client.post(path + "/restrict", data={"restrict": "1"}).status_code == 200  # twice
    lifted = client.post(path + "/restrict", data={"restrict": "0"}).get_data(as_text=True)
    for purpose in ("newsletter", "marketing"):
        assert check(client, key, purpose, ["kari@example.no"]) == [("allowed", "consent")]
    assert len(audience(client, key)) == 1
    rows = [what for _time, what, *_rest in history_rows(lifted)]
    assert rows[-2:] == ["Du begrenset behandlingen av opplysningene dine.",
                         "Du opphevet begrensningen av behandlingen."]


def test_the_download_holds_every_column_of_every_table_about_the_person(
        client, app, smtp, api_key, access_link, confirmed):
    """REQ R-06 R-01: every table with a `subject` column, every column of it, is in the
    download with the person's own values (sale details, IP prefix, user agent, basis,
    receipts), each table introduced and each field named in the person's language (the field
    names themselves stay the database's)."""
    confirmed(client, smtp, "kari@example.no", purposes={"newsletter": True, "marketing": True})
    client.post("/api/v1/marketing/customers", headers=api_key(), json={"customers": [
        {"email": "kari@example.no", "sale_date": "2026-10-01", "product_category": "sko",
         "opt_out_offered": True}]})
    path = access_link(client, smtp, "kari@example.no")
    body = client.get(path + "/history.json").get_json()
    with app.app_context():
        tables = [t for t in db.metadata.sorted_tables if "subject" in t.c]
        assert {t.name for t in tables} >= {"person", "customer_basis", "consent_event",
                                            "consent_state"}
        for table in tables:
            rows = db.session.execute(select(table).where(
                table.c.subject == body["subject"])).mappings().all()
            got = body["everything_we_hold"][table.name]
            assert len(got) == len(rows) and rows, table.name
            for row in got:
                assert set(row) == {c.name for c in table.columns}, table.name
            assert body["about"][table.name] and "_" not in body["about"][table.name]
            assert {c.name for c in table.columns} <= set(body["labels"]), table.name
    assert all(label and "_" not in label for label in body["labels"].values())
    assert body["labels"]["ip"] == "Starten av IP-adressen"
    assert body["labels"]["sale_date"] == "Kjøpsdato"
    person = body["everything_we_hold"]["person"][0]
    assert person["email"] == "kari@example.no" and person["signup_ip"] == "127.0.0.0"
    [sale] = body["everything_we_hold"]["customer_basis"]
    assert (sale["sale_date"], sale["product_category"]) == ("2026-10-01", "sko")
    events = body["everything_we_hold"]["consent_event"]
    assert events[-1]["basis"] == "customer" and events[0]["ip"] == "127.0.0.0"
    assert all(e["receipt"] for e in body["events"])
    assert body["about"]["person"].startswith("E-postadressen din")


def test_the_download_names_its_fields_in_nynorsk(client, smtp, access_link, confirmed):
    """REQ R-06 N-08: a person who signed up in nynorsk gets the download's tables and fields
    explained in nynorsk; the field names are the same as in every language."""
    confirmed(client, smtp, "kari@example.no", language="nn")
    body = client.get(access_link(client, smtp, "kari@example.no") + "/history.json").get_json()
    assert body["about"]["person"].startswith("E-postadressa di")
    assert body["labels"]["ip"] == "Starten av IP-adressa"
    assert body["labels"]["user_agent"] == "Nettlesar"
    assert "signup_ip" in body["everything_we_hold"]["person"][0]


def test_the_person_changes_their_address_confirmed_at_the_new_one(
        client, smtp, api_key, check, access_link, confirmed, link, sign_up):
    """REQ R-04: the own page sends a link to the new address; its GET changes nothing, its
    button moves the subject (history and choices) to the new address, once."""
    key = api_key()
    confirmed(client, smtp, "kari@example.no")
    confirmed(client, smtp, "ola@example.no")
    path = access_link(client, smtp, "kari@example.no")
    before = len(smtp.messages)
    bad = client.post(path + "/address", data={"new_email": "not an address"})
    assert bad.status_code == 200 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    taken = client.post(path + "/address", data={"new_email": "ola@example.no"})
    assert taken.status_code == 200 and len(smtp.messages) == before  # tells nothing, mails none
    sent = client.post(path + "/address", data={"new_email": "kari.n@example.no"})
    assert "Vi har sendt en lenke til kari.n@example.no" in sent.get_data(as_text=True)
    message = smtp.messages[-1]
    assert message["To"] == "kari.n@example.no"
    assert message["Subject"] == "Bekreft den nye e-postadressen din"
    confirm = link(message, "address")
    assert "kari" not in confirm  # nothing personal in the URL
    assert client.get(confirm).status_code == 200
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("allowed", "consent")]
    done = client.post(confirm)
    assert done.status_code == 200 and "kari.n@example.no" in done.get_data(as_text=True)
    assert check(client, key, "newsletter", ["kari.n@example.no"]) == [("allowed", "consent")]
    assert check(client, key, "newsletter", ["kari@example.no"]) == [("denied", "no_consent")]
    assert client.post(confirm).status_code == 410  # once
    rows = history_rows(client.get(path).get_data(as_text=True))
    assert rows[-1][1:3] == ["E-postadressen din ble rettet.", "På denne siden"]
