"""`manage.py ensureadmin`: make sure an administrator exists; print the login once, when it is created.

The generated password is printed and nowhere else: it is not written to disk, so nothing readable
lies around after the first sign-in. Lost it? `manage.py changepassword <username>` sets a new one.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.translation import gettext

# Earlier versions kept the generated password here for good; it is removed on the next run.
LEGACY_FILE_NAME = "admin-password"


class Command(BaseCommand):
    help = "Create an admin account if there is none and print its password once (it is not stored anywhere)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, **options) -> None:
        self.remove_legacy_password_file()
        users = get_user_model()
        url = f"{settings.PUBLIC_URL}/admin/"
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                gettext("Admin: %(url)s (existing account; forgot its password? manage.py changepassword <username>)")
                % {"url": url}
            )
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(options["username"], "", password)
        # "login:" and "password:" stay as they are in every language: scripts and tests read the line.
        self.stdout.write(self.style.SUCCESS(f"Admin: {url}  login: {options['username']}  password: {password}"))
        self.stdout.write(gettext("The password is shown only this once and is not stored: note it now."))

    def remove_legacy_password_file(self) -> None:
        legacy = Path(settings.VAR_DIR) / LEGACY_FILE_NAME
        if legacy.exists():
            legacy.unlink()
            self.stdout.write(
                gettext("Removed %(file)s: the admin password is no longer kept on disk.") % {"file": legacy}
            )
