"""What each override of a framework's internals buys (heartbeat_site/helpers), on the trigger accept path.

For each override, CPU per accepted trigger through Django's request cycle in-process (as
`profile_paths`: the test client, 2,000 licensed users), with the override on and with the upstream
behaviour put back, alternating runs so that other load on the machine hits both alike. Process CPU
time, so the machine's other work changes little. Overrides that buy less than 5 % of the path are
dropped (issue 15); this script is how that was decided.

Run on PostgreSQL + Redis (what the overrides are for):
`python -m tests.services -- python -m tests.bench.bench_overrides`
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

from tests.bench.harness import in_process_test_database, licensed_directory, machine, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    in_process_test_database()
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCacheClient
    from django.db import connection
    from django.test import Client
    from rest_framework import serializers

    from triggers.models import Trigger
    from triggers.serializers import TriggerInSerializer

    key = licensed_directory(2000, "overrides")
    client = Client()
    counter = iter(range(10**9))

    def accept_cpu_ms() -> float:
        started = time.process_time()
        for _ in range(args.requests):
            n = next(counter)
            body = json.dumps({"user": f"user{n % 2000}@example.com", "event": "lock"})
            response = client.post(
                "/api/v1/triggers", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
            )
            assert response.status_code == 202, response.content
        return (time.process_time() - started) / args.requests * 1000

    overrides: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {}
    backend = caches["default"]
    if getattr(backend, "_class", RedisCacheClient) is not RedisCacheClient:
        pooled = backend._class

        def swap_client(cls) -> Callable[[], None]:
            def swap() -> None:
                backend._class = cls
                backend.__dict__.pop("_cache", None)  # the cached client object

            return swap

        overrides["cache.PooledRedisCacheClient (one client per pool)"] = (
            swap_client(RedisCacheClient),
            swap_client(pooled),
        )
    ours_fields = TriggerInSerializer.__dict__.get("get_fields")
    if ours_fields is not None:

        def upstream_fields() -> None:
            TriggerInSerializer.get_fields = serializers.Serializer.get_fields

        def our_fields() -> None:
            TriggerInSerializer.get_fields = ours_fields

        overrides["serializer get_fields (shallow copies)"] = (upstream_fields, our_fields)

    accept_cpu_ms()  # warm caches and prepared statements
    rows = []
    for name, (off, on) in overrides.items():
        with_ours, upstream = [], []
        for _ in range(args.rounds):
            on()
            with_ours.append(accept_cpu_ms())
            off()
            upstream.append(accept_cpu_ms())
        on()
        mine, theirs = statistics.median(with_ours), statistics.median(upstream)
        gain = (theirs - mine) / theirs * 100
        rows.append([name, f"{theirs:.3f}", f"{mine:.3f}", f"{gain:+.1f} %", "keep" if gain >= 5 else "drop"])
    Trigger.objects.all().delete()
    table(
        f"What each framework override buys on the accept path ({connection.vendor})",
        "python -m tests.services -- python -m tests.bench.bench_overrides " + " ".join(sys.argv[1:]),
        ["override", "upstream ms CPU/trigger", "with it", "gain", "verdict (≥ 5 %)"],
        rows,
        [f"Medians of {args.rounds} alternating runs of {args.requests} accepted triggers each; {machine()}."],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
