"""Screenshot an HTML people report (`sphereapp index -o REPORT.html`) in headless Chromium (Debian's `chromium`).

    python scripts/screenshot_report.py REPORT.html OUT.png [--width 1200 --height 700]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 700) -> None:
    """Render `page` in headless Chromium and write a PNG of the window to `out`."""
    browser = find_browser()
    if browser is None:
        raise SystemExit("screenshot_report: no chromium found (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   f"--user-data-dir={profile}", f"--window-size={width},{height}",
                   f"--screenshot={out.resolve()}", page.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"screenshot_report: chromium failed: {done.stderr.strip().splitlines()[-1:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=700)
    args = parser.parse_args()
    screenshot(args.page, args.out, args.width, args.height)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
