"""The interactive seed maps: Bokeh plots with inline resources (no CDN), a hover thumbnail per seed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from seedscope.errors import SeedscopeError

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip

TOOLTIP = """
<div class="seed-tooltip" style="max-width:340px">
  <div><b>seed @seed</b> &middot; cluster @cluster_name</div>
  <img src="@thumb" alt="images of seed @seed" style="image-rendering:pixelated;margin-top:4px">
  <div style="font-size:11px;color:#555">first prompt: @prompt</div>
  <div style="font-size:11px;color:#555">click: the seed's page</div>
</div>
"""
"""Bokeh HTML-escapes `@field` values in a tooltip template (only `{safe}` fields are raw)."""


def _bokeh() -> Any:
    try:
        import bokeh
    except ImportError as err:
        raise SeedscopeError(
            "the interactive maps need bokeh; pip install 'bokeh>=3.9,<4'."
        ) from err
    return bokeh


def seed_map_plot(
    points: pd.DataFrame,
    names: Mapping[int, str],
    thumbs: Mapping[int, str],
    by: str,
    prompt: str,
) -> Any:
    """A Bokeh scatter of a seed map: hover shows the seed's images, a click opens its page."""
    _bokeh()
    from bokeh.models import ColumnDataSource, HoverTool, OpenURL, TapTool
    from bokeh.plotting import figure

    seeds = [int(s) for s in points["seed"]]
    clusters = [int(c) for c in points["cluster"]]
    source = ColumnDataSource(
        {
            "x": points["x"].astype(float).tolist(),
            "y": points["y"].astype(float).tolist(),
            "seed": seeds,
            "cluster_name": [f"{c}: {names.get(c, 'no property')}" for c in clusters],
            "colour": [PALETTE[c % len(PALETTE)] for c in clusters],
            "thumb": [thumbs.get(s, "") for s in seeds],
            "prompt": [prompt] * len(seeds),
            "url": [f"seeds/seed-{s}.html" for s in seeds],
        }
    )
    p = figure(
        title=f"{by} map of {len(seeds)} seeds",
        width=520,
        height=520,
        tools="pan,wheel_zoom,box_zoom,reset,tap",
        toolbar_location="above",
        name=f"map_{by}",
    )
    p.scatter(
        "x", "y", source=source, size=11, color="colour", line_color="#333",
        alpha=0.85, legend_field="cluster_name",
    )  # fmt: skip
    p.add_tools(HoverTool(tooltips=TOOLTIP))
    for tap in p.select(type=TapTool):
        tap.update(callback=OpenURL(url="@url", same_tab=True))
    p.legend.label_text_font_size = "9pt"
    p.add_layout(p.legend[0], "below")  # outside the frame: it never hides a seed
    p.xaxis.visible = False
    p.yaxis.visible = False
    return p


def embed(plots: Sequence[Any]) -> tuple[str, list[str]]:
    """The plots' script and one div each (to sit in the autoescaped page as trusted markup)."""
    from bokeh.embed import components

    script, divs = components(list(plots))
    return str(script), [str(d) for d in divs]


def inline_resources() -> str:
    """Bokeh's JavaScript and CSS inlined into the page (no CDN, no network request)."""
    from bokeh.resources import Resources

    # Only the core bundle (1.3 MB): no widgets, tables, WebGL or MathJax (which would fetch a CDN).
    return str(Resources(mode="inline", components=["bokeh"]).render())
