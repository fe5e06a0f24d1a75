"""`manage.py ensureadmin`: make sure an administrator exists; print the login when one is created."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an admin account if there is none, and say how to sign in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, **options) -> None:
        users = get_user_model()
        url = f"{settings.PUBLIC_URL}/admin/"
        # The generated password is kept (mode 600) next to the database so that `make run` can repeat it.
        password_file = Path(settings.VAR_DIR) / "admin-password"
        if users.objects.filter(is_superuser=True).exists():
            hint = f"password in {password_file}" if password_file.exists() else "your password"
            self.stdout.write(f"Admin: {url} (existing account; {hint})")
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(options["username"], "", password)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(f"Admin: {url}  login: {options['username']}  password: {password}"))
