"""Sign-in is throttled per account and per address, on the admin and the user page alike
(security review finding 14: 15 wrong admin passwords, then the right one worked)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db
PASSWORD = "the right horse battery staple"
LOGINS = ["/admin/login/", "/accounts/login/"]


@pytest.fixture
def admin_account(db):
    return get_user_model().objects.create_superuser("admin", password=PASSWORD)


@pytest.fixture
def limit(settings) -> int:
    return getattr(settings, "AXES_FAILURE_LIMIT", 5)


def sign_in(client: Client, url: str, username: str, password: str, address: str = "203.0.113.5"):
    return client.post(url, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", LOGINS)
def test_an_account_is_locked_after_too_many_wrong_passwords_from_anywhere(admin_account, limit, url):
    answers = [sign_in(Client(), url, "admin", f"guess-{n}", address=f"198.51.100.{n + 1}") for n in range(limit)]
    # A botnet, each attempt from another address: refused like any wrong password, the last one locks.
    assert [a.status_code for a in answers] == [200] * (limit - 1) + [429]
    client = Client()
    locked = sign_in(client, url, "admin", PASSWORD, address="192.0.2.77")
    assert locked.status_code == 429 and not signed_in(client)
    assert "too many" in locked.content.decode().lower()


@pytest.mark.parametrize("url", LOGINS)
def test_an_address_is_locked_after_too_many_wrong_passwords_for_any_account(admin_account, limit, url):
    for n in range(limit):  # one address trying many names
        sign_in(Client(), url, f"user{n}", "guess", address="203.0.113.9")
    client = Client()
    assert sign_in(client, url, "admin", PASSWORD, address="203.0.113.9").status_code == 429
    assert not signed_in(client)
    other = Client()  # the right password from elsewhere still works: the account is not locked
    assert sign_in(other, url, "admin", PASSWORD, address="192.0.2.10").status_code == 302 and signed_in(other)


def test_a_few_wrong_passwords_do_not_lock_anyone_out(admin_account, limit):
    for n in range(limit - 1):
        sign_in(Client(), "/admin/login/", "admin", f"typo-{n}")
    client = Client()
    assert sign_in(client, "/admin/login/", "admin", PASSWORD).status_code == 302 and signed_in(client)


def test_the_failed_attempts_keep_no_password(admin_account, limit):
    from axes.models import AccessAttempt

    sign_in(Client(), "/accounts/login/", "admin", "hunter2-secret")
    attempt = AccessAttempt.objects.get()
    assert "hunter2-secret" not in attempt.post_data and attempt.username == "admin"


def test_refused_proxy_sign_ins_count_as_no_password_guesses(settings, admin_account, limit):
    """Behind an SSO proxy every sign-in comes from the proxy's address: refusals there must not lock it."""
    settings.SSO_HEADER = "HTTP_X_REMOTE_USER"
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "presence.userpage.sso.ProxyHeaderSSOMiddleware",
    )
    settings.MIDDLEWARE = middleware
    backends = list(settings.AUTHENTICATION_BACKENDS)
    backends.insert(1, "presence.userpage.sso.ProxyHeaderSSOBackend")
    settings.AUTHENTICATION_BACKENDS = backends
    for _ in range(limit * 2):  # SSO never enters the superuser: refused each time
        Client().get("/admin/", headers={"X-Remote-User": "admin"}, REMOTE_ADDR="10.0.0.2")
    client = Client()
    assert sign_in(client, "/admin/login/", "admin", PASSWORD, address="10.0.0.2").status_code == 302
    assert signed_in(client)
