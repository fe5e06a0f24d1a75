"""`manage.py ensureadmin`: the first admin's password is printed once and kept nowhere."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def ensureadmin(*args: str) -> str:
    out = io.StringIO()
    call_command("ensureadmin", *args, stdout=out)
    return out.getvalue()


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


def test_it_prints_a_working_password_once_and_writes_no_file(settings):
    before = files_under(Path(settings.VAR_DIR))
    output = ensureadmin()
    password = re.search(r"login: admin  password: (\S+)", output).group(1)
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert "shown only this once" in output
    assert not any(password in p.read_text(errors="ignore") for p in files_under(Path(settings.VAR_DIR)) - before)
    assert not (Path(settings.VAR_DIR) / "admin-password").exists()

    again = ensureadmin()
    assert password not in again and "existing account" in again and "changepassword" in again
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


def test_it_removes_the_password_file_earlier_versions_kept(settings):
    legacy = Path(settings.VAR_DIR) / "admin-password"
    legacy.write_text("old-clear-text-password\n")
    output = ensureadmin()
    assert not legacy.exists()
    assert f"Removed {legacy}" in output
