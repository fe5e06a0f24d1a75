"""manage.py licenseusers flips licence switches from scripts; unknown logins change nothing."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from licensing.models import Seat

pytestmark = pytest.mark.django_db


def test_it_switches_users_on_and_off_by_login(make_user, capsys):
    alice = make_user("alice", licensed=False)
    bob = make_user("Bob", licensed=False)
    call_command("licenseusers", "--on", "alice", "bob")
    assert set(Seat.objects.values_list("user_guid", flat=True)) == {alice.guid, bob.guid}
    call_command("licenseusers", "--off", "BOB")
    assert list(Seat.objects.values_list("user_guid", flat=True)) == [alice.guid]
    assert "switched off for 1" in capsys.readouterr().out


def test_an_unknown_login_fails_and_changes_nothing(make_user):
    make_user("alice", licensed=False)
    with pytest.raises(CommandError, match="mallory"):
        call_command("licenseusers", "--on", "alice", "mallory")
    assert not Seat.objects.exists()
