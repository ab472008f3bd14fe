"""Per-image scorers behind one interface, found through the `seedscope.scorers` entry points."""

from __future__ import annotations

from typing import Any

from seedscope import plugins
from seedscope.scorers.base import Context, Scorer

GROUP = "seedscope.scorers"

# The built-ins as registered in pyproject.toml; used only when running from an uninstalled tree.
_BUILTIN = {
    "grayscale": "seedscope.scorers.color:GrayscaleScorer",
    "border": "seedscope.scorers.border:BorderScorer",
    "sky": "seedscope.scorers.sky:SkyScorer",
    "text": "seedscope.scorers.text:TextScorer",
    "composition": "seedscope.scorers.composition:CompositionScorer",
    "world": "seedscope.scorers.world:WorldAdherenceScorer",
    "clip": "seedscope.scorers.clip:ClipScorer",
    "hps": "seedscope.scorers.hps:HPSv2Scorer",
}


def available() -> dict[str, str]:
    """Names of all registered scorers and the object each entry point names."""
    return plugins.available(GROUP, _BUILTIN)


def get_scorer(name: str, **options: Any) -> Scorer:
    """Build the scorer registered as `name` with its options."""
    scorer: Scorer = plugins.build(GROUP, _BUILTIN, "scorer", name, **options)
    return scorer


__all__ = ["GROUP", "Context", "Scorer", "available", "get_scorer"]
