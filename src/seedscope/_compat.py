"""Version differences of third-party libraries, detected once, so our calls raise no warnings."""

from __future__ import annotations

import re
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any


def release(package: str) -> tuple[int, ...]:
    """The numeric release of an installed package, e.g. (0, 42, 1); () if it is not installed."""
    try:
        text = version(package)
    except PackageNotFoundError:
        return ()
    match = re.match(r"\d+(\.\d+)*", text)
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


@cache
def _diffusers_takes_dtype() -> bool:
    """Whether diffusers' from_pretrained takes `dtype` (0.40 on; it deprecates `torch_dtype`)."""
    return release("diffusers") >= (0, 40)


def dtype_kwargs(dtype: Any) -> dict[str, Any]:
    """The dtype keyword for diffusers `from_pretrained`: `dtype` where accepted, else `torch_dtype`."""
    if dtype is None:
        return {}
    return {"dtype" if _diffusers_takes_dtype() else "torch_dtype": dtype}
