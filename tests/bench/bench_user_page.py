"""The user page's answer to a press, in a real browser: the speed claims the browser tests no longer assert.

    python -m tests.bench.bench_user_page [--presses 20]

`runheartbeat` (embedded default) against the simulator, Debian's chromium through Playwright,
signed in at /accounts/login/ like a user. Each press is timed inside the page, from the button's
click to the status line showing the answer (a MutationObserver; the repaint after it is not in
the number), for the three answers the issue wants "within a second" (the old browser tests waited
at most 1,000 ms for each):

| scenario | press → |
|---|---|
| applied | "Done: “…” is set." (HTTP → trigger row → link worker → SetPresence → outcome over the socket) |
| PBX down | "The phone system cannot be reached right now. …" (from the POST's answer) |
| not licensed | "This user is not licensed …" (refused by the POST) |

This is not a test: it prints a table and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import time
import urllib.request

from presence.pbx.simulator import generate_users
from tests.bench.harness import Stack, table, verdict
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

TARGET_MS = 1000.0

# Clicks the preset button `name` and resolves to the milliseconds until the status line holds text
# starting with `expected` (null after 30 s).
TIMED_PRESS = """async ([name, expected]) => {
  const status = document.getElementById("status");
  const shown = new Promise((resolve) => {
    const check = () => {
      if (status.textContent.startsWith(expected)) { observer.disconnect(); resolve(performance.now()); }
    };
    const observer = new MutationObserver(check);
    observer.observe(status, {childList: true, characterData: true, subtree: true});
    setTimeout(() => { observer.disconnect(); resolve(null); }, 30000);
  });
  const button = [...document.querySelectorAll("button.preset")].find((b) => b.dataset.name === name);
  const started = performance.now();
  button.click();
  const at = await shown;
  return at === null ? null : at - started;
}"""


def sign_in(browser, url: str, username: str, password: str):
    page = browser.new_context().new_page()
    page.goto(f"{url}/accounts/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    page.wait_for_function("document.getElementById('live').textContent === 'Live'", timeout=60_000)
    return page


def timed_presses(page, names: list[str], expected: str, count: int) -> list[float]:
    """`count` presses, cycling through `names`; ms from click to the answer each."""
    took = []
    for n in range(count):
        name = names[n % len(names)]
        ms = page.evaluate(TIMED_PRESS, [name, expected.format(name=name)])
        if ms is None:
            raise RuntimeError(f"no answer to the press of {name!r} within 30 s")
        took.append(ms)
    return took


HEALTHZ_TOKEN = secrets.token_urlsafe(24)  # /healthz shows the link's details to its holder only


def link_connected(url: str) -> bool:
    request = urllib.request.Request(f"{url}/healthz", headers={"Authorization": f"Bearer {HEALTHZ_TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return bool(json.loads(response.read())["pbx_link"]["connected"])


def wait_for(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--presses", type=int, default=20, help="presses per scenario (default 20)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    from playwright.sync_api import sync_playwright

    users = generate_users(20)
    # Over 60 presses in a minute or two: far above the per-person press limit, which is not measured here.
    extra_env = {"USER_PAGE_PRESS_RATE": "10000/min", "HEALTHZ_TOKEN": HEALTHZ_TOKEN}
    with Stack("userpage", scaled=False, users=users, extra_env=extra_env) as stack:
        licensed, unlicensed = users[0].h323, users[1].h323
        stack.start_simulator()
        stack.prepare(licensed=1, accounts=[licensed, unlicensed])
        _, port = stack.embedded()
        url = f"http://127.0.0.1:{port}"
        stack.wait_linked(120, subscriptions=1)
        assert stack.sim is not None
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = sign_in(browser, url, licensed, stack.account_password)
                timed_presses(
                    page, ["Away", "Busy"], "Done: “{name}” is set.", 2
                )  # warm-up (even: the next is Away again)
                applied = timed_presses(page, ["Away", "Busy"], "Done: “{name}” is set.", args.presses)
                stack.sim.call(stack.sim.simulator.go_down)
                wait_for(lambda: not link_connected(url), "the link to report the PBX down")
                down = timed_presses(
                    page, ["Away", "Busy"], "The phone system cannot be reached right now.", args.presses
                )
                stack.sim.call(stack.sim.simulator.come_back)
                other = sign_in(browser, url, unlicensed, stack.account_password)
                refused = timed_presses(other, ["Away", "Busy"], "This user is not licensed", args.presses)
            finally:
                browser.close()

    rows, missed = [], []
    for scenario, took in (("applied", applied), ("PBX down", down), ("not licensed", refused)):
        ok = max(took) <= TARGET_MS
        if not ok:
            missed.append(scenario)
        rows.append(
            [scenario, len(took), f"{statistics.median(took):.0f}", f"{max(took):.0f}", f"≤ {TARGET_MS:g}", verdict(ok)]
        )
    table(
        "User page: press → answer shown (embedded: runheartbeat, chromium)",
        f"python -m tests.bench.bench_user_page {argv_text}".strip(),
        ["scenario", "presses", "p50 ms", "max ms", "target ms", "verdict"],
        rows,
        [f"Missed: {', '.join(missed)}." if missed else "Every target met."],
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
