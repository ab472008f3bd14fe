"""Seed specs, per-image generators and the noise fingerprint."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from seedscope.errors import SeedscopeError
from seedscope.seeds import MAX_SEED, format_seeds, make_generators, noise_sha256, parse_seeds


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("0-3", [0, 1, 2, 3]),
        ("0,5,7-9", [0, 5, 7, 8, 9]),
        (" 4 ", [4]),
        ("10-10", [10]),
        (f"{MAX_SEED}", [MAX_SEED]),
    ],
)
def test_parse_seeds(spec: str, expected: list[int]) -> None:
    assert parse_seeds(spec) == expected


def test_parse_seed_file(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text("0-2\n# a comment\n7,9\n\n")
    assert parse_seeds(f"@{path}") == [0, 1, 2, 7, 9]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("-1", "negative"),
        ("3--5", "negative"),
        ("1.5", "not an integer"),
        ("abc", "not an integer"),
        (str(2**63), "too large"),
        ("", "no seeds"),
        (" , ", "no seeds"),
        ("5-2", "ends before"),
        ("1,1", "twice"),
        ("@/nonexistent/seeds.txt", "cannot read"),
    ],
)
def test_bad_seed_specs(spec: str, words: str) -> None:
    with pytest.raises(SeedscopeError, match=words):
        parse_seeds(spec)


def test_format_roundtrip() -> None:
    seeds = [0, 1, 2, 3, 7, 9, 10, 100]
    assert format_seeds(seeds) == "0-3,7,9-10,100"
    assert parse_seeds(format_seeds(seeds)) == seeds


def test_generators_match_manual_seed() -> None:
    gens = make_generators([3, 11])
    ref = torch.Generator("cpu").manual_seed(11)
    assert torch.equal(torch.randn(5, generator=gens[1]), torch.randn(5, generator=ref))


def test_noise_sha256_is_float32_c_order() -> None:
    latent = torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(0))
    expected = hashlib.sha256(latent.numpy().astype(np.float32).tobytes(order="C")).hexdigest()
    assert noise_sha256(latent) == expected
    assert noise_sha256(latent.to(torch.float64)) == expected
    # A transposed view hashes by its logical (C-order) layout.
    assert (
        noise_sha256(latent.transpose(1, 2))
        == hashlib.sha256(latent.transpose(1, 2).contiguous().numpy().tobytes()).hexdigest()
    )
