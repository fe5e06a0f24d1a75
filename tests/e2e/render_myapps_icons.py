"""`python -m tests.e2e.render_myapps_icons`: the myApps icons (50×50 PNG) from their SVG sources.

Rendered by Debian's Chromium through Playwright with a transparent background; run it after
changing presence/myapps/icons/*.svg and commit both.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

ICONS = Path(__file__).resolve().parents[2] / "presence" / "myapps" / "icons"


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 50, "height": 50})
        for svg in sorted(ICONS.glob("*.svg")):
            page.set_content(f'<body style="margin:0;background:transparent">{svg.read_text()}</body>')
            page.locator("svg").screenshot(path=str(svg.with_suffix(".png")), omit_background=True)
            print(f"wrote {svg.with_suffix('.png')}")
        browser.close()


if __name__ == "__main__":
    main()
