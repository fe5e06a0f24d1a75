"""CPU per trigger of the two hot paths, in-process, with a cProfile listing (`python -m tests.bench.profile_paths`).

- accept: 300 `POST /api/v1/triggers` through Django's test client (the whole request cycle, no
  network), 2,000 licensed users;
- worker: `plan_round` + `write_answers` for 2,000 queued locks (the link worker's database side).

Process CPU time, so other load on the machine does not change the numbers much. Uses a throwaway
test database (SQLite by default; DATABASE_URL for PostgreSQL).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time

from tests.bench.harness import in_process_test_database, licensed_directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="print the most expensive functions (CPU time)")
    parser.add_argument("--sort", default="tottime", help="pstats sort key, e.g. cumulative")
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    in_process_test_database(bench_views=True)  # the trivial view: what the test client and middleware cost alone
    from django.test import Client
    from django.utils import timezone

    from presence.link import store
    from presence.models import PbxUser
    from triggers.models import Trigger

    key = licensed_directory(2000, "profile")
    client = Client()

    def post(count: int) -> None:
        for i in range(count):
            body = json.dumps({"user": f"user{i % 2000}@example.com", "event": "lock"})
            response = client.post(
                "/api/v1/triggers", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
            )
            assert response.status_code == 202, response.content

    def trivial(count: int) -> None:
        for i in range(count):
            body = json.dumps({"user": f"user{i % 2000}@example.com", "event": "lock"})
            response = client.post("/bench/trivial", body, content_type="application/json")
            assert response.status_code == 200

    trivial(20)
    started = time.process_time()
    trivial(args.requests)
    trivial_ms = (time.process_time() - started) / args.requests * 1000

    post(20)  # warm caches
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    post(args.requests)
    if profiler:
        profiler.disable()
    accept_ms = (time.process_time() - started) / args.requests * 1000

    Trigger.objects.all().delete()
    now = timezone.now()
    all_users = list(PbxUser.objects.all())
    known = {u.guid for u in all_users}  # the PBX has reported everybody's presence
    Trigger.objects.bulk_create(
        # Locks: each one sends (a logon over a presence already available rightly sends nothing).
        [Trigger(user_value=u.h323, pbx_user=u, event="lock", at=now, received_at=now) for u in all_users]
    )
    started = time.process_time()
    planned = store.plan_round(set(), known)
    planned_at = time.process_time()
    store.write_answers([store.Applied(send, timezone.now()) for send in planned.sends])
    written_at = time.process_time()
    count = max(len(planned.sends), 1)

    # Under a steady load the worker plans every few ms: small rounds, where each round's own queries
    # and transactions weigh more than the rows. Each trigger also brings the PBX's PresenceUpdate.
    round_size, rounds = 5, 200
    events = iter(["lock", "unlock"] * rounds * round_size)
    round_cpu = 0.0
    for r in range(rounds):
        users = all_users[(r * round_size) % len(all_users) :][:round_size]
        now = timezone.now()
        Trigger.objects.bulk_create(
            [Trigger(user_value=u.h323, pbx_user=u, event=next(events), at=now, received_at=now) for u in users]
        )
        started_round = time.process_time()
        planned_round = store.plan_round(set(), known)
        answered = timezone.now()
        ops: list = []
        for send in planned_round.sends:
            presence = [{"contact": "heartbeat", "activity": send.target.activity, "note": send.target.note}]
            ops += [store.Reported(send.guid, presence, answered), store.Applied(send, answered)]
        store.write_answers(ops)
        round_cpu += time.process_time() - started_round
    print("| path | CPU ms per trigger |\n|---|---|")
    print(f"| trivial view (test client, {args.requests} posts) | {trivial_ms:.2f} |")
    print(f"| accept (test client, {args.requests} posts) | {accept_ms:.2f} |")
    print(f"| worker: plan_round ({count} locks) | {(planned_at - started) / count * 1000:.2f} |")
    print(f"| worker: write_answers ({count} outcomes) | {(written_at - planned_at) / count * 1000:.2f} |")
    print(
        f"| worker: {rounds} rounds of {round_size} (plan_round, then write_answers with outcome and PresenceUpdate) "
        f"| {round_cpu / (rounds * round_size) * 1000:.2f} |"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.rows)


if __name__ == "__main__":
    main()
