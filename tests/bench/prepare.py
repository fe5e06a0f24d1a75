"""Prepares a benchmark database (run as a subprocess with the server's environment, after migrate).

A licence signed by the benchmark's throwaway issuer key (trusted through LICENSE_PUBLIC_KEY), the
licence switches of the given PBX user GUIDs (seats are by GUID, so before replication is fine),
one API key per `--key-file`, written there with mode 0600 and never printed, and a Django account
per `--account` (a PBX login name, to sign in to the user page with) with the password read from
`--password-file`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issuer", required=True, help="PEM file of the throwaway licence issuer key")
    parser.add_argument("--guids", required=True, help="file with one PBX user GUID per line to license")
    parser.add_argument("--key-file", action="append", default=[], help="write a new API key here")
    parser.add_argument("--account", action="append", default=[], help="a user-page account of this name")
    parser.add_argument("--password-file", help="the accounts' password (needed with --account)")
    parser.add_argument("--seats", type=int, help="seats in the licence (default: the licensed users and 10 more)")
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from licensing import tokens
    from licensing.models import Installation, Licence, Seat
    from triggers.models import ApiKey

    with open(args.issuer, "rb") as pem:
        issuer = tokens.load_private_key(pem.read())
    guids = [line.strip() for line in Path(args.guids).read_text().splitlines() if line.strip()]
    today = timezone.localdate()
    terms = tokens.LicenceTerms(
        customer="Benchmark",
        instance=Installation.current().instance_id,
        seats=args.seats or max(len(guids), 1) + 10,
        valid_from=today - dt.timedelta(days=1),
        valid_until=today + dt.timedelta(days=30),
        issued_at=timezone.now().replace(microsecond=0),
        serial=1,
    )
    Licence.enter(tokens.issue(terms, issuer))
    Seat.objects.bulk_create([Seat(user_guid=g) for g in guids], batch_size=2000, ignore_conflicts=True)
    if args.account:
        password = Path(args.password_file).read_text().strip()
        for name in args.account:
            get_user_model().objects.create_user(name, password=password)
    for n, path in enumerate(args.key_file):
        _, clear = ApiKey.create(f"bench {n} {os.getpid()}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(clear)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
