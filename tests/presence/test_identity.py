"""Identity matching: every form a computer may send resolves to exactly one PBX user, or says why not."""

from __future__ import annotations

import pytest

from presence.identity import AmbiguousUser, UnknownUser, resolve_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory(make_user):
    """A small directory with the awkward cases: shared e-mail, a number, a login that is an e-mail."""
    return {
        "alice": make_user("alice", emails=["alice@corp.example", "a.smith@corp.example"], e164="201"),
        "bob": make_user("Bob", emails=["bob@corp.example"], e164="202"),
        "carol": make_user("carol@partner.example", emails=[], e164="203"),
        "dave": make_user("dave", emails=["team@corp.example"], e164="204"),
        "erin": make_user("erin", emails=["team@corp.example"], e164="205"),
        "frank": make_user("frank", emails=["frank@corp.example"], e164="206", active=False),
        "carl": make_user("carl", emails=["c@corp.example"], e164="207"),
        "ceo": make_user("201x", emails=["carl@corp.example"]),
    }


@pytest.mark.parametrize(
    ("value", "expected", "stage"),
    [
        pytest.param("alice", "alice", "login name", id="plain-login"),
        pytest.param("Alice", "alice", "login name", id="login-case-insensitive"),
        pytest.param("  alice  ", "alice", "login name", id="login-trimmed"),
        pytest.param("BOB", "bob", "login name", id="login-stored-in-capitals"),
        pytest.param("alice@corp.example", "alice", "e-mail", id="email"),
        pytest.param("A.Smith@CORP.example", "alice", "e-mail", id="second-email-case-insensitive"),
        pytest.param("201", "alice", "number", id="number"),
        pytest.param("CORP\\alice", "alice", "login name without domain", id="netbios-domain"),
        pytest.param("corp\\ALICE", "alice", "login name without domain", id="netbios-domain-case"),
        pytest.param("alice@other.example", "alice", "login name without domain", id="upn-unknown-email"),
        pytest.param("carol@partner.example", "carol", "login name", id="login-that-is-an-email"),
        pytest.param("carl@corp.example", "ceo", "e-mail", id="email-beats-stripped-login"),
    ],
)
def test_it_resolves_each_form_to_one_user(directory, value, expected, stage):
    match = resolve_user(value)
    assert match.user == directory[expected]
    assert match.stage == stage


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("mallory", id="unknown-login"),
        pytest.param("", id="empty"),
        pytest.param("999", id="unknown-number"),
        pytest.param("frank", id="removed-from-pbx"),
        pytest.param("CORP\\", id="domain-only"),
    ],
)
def test_it_reports_unknown_users(directory, value):
    with pytest.raises(UnknownUser):
        resolve_user(value)


def test_it_reports_ambiguity_instead_of_guessing(directory):
    with pytest.raises(AmbiguousUser) as caught:
        resolve_user("team@corp.example")
    assert {u.h323 for u in caught.value.candidates} == {"dave", "erin"}
    assert "dave" in str(caught.value) and "erin" in str(caught.value)


def test_it_does_not_strip_the_domain_when_the_admin_says_no(directory):
    with pytest.raises(UnknownUser):
        resolve_user("CORP\\alice", strip=False)
    assert resolve_user("alice@corp.example", strip=False).user == directory["alice"]


def test_it_uses_one_query_whatever_the_directory_size(directory, make_user, django_assert_num_queries):
    for n in range(300):
        make_user(f"user{n}", emails=[f"user{n}@corp.example"], e164=str(5000 + n))
    with django_assert_num_queries(1):
        assert resolve_user("CORP\\user250", strip=True).user.h323 == "user250"


@pytest.mark.parametrize(("licensed", "value"), [(True, "alice@corp.example"), (False, "alice"), (True, "201")])
def test_the_match_says_whether_the_licence_switch_is_on(make_user, licensed, value):
    make_user("alice", emails=["alice@corp.example"], e164="201", licensed=licensed)
    assert resolve_user(value).licensed is licensed
