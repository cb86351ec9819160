"""Render an optimize output directory's report.html to a PNG of its first screen (1280x800),
with headless Chromium (Debian's /usr/bin/chromium: ``apt-get install chromium``).

    python benchmarks/report_screenshot.py celery-tune-out docs/optimize-report.png

Takes a few seconds.  Checks the page rendered its plots (plotly's ``main-svg``) and that the PNG
is a real image (not one colour).  Exit 2 with one line on bad input or a browser failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tuner.optimize import browser  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", type=Path, help="an optimize --out directory")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--width", type=int, default=browser.WINDOW[0])
    parser.add_argument("--height", type=int, default=browser.WINDOW[1])
    args = parser.parse_args(argv)
    page = args.report_dir / "report.html"
    if not page.is_file():
        print(f"report_screenshot: error: {page}: no such file", file=sys.stderr)
        return 2
    window = (args.width, args.height)
    try:
        dom = browser.dump_dom(page, window=window)
        if "main-svg" not in dom:
            print(f"report_screenshot: error: {page}: no plot rendered", file=sys.stderr)
            return 2
        browser.screenshot(page, args.out, window=window)
        info = browser.png_info(args.out)
    except (browser.BrowserError, OSError) as exc:
        print(f"report_screenshot: error: {exc}", file=sys.stderr)
        return 2
    if info.colours < 2:
        print(f"report_screenshot: error: {args.out}: a blank image", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({info.width}x{info.height}, {info.colours} colours)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
