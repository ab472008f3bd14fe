"""Feature extractors behind one interface (`seedscope.features` entry points), cached on disk."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from seedscope.errors import SeedscopeError
from seedscope.features.base import FeatureExtractor

GROUP = "seedscope.features"

_BUILTIN = {
    "inception": "seedscope.features.inception:InceptionExtractor",
    "gram": "seedscope.features.gram:GramExtractor",
    "world": "seedscope.features.world:WorldExtractor",
}


def available() -> dict[str, str]:
    """Names of all registered feature extractors and the object each entry point names."""
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)} or dict(_BUILTIN)
    return dict(sorted(found.items()))


def get_extractor(name: str, **options: Any) -> FeatureExtractor:
    """Build the feature extractor registered as `name` with its options."""
    table = available()
    if name not in table:
        raise SeedscopeError(f"unknown feature extractor {name!r}; available: {', '.join(table)}.")
    module, _, attr = table[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    return cls(**options)


def __getattr__(name: str) -> Any:
    if name == "sweep_features":
        from seedscope.features.cache import sweep_features

        return sweep_features
    raise AttributeError(name)


__all__ = ["GROUP", "FeatureExtractor", "available", "get_extractor", "sweep_features"]
