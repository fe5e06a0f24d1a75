"""Accept throughput and p50/p99 of `POST /api/v1/triggers`, next to a trivial Django view served by the
same server in the same run — on the embedded default and on the scaled configuration.

- embedded: `runheartbeat` as `make run` starts it (SQLite, in-memory channel layer, daphne, the link
  and its worker in one process), pointed at a simulator with `--users` licensed users;
- scaled: PostgreSQL + Redis, one `runpbxlink` worker, and the API served two ways so the choice is
  measured, not guessed: gunicorn sync workers (heartbeat_site/gunicorn.conf.py) and as many daphne
  processes as cores (connections spread over them, as a proxy would).

Both views get the same JSON body over the same number of keep-alive connections from the load
generator in its own process. Every trigger is a real accept: key check, validation, identity
matching, licence seat, a committed row, the hand-off to the link worker — which applies them
meanwhile, as in production.
"""

from __future__ import annotations

import argparse
import os
import sys

from tests.bench.harness import Stack, away_users, loadgen, table, verdict

EMBEDDED_TARGET = 400
SCALED_TARGET = 1500
RATIO_TARGET = 0.8


def measure(
    urls: list[str], key_file: str, pids: list[int], args: argparse.Namespace, parts: dict[str, list[int]] | None = None
) -> tuple[dict, dict]:
    common = ["--connections", str(args.connections), "--duration", str(args.duration), "--warmup", str(args.warmup)]
    common += ["--users", str(args.users), "--events", "logon,lock,unlock"]
    trivial = loadgen([*(f for u in urls for f in ("--url", f"{u}/bench/trivial")), *common], pids, parts)
    api = [*(f for u in urls for f in ("--url", f"{u}/api/v1/triggers")), "--key-file", key_file, *common]
    return trivial, loadgen(api, pids, parts)


def cpu_rows(config: str, trivial: dict, triggers: dict) -> list[list]:
    return [
        [config, part, f"{trivial['parts_cpu_ms'].get(part, 0):.3f}", f"{ms:.3f}"]
        for part, ms in triggers["parts_cpu_ms"].items()
    ]


def row(config: str, server: str, trivial: dict, triggers: dict) -> list:
    ratio = triggers["ok_rps"] / trivial["ok_rps"] if trivial["ok_rps"] else 0.0
    others = {k: v for k, v in triggers["statuses"].items() if k != "202"}
    return [
        config,
        server,
        f"{trivial['ok_rps']:.0f}",
        f"{trivial['p50_ms']} / {trivial['p99_ms']}",
        f"{trivial['server_cpu_ms']}",
        f"{triggers['ok_rps']:.0f}",
        f"{triggers['p50_ms']} / {triggers['p99_ms']}",
        f"{triggers['server_cpu_ms']}",
        f"{ratio:.2f}",
        f"{trivial['load']} / {triggers['load']}",
        ", ".join(f"{k}×{v}" for k, v in others.items()) or "none",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--gunicorn-workers", type=int, default=(os.cpu_count() or 2) * 2)
    parser.add_argument("--daphne-processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--only", choices=["embedded", "scaled"], help="run one configuration")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    rows: list[list] = []
    cpu: list[list] = []
    ok = True
    if args.only in (None, "embedded"):
        with Stack("embedded", scaled=False, users=away_users(args.users)) as stack:
            stack.prepare()
            stack.start_simulator()
            server, port = stack.embedded()
            stack.wait_linked()
            parts = {"runheartbeat": [server.pid]}
            trivial, triggers = measure(
                [f"http://127.0.0.1:{port}"], str(stack.key_files[0]), [server.pid], args, parts
            )
            rows.append(row("embedded (SQLite, in-memory)", "runheartbeat (1 daphne process)", trivial, triggers))
            cpu.extend(cpu_rows("embedded", trivial, triggers))
            ok &= triggers["ok_rps"] >= EMBEDDED_TARGET
    if args.only in (None, "scaled"):
        with Stack("scaled", scaled=True, users=away_users(args.users)) as stack:
            stack.start_services()
            stack.prepare()
            stack.start_simulator()
            worker = stack.worker()
            stack.wait_linked()
            gunicorn, port = stack.gunicorn(args.gunicorn_workers)
            pids = [gunicorn.pid, worker.pid]
            services = {"PostgreSQL": [stack.pg.pid or 0], "Redis": [stack.redis.proc.pid]}
            parts = {"gunicorn (API)": [gunicorn.pid], "runpbxlink": [worker.pid], **services}
            trivial, triggers = measure([f"http://127.0.0.1:{port}"], str(stack.key_files[1]), pids, args, parts)
            cpu.extend(cpu_rows("scaled, gunicorn", trivial, triggers))
            rows.append(
                row("scaled (PostgreSQL, Redis)", f"gunicorn, {args.gunicorn_workers} sync workers", trivial, triggers)
            )
            chosen = triggers["ok_rps"] >= SCALED_TARGET and triggers["ok_rps"] >= RATIO_TARGET * trivial["ok_rps"]
            stack.stop_process(gunicorn)
            daphnes = [stack.daphne(i) for i in range(args.daphne_processes)]
            urls = [f"http://127.0.0.1:{p}" for _, p in daphnes]
            pids = [worker.pid, *(proc.pid for proc, _ in daphnes)]
            trivial, triggers = measure(urls, str(stack.key_files[2]), pids, args)
            rows.append(
                row("scaled (PostgreSQL, Redis)", f"daphne, {args.daphne_processes} processes", trivial, triggers)
            )
            ok &= chosen
    command = "python -m tests.bench.bench_accept " + " ".join(sys.argv[1:] if argv is None else argv)
    table(
        f"Accept: POST /api/v1/triggers vs a trivial view, {args.connections} connections, {args.duration:g} s",
        command.strip(),
        [
            "configuration",
            "server",
            "trivial/s",
            "trivial p50/p99 ms",
            "trivial CPU ms/req",
            "accepted/s",
            "accept p50/p99 ms",
            "accept CPU ms/req",
            "ratio",
            "load avg",
            "non-2xx",
        ],
        rows,
        [
            f"Targets: embedded ≥ {EMBEDDED_TARGET}/s; scaled (gunicorn, the chosen API server) ≥ {SCALED_TARGET}/s "
            f"and ≥ {RATIO_TARGET}× the trivial view. Result: {verdict(ok)}.",
            f"Users: {args.users} licensed, events logon/lock/unlock in turn; the link worker applies them meanwhile.",
            "CPU ms/req: CPU time of the server processes (and the link worker) per request — independent of "
            "other work on the machine; load avg: the 1-minute load average when each run started.",
        ],
    )
    table(
        "Where the CPU goes: ms per request by process",
        command.strip(),
        ["configuration", "process", "trivial view", "trigger"],
        cpu,
        ["The simulator runs in the benchmark's own process; PostgreSQL counts the postmaster and its backends."],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
