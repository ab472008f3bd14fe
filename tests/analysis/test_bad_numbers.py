"""classify, identify and swap refuse bad numbers and paths with one sentence and exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures.cli import Cli


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory, tiny_sd_dir: Path) -> dict[str, str]:
    """A tiny sweep (4 prompts × 4 seeds), a 64×64 image file and a plain file."""
    from conftest import make_sweep_dir

    root = tmp_path_factory.mktemp("bad")
    sweep = make_sweep_dir(root / "sweep", tiny_sd_dir)
    image = root / "img.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(image)
    plain = root / "taken.txt"
    plain.write_text("a file, not a folder")
    return {"SWEEP": str(sweep), "IMAGE": str(image), "FILE": str(plain)}


CASES: list[tuple[list[str], str]] = [
    (["classify", "SWEEP", "--lr", "-1"], "--lr must be a positive number"),
    (["classify", "SWEEP", "--lr", "0"], "--lr must be a positive number"),
    (["classify", "SWEEP", "--size", "100000", "--val-fraction", "0"], "use at most 32"),
    (["classify", "SWEEP", "--init-from-noise"], "needs --input latent"),
    (["classify", "SWEEP", "--input", "voxels"], "unknown --input 'voxels'"),
    (["identify", "IMAGE", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["identify", "IMAGE", "--limit", "0"], "--limit must be at least 1"),
    (["identify", "IMAGE", "--generator-device", "bogus"], "is not a torch device"),
    (["identify", "IMAGE", "--steps", "-3"], "--steps must be at least 1"),
    (["identify", "IMAGE", "--steps", "0"], "--steps must be at least 1"),
    (["identify", "IMAGE", "--workers", "0"], "--workers must be at least 1"),
    (["swap", "--prompt", "a cat", "--out", "FILE"], "is a file, not a folder"),
    (["swap", "--prompt", "a cat", "--out", "OUT", "--batch-size", "0"], "--batch-size must be"),
    (["swap", "--prompt", "a cat", "--out", "OUT", "--steps", "-3"], "--steps must be at least 1"),
    (["swap", "--prompt", "a cat", "--out", "OUT", "--steps", "0"], "--steps must be at least 1"),
]
if not torch.cuda.is_available():
    CASES.append(
        (["identify", "IMAGE", "--generator-device", "cuda"], "is not available on this machine")
    )


@pytest.mark.parametrize(("args", "words"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_numbers_are_refused(
    places: dict[str, str],
    tmp_path: Path,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    words: str,
) -> None:
    # Nothing may be inverted or generated before the refusal: loading a model fails the test.
    import seedscope.models

    def no_model(*_: object, **__: object) -> None:
        raise AssertionError("a model was loaded before the bad input was refused")

    loader: Callable[..., object] = no_model
    monkeypatch.setattr(seedscope.models, "load_pipeline", loader)
    out = tmp_path / "out"
    argv = [{**places, "OUT": str(out)}.get(a, a) for a in args]
    before = sorted(Path(places["SWEEP"]).rglob("*"))
    code, _, err = cli([*argv, "-q"] if args[0] != "classify" else [*argv, "--quiet"])
    assert code == 2, err
    assert words in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("error: ")
    assert sorted(Path(places["SWEEP"]).rglob("*")) == before
    assert not out.exists()


def test_swap_table_never_prints_negative_zero() -> None:
    from seedscope.analysis.swap import cosine_distance
    from seedscope.cli.fingerprint import _ci

    row = {"share": -0.0004, "share_lo": -0.003, "share_hi": 0.0049}
    assert _ci(row, "share").split() == ["0.00", "[0.00,", "0.00]"]
    a = np.array([[1.0, 2.0, 3.0]])
    assert cosine_distance(a, a * 1.0000001)[0] >= 0.0
