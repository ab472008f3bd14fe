"""A small real sweep of the tiny SD pipeline, shared by the pick tests (20 prompts x 8 seeds)."""

from __future__ import annotations

from pathlib import Path

import pytest

WORDS = ("cat", "dog", "car", "tree", "house", "bird", "boat", "sea", "city", "man")
PROMPTS = tuple(f"a {c} {w}" for c in ("red", "blue") for w in WORDS)
SEEDS = "0-7"


@pytest.fixture(scope="session")
def grid(tiny_sd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 prompts (set a: the first 10, set b: the rest) x seeds 0-7, 1 step, 32x32."""
    root = tmp_path_factory.mktemp("grid")
    csv = root / "prompts.csv"
    lines = ["id,prompt,set"] + [f"{i},{p},{'a' if i < 10 else 'b'}" for i, p in enumerate(PROMPTS)]
    csv.write_text("\n".join(lines) + "\n")
    from seedscope.sweep import SweepOptions, run_sweep

    out = root / "sweep"
    run_sweep(
        SweepOptions(
            model=str(tiny_sd_dir),
            prompts=str(csv),
            seeds=SEEDS,
            out=str(out),
            steps=1,
            guidance=0.0,
            height=32,
            width=32,
            batch_size=16,
        )
    )
    return out
