"""Feature extractors behind one interface (`seedscope.features` entry points), cached on disk."""

from __future__ import annotations

from typing import Any

from seedscope import plugins
from seedscope.features.base import FeatureExtractor

GROUP = "seedscope.features"

_BUILTIN = {
    "inception": "seedscope.features.inception:InceptionExtractor",
    "gram": "seedscope.features.gram:GramExtractor",
    "world": "seedscope.features.world:WorldExtractor",
}


def available() -> dict[str, str]:
    """Names of all registered feature extractors and the object each entry point names."""
    return plugins.available(GROUP, _BUILTIN)


def get_extractor(name: str, **options: Any) -> FeatureExtractor:
    """Build the feature extractor registered as `name` with its options."""
    extractor: FeatureExtractor = plugins.build(
        GROUP, _BUILTIN, "feature extractor", name, **options
    )
    return extractor


def extractor_options(settings: dict[str, Any]) -> dict[str, Any]:
    """The constructor options behind an extractor's recorded settings (its identity's).

    The derived entries go (`dim`, the weights digest); `preprocess` is the `resize` option.
    """
    out = {k: v for k, v in settings.items() if k not in ("dim", "preprocess", "weights")}
    if settings.get("preprocess", "none") not in ("none", "native"):
        out["resize"] = settings["preprocess"]
    return out


def __getattr__(name: str) -> Any:
    if name == "sweep_features":
        from seedscope.features.cache import sweep_features

        return sweep_features
    raise AttributeError(name)


__all__ = [
    "GROUP",
    "FeatureExtractor",
    "available",
    "extractor_options",
    "get_extractor",
    "sweep_features",
]
