"""One AppLogin from message to PBX user: every way it must fail, and the one way it succeeds.

The logins come from the simulated PBX (`PbxSimulator.app_login`), signed with the App object's
password over our challenge, exactly as myApps hands them to the page.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache

from presence.models import PbxUser
from presence.myapps import tokens
from presence.myapps.config import ADMIN, USER, app_object
from presence.myapps.signin import SignInRefused, sign_in
from presence.myapps.verify import expected_digest, parse_login
from tests.presence.myapps.conftest import ADMIN_APP, USER_APP, USER_PASSWORD

pytestmark = pytest.mark.django_db


def refused(message: dict, challenge: str | None, role: str = USER) -> str:
    with pytest.raises(SignInRefused) as caught:
        sign_in(message, challenge, app_object(role))
    return caught.value.code


def test_it_signs_in_the_pbx_user_the_login_names(pbx, alice):
    challenge = tokens.new_challenge()
    assert sign_in(pbx.app_login(USER_APP, "alice", challenge), challenge, app_object(USER)) == alice


def test_the_admin_app_signs_in_with_its_own_app_object(pbx, alice):
    challenge = tokens.new_challenge()
    assert sign_in(pbx.app_login(ADMIN_APP, "alice", challenge), challenge, app_object(ADMIN)) == alice


def test_a_challenge_is_16_digits_and_never_repeats():
    challenges = {tokens.new_challenge() for _ in range(200)}
    assert len(challenges) == 200
    assert all(len(c) == 16 and c.isdigit() for c in challenges)


def test_it_refuses_a_challenge_it_did_not_issue(pbx):
    assert refused(pbx.app_login(USER_APP, "alice", "1234567890123456"), "1234567890123456") == "challenge_expired"


def test_it_refuses_an_expired_challenge(pbx):
    challenge = tokens.new_challenge()
    cache.delete(f"myapps:challenge:{challenge}")  # what the cache does after CHALLENGE_TTL
    assert refused(pbx.app_login(USER_APP, "alice", challenge), challenge) == "challenge_expired"


def test_each_challenge_signs_one_login_only(pbx):
    challenge = tokens.new_challenge()
    sign_in(pbx.app_login(USER_APP, "alice", challenge), challenge, app_object(USER))
    # The same challenge again, even with a fresh, correct login for it (another connection racing).
    assert refused(pbx.app_login(USER_APP, "bob", challenge), challenge) == "challenge_expired"


def test_a_failed_attempt_uses_the_challenge_up(pbx):
    challenge = tokens.new_challenge()
    bad = pbx.app_login(USER_APP, "alice", challenge) | {"digest": "0" * 64}
    assert refused(bad, challenge) == "bad_digest"
    assert refused(pbx.app_login(USER_APP, "alice", challenge), challenge) == "challenge_expired"


def test_it_refuses_a_login_before_a_challenge(pbx):
    assert refused(pbx.app_login(USER_APP, "alice", "1"), None) == "no_challenge"


def test_it_refuses_a_replayed_login_and_says_so(pbx):
    first = tokens.new_challenge()
    login = pbx.app_login(USER_APP, "alice", first)
    sign_in(login, first, app_object(USER))
    # Captured and sent again on a new connection, which got a challenge of its own.
    assert refused(login, tokens.new_challenge()) == "replayed"


def test_it_refuses_a_login_signed_with_another_password(pbx):
    challenge = tokens.new_challenge()
    login = pbx.app_login(USER_APP, "alice", challenge)
    login["digest"] = expected_digest(parse_login(login), challenge, "not the App object password")
    assert refused(login, challenge) == "bad_digest"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda m: m["info"].update(cn="Mallory"), id="info"),
        pytest.param(lambda m: m.update(guid="f" * 32), id="guid"),
        pytest.param(lambda m: m.update(sip="bob"), id="sip"),
        pytest.param(lambda m: m.update(dn="Somebody Else"), id="dn"),
        pytest.param(lambda m: m.update(domain="evil.example"), id="domain"),
    ],
)
def test_it_refuses_a_login_changed_on_the_way(pbx, change):
    challenge = tokens.new_challenge()
    login = pbx.app_login(USER_APP, "alice", challenge)
    change(login)
    assert refused(login, challenge) == "bad_digest"


def test_a_guid_changed_to_another_known_user_does_not_sign_in_as_them(pbx, alice):
    bob = PbxUser.objects.get(h323="bob")
    challenge = tokens.new_challenge()
    login = pbx.app_login(USER_APP, "alice", challenge) | {"guid": bob.guid, "sip": "bob"}
    assert refused(login, challenge) == "bad_digest"


def test_the_password_is_chosen_by_the_signed_appobj_never_by_pbxobj(pbx):
    # A user-app login presented to the admin app, claiming (unsigned) pbxObj to be the admin app.
    challenge = tokens.new_challenge()
    login = pbx.app_login(USER_APP, "alice", challenge) | {"pbxObj": ADMIN_APP, "app": ADMIN_APP}
    assert refused(login, challenge, ADMIN) == "wrong_app"


def test_an_appobj_changed_to_this_app_breaks_the_digest(pbx):
    challenge = tokens.new_challenge()
    login = pbx.app_login(USER_APP, "alice", challenge)
    login["info"]["appobj"] = ADMIN_APP
    assert refused(login, challenge, ADMIN) == "bad_digest"


def test_it_refuses_a_user_unknown_to_the_directory(pbx):
    challenge = tokens.new_challenge()
    assert refused(pbx.app_login(USER_APP, "mallory", challenge), challenge) == "unknown_user"


def test_it_refuses_a_user_removed_from_the_pbx(pbx, alice):
    PbxUser.objects.filter(pk=alice.pk).update(active=False)
    challenge = tokens.new_challenge()
    assert refused(pbx.app_login(USER_APP, "alice", challenge), challenge) == "inactive_user"


def test_the_admin_app_may_be_limited_to_named_users(pbx, settings):
    settings.MYAPPS_ADMIN_USERS = ["carol", "BOB"]
    pbx.apps[ADMIN_APP].users = None  # the PBX gave it to everybody
    challenge = tokens.new_challenge()
    assert refused(pbx.app_login(ADMIN_APP, "alice", challenge), challenge, ADMIN) == "not_allowed"
    challenge = tokens.new_challenge()
    assert sign_in(pbx.app_login(ADMIN_APP, "bob", challenge), challenge, app_object(ADMIN)).h323 == "bob"


def test_an_app_without_a_password_is_off(pbx, settings):
    settings.MYAPPS_USER_PASSWORD = ""
    challenge = tokens.new_challenge()
    assert refused(pbx.app_login(USER_APP, "alice", challenge), challenge) == "app_off"


def test_a_message_not_shaped_like_a_login_is_refused(pbx):
    assert refused({"mt": "AppLogin", "sip": "alice"}, tokens.new_challenge()) == "malformed"


def test_it_refuses_when_the_cache_cannot_be_reached(pbx, monkeypatch):
    challenge = tokens.new_challenge()

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "delete", down)
    assert refused(pbx.app_login(USER_APP, "alice", challenge), challenge) == "unavailable"


def test_refusals_are_sentences_in_the_active_language():
    from django.utils import translation

    with translation.override("de"):
        assert "Admin-App" in SignInRefused("not_allowed").detail
    assert "admin app" in SignInRefused("not_allowed").detail


def test_the_log_names_who_and_why_but_never_the_digest_or_password(pbx, caplog):
    caplog.set_level(logging.INFO, logger="presence.myapps")
    challenge = tokens.new_challenge()
    login = pbx.app_login(USER_APP, "alice", challenge)
    bad = login | {"digest": "ab" * 32}
    refused(bad, challenge)
    challenge = tokens.new_challenge()
    sign_in(pbx.app_login(USER_APP, "alice", challenge), challenge, app_object(USER))
    text = caplog.text
    assert "bad_digest" in text and "alice signed in" in text
    assert "ab" * 32 not in text and login["digest"] not in text and USER_PASSWORD not in text
