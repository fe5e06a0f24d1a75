"""What each middleware of ours (and the third-party ones we added) costs every request, in-process.

The trivial view (`/bench/trivial`) through Django's test client, with the whole MIDDLEWARE and with
each of LocaleMiddleware, django-axes and the two myApps middlewares taken out in turn; process CPU
time per request, alternating rounds so that other load on the machine hits every variant alike.

`python -m tests.bench.bench_middleware` (SQLite) or under `python -m tests.services --` (PostgreSQL +
Redis; the trivial view touches neither).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from tests.bench.harness import in_process_test_database

OURS = ("presence.", "axes.", "django.middleware.locale.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    in_process_test_database(bench_views=True)
    from django.conf import settings
    from django.test import Client, override_settings

    full = list(settings.MIDDLEWARE)
    variants = {"all": full}
    for name in full:
        if name.startswith(OURS):
            variants[f"without {name.rsplit('.', 1)[-1]}"] = [m for m in full if m != name]
    variants["without all of these"] = [m for m in full if not m.startswith(OURS)]

    def per_request(middleware: list[str]) -> float:
        with override_settings(MIDDLEWARE=middleware):
            client = Client()
            for _ in range(100):
                client.post("/bench/trivial", "{}", content_type="application/json")
            started = time.process_time()
            for _ in range(args.requests):
                client.post("/bench/trivial", "{}", content_type="application/json")
            return (time.process_time() - started) / args.requests * 1000

    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, middleware in variants.items():
            results[name].append(per_request(middleware))
    print("### Middleware: CPU ms per request of the trivial view, in-process\n")
    command = " ".join(["python -m tests.bench.bench_middleware", *(sys.argv[1:] if argv is None else argv)])
    print(f"`{command}`")
    print(f"({settings.DATABASES['default']['ENGINE']}, {args.rounds} rounds of {args.requests})\n")
    print("| variant | median ms | runs |\n|---|---|---|")
    for name, runs in results.items():
        print(f"| {name} | {statistics.median(runs):.3f} | {', '.join(f'{r:.3f}' for r in runs)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
