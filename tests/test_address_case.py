"""One person however the address is spelled (REQ M-05): the keyed hash over the case-folded
address, migration 0008 re-keying the people whose address is held, and the people erased
before it still suppressed by their old hash."""
import pytest
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, update

from consent_server.config import resource
from consent_server.extensions import db
from consent_server.models import Person
from consent_server.people.addresses import fold, legacy_hash, subject_hash
from consent_server.staff import keys

SPELLINGS = ["Kari.Nordmann@Example.no", "kari.nordmann@example.no", "KARI.NORDMANN@EXAMPLE.NO",
             " kari.NORDMANN@example.no "]


@pytest.fixture
def app_settings(mail_settings):
    """The app mails through the test SMTP server."""
    return mail_settings


def test_the_hash_is_taken_over_the_whole_address_case_folded():
    """REQ M-05: trimmed, NFC, case-folded whole (ß folds to ss, as mail providers match)."""
    key = "k"
    assert len({subject_hash(key, spelling) for spelling in SPELLINGS}) == 1
    assert subject_hash(key, "Straße@example.no") == subject_hash(key, "STRASSE@example.no")
    decomposed = "A\u0308se@example.no"  # Ä as A and a combining diaeresis
    assert subject_hash(key, decomposed) == subject_hash(key, "äse@example.no")
    assert fold("Ola@Example.no") == "ola@example.no"
    assert legacy_hash(key, "Kari@example.no") != subject_hash(key, "Kari@example.no")


def test_mixed_case_sign_up_lower_case_check_unsubscribe_in_another_spelling_denies_all(
        app, client, smtp, api_key, access_link, check, confirmed):
    """REQ M-05: sign-up as Kari.Nordmann@Example.no -> the lower-case check is allowed -> a
    withdrawal from the own page asked for in capitals -> every spelling denied; the address
    kept for sending keeps its spelling."""
    key = api_key()
    confirmed(client, smtp, SPELLINGS[0])
    assert check(client, key, "newsletter", SPELLINGS) == [("allowed", "consent")] * 4
    with app.app_context():
        [person] = db.session.execute(select(Person)).scalars().all()
        assert person.email == "Kari.Nordmann@example.no"
    path = access_link(client, smtp, SPELLINGS[2])
    assert client.post(path, data={}).status_code == 200
    assert check(client, key, "newsletter", SPELLINGS) == [("denied", "withdrawn")] * 4
    marketer = client.post("/api/v1/marketing/check", headers=key, json={
        "purpose": "newsletter", "emails": SPELLINGS})
    assert marketer.get_json()["summary"]["reasons"] == {"withdrawn": 4}


def test_the_audit_subject_and_a_new_sign_up_find_the_person_in_any_spelling(
        app, client, smtp, api_key, confirmed, sign_up):
    confirmed(client, smtp, SPELLINGS[0])
    assert sign_up(client, SPELLINGS[1]).status_code == 202  # the same person: no second one
    with app.app_context():
        assert len(db.session.execute(select(Person)).all()) == 1
    auditor = api_key("auditor")
    one = client.get(f"/api/v1/audit/subjects/{SPELLINGS[2].strip()}", headers=auditor)
    other = client.get(f"/api/v1/audit/subjects/{SPELLINGS[1]}", headers=auditor)
    assert one.status_code == other.status_code == 200
    assert one.get_json()["events"] == other.get_json()["events"] != []


def test_an_address_erased_before_the_migration_stays_denied_after_it(
        tmp_path, app_factory, publish, mail_settings, smtp, access_link, confirmed, link,
        sign_up):
    """REQ M-05, R-02: people as the code before 0008 left them (the hash over the local part
    as typed): one erased, one withdrawn, one consented. After 0008 no erased or withdrawn
    address is mailable in any spelling, the consented one is found in every spelling, and the
    erased one may sign up again (its old hash re-keyed)."""
    app = app_factory(**mail_settings, CONFIRM_RESEND_MINUTES=0,
                      SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "before-0008.db"))
    client = app.test_client()
    with app.app_context():
        upgrade()
        publish(app)
        _key, secret = keys.create_key(db.session, "test", "marketing")
    key = {"Authorization": f"Bearer {secret}"}
    for address in ("Kari@Example.no", "Per@example.no", "Ola@example.no"):
        confirmed(client, smtp, address)
    client.post(access_link(client, smtp, "Kari@example.no") + "/erase", data={"confirmed": "1"})
    client.post(access_link(client, smtp, "Per@example.no"), data={})
    hash_key = app.config["EMAIL_HASH_KEY"]
    with app.app_context():
        # The erased person's only trace is the old form of its hash, as the old code wrote it.
        db.session.execute(update(Person).where(Person.email.is_(None)).values(
            address_hash=legacy_hash(hash_key, "Kari@example.no")))
        db.session.commit()
        # The held addresses back to the old form too: 0008 undone, whatever came after it.
        downgrade(revision=ScriptDirectory(str(resource("migrations"))).get_revision(
            "0008").down_revision)
        held = dict(db.session.execute(select(Person.email, Person.address_hash)).all())
        assert held["Ola@example.no"] == legacy_hash(hash_key, "Ola@example.no")
        upgrade()
        held = dict(db.session.execute(select(Person.email, Person.address_hash)).all())
        assert held["Ola@example.no"] == subject_hash(hash_key, "ola@example.no")
        assert held[None] == legacy_hash(hash_key, "Kari@example.no")

    def check(purpose, emails):
        answer = client.post("/api/v1/marketing/check", headers=key,
                             json={"purpose": purpose, "emails": emails})
        return [(r["status"], r["reason"]) for r in answer.get_json()["results"]]

    assert check("newsletter", ["Kari@example.no"]) == [("denied", "erased")]
    assert check("newsletter", ["Per@example.no", "per@example.no", "PER@EXAMPLE.NO"]) == [
        ("denied", "withdrawn")] * 3
    assert check("newsletter", ["Ola@example.no", "ola@example.no", "OLA@example.no"]) == [
        ("allowed", "consent")] * 3
    # The access link and the unsubscribe find the re-keyed person in another spelling.
    assert client.post(access_link(client, smtp, "OLA@example.no"), data={}).status_code == 200
    assert check("newsletter", ["ola@example.no"]) == [("denied", "withdrawn")]
    # The erased address, signed up again, is the same person again (its old hash re-keyed).
    assert sign_up(client, "Kari@example.no").status_code == 202
    assert check("newsletter", ["kari@example.no"]) == [("denied", "pending")]
    assert client.post(link(smtp.messages[-1], "confirm")).status_code == 200
    assert check("newsletter", ["KARI@example.no"]) == [("allowed", "consent")]
    with app.app_context():
        assert len(db.session.execute(select(Person)).all()) == 3
        db.session.remove()
        db.engine.dispose()


def test_the_erased_old_hash_wins_over_a_folded_match(tmp_path, app_factory, publish,
                                                      mail_settings, smtp, access_link,
                                                      confirmed):
    """Two spellings held as two people before 0008, one of them erased: the erased spelling
    stays denied although the other person now owns the folded hash."""
    app = app_factory(**mail_settings, SQLALCHEMY_DATABASE_URI="sqlite:///" + str(
        tmp_path / "two.db"))
    client = app.test_client()
    with app.app_context():
        upgrade()
        publish(app)
        _key, secret = keys.create_key(db.session, "test", "marketing")
    confirmed(client, smtp, "kari@example.no")
    confirmed(client, smtp, "anna@example.no")
    client.post(access_link(client, smtp, "anna@example.no") + "/erase",
                data={"confirmed": "1"})
    hash_key = app.config["EMAIL_HASH_KEY"]
    with app.app_context():  # as if the erased one had been "Kari@example.no" before 0008
        db.session.execute(update(Person).where(Person.email.is_(None)).values(
            address_hash=legacy_hash(hash_key, "Kari@example.no")))
        db.session.commit()
    answer = client.post("/api/v1/marketing/check", headers={"Authorization": f"Bearer {secret}"},
                         json={"purpose": "newsletter",
                               "emails": ["Kari@example.no", "kari@example.no"]})
    assert [(r["status"], r["reason"]) for r in answer.get_json()["results"]] == [
        ("denied", "erased"), ("allowed", "consent")]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
