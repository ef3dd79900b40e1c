"""Property tests for the people's signed links (hypothesis): any edit of a token, a token of
another kind or under another key is refused; nothing but the signed payload ever comes out."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_server.people import links

KINDS = (links.CONFIRM, links.ACCESS, links.UNSUBSCRIBE)
PAYLOADS = st.fixed_dictionaries({"s": st.text(min_size=1, max_size=64)},
                                 optional={"n": st.text(max_size=32),
                                           "p": st.sampled_from(("newsletter", "marketing"))})
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
EXAMPLES = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def signing(app):
    with app.test_request_context():
        yield app


@EXAMPLES
@given(kind=st.sampled_from(KINDS), payload=PAYLOADS, where=st.integers(min_value=0),
       char=st.sampled_from(ALPHABET))
def test_an_edited_token_is_forged_or_unchanged(signing, kind, payload, where, char):
    """REQ M-02 M-03: one character changed anywhere: refused as Forged, or (where the edit only
    touches base64's unused bits) the very same payload; never another payload, never another
    error."""
    token = links.sign(kind, payload)
    at = where % len(token)
    edited = token[:at] + char + token[at + 1:]
    try:
        assert links.load(kind, edited) == payload
    except links.Forged:
        assert edited != token


@EXAMPLES
@given(kinds=st.permutations(KINDS), payload=PAYLOADS)
def test_a_token_of_one_kind_is_never_another(signing, kinds, payload):
    """The salt per kind: a never-expiring unsubscribe link is no access link, and so on."""
    token = links.sign(kinds[0], payload)
    assert links.load(kinds[0], token) == payload
    for other in kinds[1:]:
        with pytest.raises(links.Forged):
            links.load(other, token)


@EXAMPLES
@given(kind=st.sampled_from(KINDS), payload=PAYLOADS, cut=st.integers(min_value=1))
def test_a_truncated_token_or_one_under_another_key_is_forged(signing, kind, payload, cut):
    token = links.sign(kind, payload)
    with pytest.raises(links.Forged):
        links.load(kind, token[:-(cut % len(token)) or -1])
    secret = signing.config["SECRET_KEY"]
    signing.config["SECRET_KEY"] = secret + "-another"
    try:
        with pytest.raises(links.Forged):
            links.load(kind, token)
    finally:
        signing.config["SECRET_KEY"] = secret
