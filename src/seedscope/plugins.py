"""Plugin registries: built-in and third-party parts found through Python entry points."""

from __future__ import annotations

import inspect
import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)


def available(group: str, builtin: dict[str, str]) -> dict[str, str]:
    """Names registered under the entry-point `group` (else `builtin`, for an uninstalled tree)."""
    found = {ep.name: ep.value for ep in entry_points(group=group)}
    if not found:
        log.debug("no %s entry points installed; using the built-in table", group)
        found = dict(builtin)
    return dict(sorted(found.items()))


def build(group: str, builtin: dict[str, str], kind: str, name: str, **options: Any) -> Any:
    """Load the plugin `name` of `group` and build it with `options`, refusing unknown ones."""
    table = available(group, builtin)
    if name not in table:
        raise SeedscopeError(f"unknown {kind} {name!r}; available: {', '.join(table)}.")
    cls = EntryPoint(name=name, value=table[name], group=group).load()
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as err:
        params = ", ".join(inspect.signature(cls).parameters) or "none"
        raise SeedscopeError(
            f"bad options for the {kind} {name!r} ({err}); its options are: {params}."
        ) from err
    return cls(**options)
