"""Plugin registries: built-in and third-party parts found through Python entry points."""

from __future__ import annotations

import collections.abc
import contextlib
import inspect
import json
import logging
import math
import types
import typing
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.Iterable)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_WORDS = {float: "a number", int: "a whole number", bool: "true or false", str: "a text"}


def available(group: str, builtin: dict[str, str]) -> dict[str, str]:
    """Names registered under the entry-point `group` (else `builtin`, for an uninstalled tree)."""
    found = {ep.name: ep.value for ep in entry_points(group=group)}
    if not found:
        log.debug("no %s entry points installed; using the built-in table", group)
        found = dict(builtin)
    return dict(sorted(found.items()))


def _describe(hint: Any) -> str:
    """A reader's word for the type `hint`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        words = [_describe(a) for a in typing.get_args(hint) if a is not type(None)]
        return " or ".join(words + (["none"] if type(None) in typing.get_args(hint) else []))
    if typing.get_origin(hint) in _SEQUENCES or hint in (list, tuple):
        return "a comma-separated list"
    return _WORDS.get(hint, getattr(hint, "__name__", str(hint)))


def show(value: Any) -> str:
    """A default as one would write it in `--option name.option=VALUE`."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return (
        "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


def _cast(value: Any, hint: Any) -> Any:
    """`value` as the type `hint` (text parsed, ints widened to floats); ValueError if it is not."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        none = value is None or (
            isinstance(value, str) and value.strip().lower() in ("none", "null")
        )
        if none and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            with contextlib.suppress(ValueError, TypeError):
                return _cast(value, arg)
        raise ValueError(value)
    if origin in _SEQUENCES or hint in (list, tuple):
        items = (
            [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        )
        if not isinstance(items, (list, tuple)):
            raise ValueError(value)
        item = args[0] if args and args[0] is not Ellipsis else Any
        return tuple(_cast(v, item) for v in items)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(value)
    if hint is int:
        if isinstance(value, str):
            return int(value.strip())
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(value)
    if hint is float:
        out = float(value.strip()) if isinstance(value, str) else value
        if isinstance(out, bool) or not isinstance(out, (int, float)) or not math.isfinite(out):
            raise ValueError(value)
        return float(out)
    if hint is str and not isinstance(value, str):
        raise ValueError(value)
    return value  # a str, or a type this module does not know: passed as given


def _hint(param: inspect.Parameter, hints: dict[str, Any]) -> Any:
    """The type a parameter asks for: its annotation, else the type of its default."""
    if param.name in hints:
        return hints[param.name]
    default = param.default
    if default is inspect.Parameter.empty or default is None:
        return Any
    if isinstance(default, (list, tuple)):
        return tuple[type(default[0]), ...] if default else tuple  # type: ignore[misc]
    return type(default)


def coerce_options(cls: Any, kind: str, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """`options` cast to the types `cls`'s constructor declares (else the types of its defaults).

    Text (from the command line) is parsed: `8` for a float is 8.0, `conv_1,conv_2` for a
    sequence is a tuple; a value that does not fit is refused with one sentence. Equal settings
    thus get one spelling, and one cache identity.
    """
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: fall back to the defaults' types
        hints = {}
    params = inspect.signature(cls).parameters
    out = {}
    for opt, value in options.items():
        param = params.get(opt)
        if param is None or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            out[opt] = value
            continue
        hint = _hint(param, hints)
        if hint is Any and isinstance(value, str):
            # No declared type: read JSON where it parses (6 -> 6, [1, 2] -> [1, 2]).
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        try:
            out[opt] = _cast(value, hint)
        except (ValueError, TypeError) as err:
            default = "" if param.default is param.empty else f" (default {show(param.default)})"
            raise SeedscopeError(
                f"the {kind} {name!r} option {opt}={value!r} is not {_describe(hint)}{default}."
            ) from err
    return out


def build(group: str, builtin: dict[str, str], kind: str, name: str, **options: Any) -> Any:
    """Load the plugin `name` of `group` and build it with `options`, refusing unknown ones.

    Each option is cast to the type the constructor declares (`coerce_options`).
    """
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
    return cls(**coerce_options(cls, kind, name, options))
