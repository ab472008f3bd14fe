"""Screenshot of an atlas in headless Chromium, hovering a seed of the style map (docs/atlas.png).

Usage: python scripts/atlas_screenshot.py demo/sweep/report/index.html docs/atlas.png

The browser test saves the same kind of picture of its own (fake) atlas with
SEEDSCOPE_ATLAS_PNG=PATH; this script takes it of any report, such as the demo's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from report.cdp import Browser, find_chromium, save_screenshot
from report.test_browser import POINT


def main(index: str, out: str) -> None:
    binary = find_chromium()
    if binary is None:
        sys.exit("no chromium: apt-get install chromium")
    browser = Browser(binary, width=1200, height=1000)
    try:
        browser.open(Path(index).resolve().as_uri())
        point = browser.eval(POINT % 0)
        browser.eval("window.scrollBy(0, -40)")
        point = browser.eval(POINT.replace("pv.el.scrollIntoView();", "") % 0)
        browser.mouse_move(point["x"] - 20, point["y"] - 20)
        browser.mouse_move(point["x"], point["y"])
        time.sleep(1.0)
        size = save_screenshot(browser.screenshot(), out)
    finally:
        browser.close()
    print(f"{out}: {size / 1e3:.0f} KB")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
