"""Screenshot a page of the static leaderboard site in headless Chromium (for docs/leaderboard-site.png).

    python scripts/site_screenshot.py docs/results/site/index.html docs/leaderboard-site.png

Needs playwright (the core's test extra) and a Chromium (Debian: apt-get install chromium; or set
SERBENCH_CHROMIUM). Every wait is bounded.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def main(page_path: str, out: str, width: int = 1280) -> int:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("SERBENCH_CHROMIUM", "/usr/bin/chromium")
    if not os.access(executable, os.X_OK):
        print(f"no Chromium at {executable}: apt-get install chromium, or set SERBENCH_CHROMIUM", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=FLAGS, timeout=60_000,
            viewport={"width": width, "height": 800})
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(Path(page_path).resolve().as_uri(), timeout=15_000)
            page.screenshot(path=out, full_page=True, timeout=15_000)
        finally:
            context.close()
    if errors:
        print("page errors: " + "; ".join(errors), file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
