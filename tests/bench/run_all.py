"""`make bench`: every benchmark in turn, each in its own process, then all their tables again together.

The benchmarks start their own servers (tests/bench/harness.py), so nothing must be running. They
are not part of `make test`. Each prints a Markdown table with the command that produced it and the
machine; a FAIL marks a missed target (the exit status is then 1). Results go to
test-output/bench/results.md as well.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.bench.harness import OUTPUT, PYTHON, ROOT, loadavg, machine

BENCHMARKS = [
    ["tests.bench.bench_accept"],
    ["tests.bench.bench_latency"],
    ["tests.bench.bench_storm"],
    ["tests.bench.bench_directory"],
    ["tests.bench.bench_link_events"],
    ["tests.bench.bench_link_timing"],
    ["tests.bench.bench_user_page"],
]


def main() -> int:
    runs = list(BENCHMARKS)
    if (Path(__file__).parent / "bench_pbx_link.py").exists():
        runs.append(["tests.bench.bench_pbx_link"])
    started = time.monotonic()
    print(f"# Presence Heartbeat benchmarks\n\n{machine()}; load average at start {loadavg()}\n", flush=True)
    outputs, failed = [], []
    for module in runs:
        print(f"--- python -m {' '.join(module)}", flush=True)
        done = subprocess.run([PYTHON, "-m", *module], cwd=ROOT, capture_output=True, text=True)
        text = done.stdout
        if done.returncode != 0:
            failed.append(module[0])
            if "### " not in text:  # crashed before its table: show why
                text += f"\n{module[0]} exited with {done.returncode}:\n{done.stderr[-3000:]}\n"
        print(text, flush=True)
        outputs.append(text[text.find("### ") :] if "### " in text else text)
    summary = f"{len(runs) - len(failed)} of {len(runs)} met their targets"
    summary += f" ({', '.join(failed)} did not)" if failed else ""
    report = "\n".join(outputs) + f"\n{summary}; {time.monotonic() - started:.0f} s in all.\n"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "results.md").write_text(report)
    print("=" * 78 + "\n" + report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
