"""Seed specs (`0-1023`, `0,5,7-9`, `@file`), one torch.Generator per image, noise fingerprints."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from seedscope.errors import SeedscopeError

if TYPE_CHECKING:
    import torch

MAX_SEED = 2**63 - 1
"""Largest seed torch.Generator.manual_seed accepts without wrapping (seeds are int64)."""

_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


def _parse_int(text: str, spec: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise SeedscopeError(
            f"seed {text!r} in {spec!r} is not an integer; use e.g. 0-1023 or 0,5,7-9."
        )
    value = int(text)
    if value < 0:
        raise SeedscopeError(f"seed {value} in {spec!r} is negative; seeds are 0 to 2**63-1.")
    if value > MAX_SEED:
        raise SeedscopeError(f"seed {value} in {spec!r} is too large; seeds are 0 to 2**63-1.")
    return value


def _parse_part(part: str, spec: str) -> range | list[int]:
    match = _RANGE.match(part)
    if match and not part.strip().startswith("-"):
        lo, hi = _parse_int(match.group(1), spec), _parse_int(match.group(2), spec)
        if hi < lo:
            raise SeedscopeError(f"seed range {part.strip()!r} in {spec!r} ends before it starts.")
        return range(lo, hi + 1)
    return [_parse_int(part, spec)]


def parse_seeds(spec: str) -> list[int]:
    """Expand a seed spec (`0-1023`, `0,5,7-9`, or `@file` with one spec per line) in order."""
    spec = spec.strip()
    if spec.startswith("@"):
        path = Path(spec[1:])
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or "it is not UTF-8 text"
            raise SeedscopeError(f"cannot read seed file {str(path)!r}: {reason}.") from err
        parts = [p for line in text.splitlines() for p in line.split("#")[0].split(",")]
    else:
        parts = spec.split(",")
    parts = [p for p in parts if p.strip()]
    seeds: list[int] = []
    seen: set[int] = set()
    for part in parts:
        for seed in _parse_part(part, spec):
            if seed in seen:
                raise SeedscopeError(f"seed {seed} appears twice in the seed spec {spec!r}.")
            seen.add(seed)
            seeds.append(seed)
    if not seeds:
        raise SeedscopeError(f"the seed spec {spec!r} gives no seeds; use e.g. 0-1023.")
    return seeds


def parse_seed_ranges(spec: str) -> list[range]:
    """A seed spec as ranges in spec order, without expanding it (for millions of candidates)."""
    spec = spec.strip()
    if spec.startswith("@"):
        return [range(s, s + 1) for s in parse_seeds(spec)]
    ranges: list[range] = []
    for part in (p for p in spec.split(",") if p.strip()):
        found = _parse_part(part, spec)
        ranges.append(found if isinstance(found, range) else range(found[0], found[0] + 1))
    if not ranges:
        raise SeedscopeError(f"the seed spec {spec!r} gives no seeds; use e.g. 0-1023.")
    ordered = sorted(ranges, key=lambda r: r.start)
    for a, b in itertools.pairwise(ordered):
        if b.start < a.stop:
            raise SeedscopeError(f"seed {b.start} appears twice in the seed spec {spec!r}.")
    return ranges


def format_seeds(seeds: Sequence[int]) -> str:
    """Write seeds back as a compact spec: consecutive runs become ranges (`0-3,7`)."""
    parts: list[str] = []
    i = 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        parts.append(str(seeds[i]) if i == j else f"{seeds[i]}-{seeds[j]}")
        i = j + 1
    return ",".join(parts)


def make_generators(seeds: Sequence[int], device: str = "cpu") -> list[torch.Generator]:
    """One torch.Generator per image, seeded as diffusers does: Generator(device).manual_seed(s)."""
    import torch

    return [torch.Generator(device).manual_seed(int(s)) for s in seeds]


def noise_sha256(latent: torch.Tensor) -> str:
    """sha256 of one image's initial latent as float32 bytes in C order (the noise fingerprint)."""
    import torch

    array = latent.detach().to("cpu", torch.float32).contiguous().numpy()
    return hashlib.sha256(array.tobytes(order="C")).hexdigest()
