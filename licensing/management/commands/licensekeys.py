"""`manage.py licensekeys generate | issue`: the licence issuer's side (not needed on installations).

The private key never leaves the issuer's machine: `generate` writes it (mode 600) and prints the
public key that installations put into LICENSE_PUBLIC_KEY; `issue` signs one licence key with it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from licensing import tokens


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date: use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Licence issuer: generate a signing key pair, or issue a licence key for an instance id."
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{generate,issue}")
        gen = sub.add_parser("generate", help="Write a new Ed25519 key pair.")
        gen.add_argument("--private-key", default="licence-issuer-key.pem", help="Where to write the private key.")
        gen.add_argument("--public-key", default="licence-issuer-key.pub", help="Where to write the public key.")
        issue = sub.add_parser("issue", help="Print a licence key.")
        issue.add_argument("--private-key", required=True, metavar="FILE", help="The issuer's private key (PEM).")
        issue.add_argument("--instance", required=True, metavar="ID", help="The installation's instance id.")
        issue.add_argument("--seats", required=True, type=int, metavar="N")
        issue.add_argument("--until", required=True, metavar="DATE", help="Last valid day (YYYY-MM-DD).")
        issue.add_argument("--customer", required=True, metavar="C")
        issue.add_argument("--from", dest="valid_from", metavar="DATE", help="First valid day (default: today).")
        issue.add_argument("--serial", type=int, metavar="N", help="Default: the current Unix time (increasing).")

    def handle(self, *args, **options) -> None:
        getattr(self, f"do_{options['action']}")(options)

    def do_generate(self, options) -> None:
        private_path, public_path = Path(options["private_key"]), Path(options["public_key"])
        for path in (private_path, public_path):
            if path.exists():
                raise CommandError(f"{path} exists: refusing to overwrite a key. Choose another file name.")
        key = Ed25519PrivateKey.generate()
        # Mode 600 from creation on: the private key is never readable by others.
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(tokens.private_pem(key))
        public = tokens.public_b64(key.public_key())
        public_path.write_text(public + "\n")
        self.stdout.write(f"Private key: {private_path} (keep it secret; it signs licence keys)")
        self.stdout.write(f"Public key:  {public_path}")
        self.stdout.write(f"For installations: LICENSE_PUBLIC_KEY={public}")

    def do_issue(self, options) -> None:
        try:
            key = tokens.load_private_key(Path(options["private_key"]).read_bytes())
        except OSError as exc:
            raise CommandError(f"Cannot read {options['private_key']}: {exc.strerror}.") from None
        except tokens.UnreadableKey as exc:
            raise CommandError(str(exc)) from None
        now = timezone.now()
        valid_from = _date(options["valid_from"]) if options["valid_from"] else timezone.localdate()
        valid_until = _date(options["until"])
        if valid_until < valid_from:
            raise CommandError(f"--until {valid_until} is before the first valid day {valid_from}.")
        if options["seats"] < 1:
            raise CommandError("--seats must be at least 1.")
        if not options["customer"].strip() or not options["instance"].strip():
            raise CommandError("--customer and --instance must not be empty.")
        terms = tokens.LicenceTerms(
            customer=options["customer"].strip(),
            instance=options["instance"].strip(),
            seats=options["seats"],
            valid_from=valid_from,
            valid_until=valid_until,
            issued_at=now.replace(microsecond=0),
            serial=options["serial"] if options["serial"] is not None else int(now.timestamp()),
        )
        self.stdout.write(tokens.issue(terms, key))
