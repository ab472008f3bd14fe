"""Per-image scorers behind one interface, found through the `seedscope.scorers` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from seedscope.errors import SeedscopeError
from seedscope.scorers.base import Context, Scorer

log = logging.getLogger(__name__)

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
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    if not found:
        log.debug("no %s entry points installed; using the built-in table", GROUP)
        found = dict(_BUILTIN)
    return dict(sorted(found.items()))


def _load(value: str) -> type[Scorer]:
    import importlib

    module, _, attr = value.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


def get_scorer(name: str, **options: Any) -> Scorer:
    """Build the scorer registered as `name` with its options."""
    table = available()
    if name not in table:
        raise SeedscopeError(f"unknown scorer {name!r}; available: {', '.join(table)}.")
    cls = _load(table[name])
    return cls(**options)


__all__ = ["GROUP", "Context", "Scorer", "available", "get_scorer"]
