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
    return WorldDetector()
