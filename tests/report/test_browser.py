"""The atlas in a real browser: headless Chromium (Debian's `chromium`) over DevTools.

With SEEDSCOPE_ATLAS_PNG=PATH the screenshot taken while hovering a seed of the style map is
saved there (900 px wide, 128 colours).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from report.cdp import Browser, find_chromium, save_screenshot
from report.fake import HOSTILE, make_sweep, write_all

pytestmark = pytest.mark.slow

SEEDS = [0, 1, 2, 3, 4, 5]

POINT = """
(() => {
  const pv = [...Bokeh.index.roots].find(v => v.model.name === 'map_style');
  pv.el.scrollIntoView();
  const data = pv.model.renderers[0].data_source.data;
  const box = pv.canvas_view.el.getBoundingClientRect();
  const i = %d;
  return {x: box.left + pv.frame.x_scale.compute(data.x[i]),
          y: box.top + pv.frame.y_scale.compute(data.y[i]), seed: data.seed[i]};
})()
"""

TOOLTIPS = """
(() => {
  const out = [];
  const walk = (root) => root.querySelectorAll('*').forEach(e => {
    if (e.classList.contains('seed-tooltip') && e.offsetParent !== null)
      out.push({text: e.innerText, imgs: [...e.querySelectorAll('img')].map(i => i.naturalWidth)});
    if (e.shadowRoot) walk(e.shadowRoot);
  });
  walk(document);
  return out;
})()
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium in CI: .ci/run installs Debian's chromium package")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return binary


@pytest.fixture(scope="module")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seedscope.report import ReportSettings, write_report

    root = tmp_path_factory.mktemp("atlas")
    sweep = make_sweep(root / "sweep", (*HOSTILE, "a plain prompt", "a green house"), SEEDS)
    write_all(sweep, SEEDS)
    write_report(sweep, ReportSettings(out=root / "report"))
    return root / "report" / "index.html"


def test_atlas_in_chromium(chromium: str, atlas: Path) -> None:
    from seedscope.report.atlas import SECTIONS

    browser = Browser(chromium)
    try:
        browser.open(atlas.as_uri())
        # every section the analyses made is on the page, and rendered
        present = browser.eval(
            "[...document.querySelectorAll('section[data-present=yes]')].map(e => e.id)"
        )
        assert sorted(present) == sorted(SECTIONS)
        assert browser.eval("document.querySelectorAll('.bk-root, [data-root-id]').length") >= 2
        # not blank
        shot = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("L"), np.float64)
        assert shot.std() > 10
        # hovering a seed shows its images in a tooltip; hostile prompts stay text
        point = browser.eval(POINT % 1)
        assert browser.eval(TOOLTIPS) == []
        browser.mouse_move(point["x"] - 20, point["y"] - 20)
        browser.mouse_move(point["x"], point["y"])
        tips: list = []
        deadline = time.monotonic() + 10
        while not tips and time.monotonic() < deadline:
            time.sleep(0.2)
            tips = browser.eval(TOOLTIPS)
        assert tips, "no tooltip over a seed"
        assert f"seed {point['seed']}" in tips[0]["text"]
        assert HOSTILE[0] in tips[0]["text"]  # the prompt as text
        assert tips[0]["imgs"] and tips[0]["imgs"][0] > 0  # the thumbnail decoded
        png = os.environ.get("SEEDSCOPE_ATLAS_PNG")
        if png:
            assert save_screenshot(browser.screenshot(), png) > 0
            with Image.open(png) as saved:
                assert saved.width == 900
                assert np.asarray(saved.convert("L"), np.float64).std() > 10
        assert browser.eval("window.__pwned === undefined")
        # a click opens the seed's page
        browser.send("Input.dispatchMouseEvent", type="mousePressed", x=point["x"],
                     y=point["y"], button="left", clickCount=1)  # fmt: skip
        browser.send("Input.dispatchMouseEvent", type="mouseReleased", x=point["x"],
                     y=point["y"], button="left", clickCount=1)  # fmt: skip
        browser.wait_event("Page.loadEventFired", timeout=20)
        assert browser.eval("location.href").endswith(f"seeds/seed-{point['seed']}.html")
        assert browser.eval("document.querySelector('#noise code').innerText")
        assert browser.eval("window.__pwned === undefined")
        # nothing but the page's own files and data: URIs, and no error
        requests = browser.requests()
        assert requests and all(u.startswith(("file://", "data:")) for u in requests), [
            u[:80] for u in requests if not u.startswith(("file://", "data:"))
        ]
        assert browser.errors() == []
    finally:
        browser.close()
