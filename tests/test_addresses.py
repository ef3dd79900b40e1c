"""E-mail addresses: normalised before matching, hashed under their own key."""
import pytest

from consent_server.people.addresses import InvalidAddress, normalise, subject_hash


@pytest.mark.parametrize("given, normalised", [
    ("  Kari.Nordmann@Example.NO ", "Kari.Nordmann@example.no"),
    ("ola@EXENTRI.no", "ola@exentri.no"),
])
def test_addresses_are_trimmed_and_their_domain_lower_cased(given, normalised):
    """REQ M-05: trim, lower-case the domain, keep the local part for sending (the hash
    folds it: test_address_case.py)."""
    assert normalise(given) == normalised


@pytest.mark.parametrize("bad", ["", "no-at-sign", "a@", "@b.no", "a b@c.no", "a@b..no"])
def test_malformed_addresses_are_refused(bad):
    with pytest.raises(InvalidAddress):
        normalise(bad)


def test_the_subject_hash_depends_on_the_key_and_not_on_the_case():
    a = subject_hash("key-1", "Kari@Example.no")
    assert a == subject_hash("key-1", " Kari@example.NO")
    assert a != subject_hash("key-2", "Kari@example.no")
    assert a == subject_hash("key-1", "kari@example.no")  # REQ M-05: case-folded whole
    assert len(a) == 64 and "kari" not in a.lower()
