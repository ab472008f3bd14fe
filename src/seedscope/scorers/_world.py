"""Lazy access to the miniature world's detector (seedscope.world.detect)."""

from __future__ import annotations

import functools
from typing import Any

from seedscope.errors import SeedscopeError


@functools.lru_cache(maxsize=1)
def detector() -> Any:
    """The bundled world detector, loaded once; a clear error if it is not available."""
    try:
        from seedscope.world.detect import WorldDetector
    except ImportError as err:
        raise SeedscopeError(
            "the world detector is not available (seedscope.world.detect is missing)."
        ) from err
    try:
        load = getattr(WorldDetector, "load", None)
        return load() if callable(load) else WorldDetector()
    except (OSError, FileNotFoundError) as err:
        raise SeedscopeError(f"the world detector is not available ({err}).") from err


def predict(images: list[Any]) -> list[dict[str, Any]]:
    """Per-image predictions of the world detector as dicts."""
    det = detector()
    fn = getattr(det, "predict", None) or det
    preds = fn(images)
    return [p if isinstance(p, dict) else dict(vars(p)) for p in preds]
