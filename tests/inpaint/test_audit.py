"""The inpainting audit finds the seeds that paint text into the mask, and checks them held out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from diffusers import StableDiffusionInpaintPipeline
from PIL import Image, ImageDraw, ImageFont

from fixtures.cli import Cli
from fixtures.tiny import build_tiny_sd
from seedscope.errors import SeedscopeError
from seedscope.inpaint.audit import AuditSettings, read_rows, run_audit
from seedscope.inpaint.pairs import load_pairs, write_pairs

TEXT_SEEDS = {1, 3}


class TextPaintingInpaint(StableDiffusionInpaintPipeline):
    """A real diffusers inpainting pipeline that also paints STOP into the mask for TEXT_SEEDS."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = super().__call__(*args, **kwargs)
        font = ImageFont.load_default(size=14)
        for i, gen in enumerate(kwargs["generator"]):
            if gen.initial_seed() in TEXT_SEEDS:
                mask = np.asarray(kwargs["mask_image"][i]) > 127
                ys, xs = np.nonzero(mask)
                im = Image.fromarray((out.images[i] * 255).round().astype(np.uint8))
                draw = ImageDraw.Draw(im)
                draw.rectangle((xs.min(), ys.min(), xs.max(), ys.max()), fill=(255, 255, 255))
                draw.text((xs.min() + 4, ys.min() + 8), "STOP", fill=(0, 0, 0), font=font)
                out.images[i] = np.asarray(im, np.float32) / 255.0
        return out


@pytest.fixture(scope="module")
def inpaint_pipe(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pipe = build_tiny_sd(tmp_path_factory.mktemp("tiny"))
    inpaint = TextPaintingInpaint(**pipe.components)
    inpaint.set_progress_bar_config(disable=True)
    return inpaint


def _pairs(folder: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    triples = []
    for _ in range(n):
        image = np.full((64, 64, 3), rng.integers(60, 200, 3), np.uint8)
        mask = np.zeros((64, 64), bool)
        y, x = int(rng.integers(4, 20)), int(rng.integers(2, 8))
        mask[y : y + 32, x : x + 54] = True
        triples.append((image, mask, "house"))
    return write_pairs(triples, folder)


def _fake_ocr(a: np.ndarray) -> list[Any]:
    """Stand-in for rapidocr: a box around a white panel holding black strokes."""
    white = (a == 255).all(-1)
    black = (a == 0).all(-1)
    if white.sum() < 200 or black.sum() < 20:
        return []
    ys, xs = np.nonzero(white)
    x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    return [([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], "STOP", 0.9)]


SETTINGS = AuditSettings(seeds="0-3", steps=1, guidance=0.0, batch_size=4, reps=200, detector=False)


def test_audit_flags_the_text_seeds_and_checks_them_held_out(
    inpaint_pipe: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("seedscope.scorers.text._ocr_rapid", _fake_ocr)
    pairs = _pairs(tmp_path / "pairs", 4)
    out = tmp_path / "audit"
    result = run_audit(pairs, out, SETTINGS, pipe=inpaint_pipe)
    assert result["images"] == 4 * 4 * 2 and result["tasks"] == ["completion", "removal"]
    ocr = result["signals"]["ocr"]
    assert set(ocr["flagged_seeds"]) == TEXT_SEEDS
    check = ocr["heldout_check"]
    assert (
        check["n_prompts"] == 2 and check["diff"] == pytest.approx(1.0) and check["diff_lo"] > 0.5
    )
    per_seed = {r["seed"]: r for r in result["per_seed"]}
    assert per_seed[1]["ocr_share"] == 1.0 and per_seed[0]["ocr_share"] == 0.0
    assert per_seed[3]["text_in_mask"] > 0.5  # the white panel covers the mask
    rows = read_rows(out)
    assert len(rows) == 32 and set(rows["task"]) == {"removal", "completion"}
    # Resumable: a second run generates nothing; a lost shard is regenerated alone.
    again = run_audit(pairs, out, SETTINGS, pipe=inpaint_pipe)
    assert again["images_generated"] == 0
    next((out / "images").glob("removal-*.parquet")).unlink()
    again = run_audit(pairs, out, SETTINGS, pipe=inpaint_pipe)
    assert again["images_generated"] == 4 and again["images"] == 32
    with pytest.raises(SeedscopeError, match="holds an audit with other"):
        run_audit(pairs, out, AuditSettings(seeds="0-7", detector=False), pipe=inpaint_pipe)


def test_audit_of_clean_seeds_flags_nothing(
    inpaint_pipe: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("seedscope.scorers.text._ocr_rapid", _fake_ocr)
    monkeypatch.setattr(f"{__name__}.TEXT_SEEDS", set())
    settings = AuditSettings(seeds="0-3", tasks=("removal",), steps=1, guidance=0.0, detector=False)
    result = run_audit(_pairs(tmp_path / "p", 4), tmp_path / "a", settings, pipe=inpaint_pipe)
    assert result["signals"]["ocr"]["flagged_seeds"] == []
    assert result["signals"]["ocr"]["heldout_check"] is None


@pytest.mark.slow
def test_real_ocr_reads_the_painted_word(inpaint_pipe: Any, tmp_path: Path) -> None:
    settings = AuditSettings(seeds="0-3", tasks=("removal",), steps=1, guidance=0.0, detector=False)
    result = run_audit(_pairs(tmp_path / "p", 2), tmp_path / "a", settings, pipe=inpaint_pipe)
    rows = read_rows(tmp_path / "a")
    painted = rows["seed"].isin(TEXT_SEEDS)
    assert rows.loc[painted, "has_text"].all() and not rows.loc[~painted, "has_text"].any()
    assert rows.loc[painted, "text"].str.contains("STOP").all()
    assert result["signals"]["ocr"]["rate"] == pytest.approx(0.5)


def test_pairs_inputs_and_world_pairs(tmp_path: Path, cli: Cli) -> None:
    code, _, err = cli(["world", "pairs", "--n", "3", "--out", str(tmp_path / "w")])
    assert code == 0, err
    pairs = load_pairs(tmp_path / "w")
    assert len(pairs) == 3 and all(p.mask.any() and p.object for p in pairs)
    # A plain folder: NAME.png with NAME_mask.png beside it.
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (64, 64)).save(flat / "cat_1.png")
    m = np.zeros((64, 64), np.uint8)
    m[10:20, 10:20] = 255
    Image.fromarray(m).save(flat / "cat_1_mask.png")
    (only,) = load_pairs(flat)
    assert only.object == "cat" and only.mask.sum() == 100
    Image.new("RGB", (64, 64)).save(flat / "dog.png")
    with pytest.raises(SeedscopeError, match="has no mask"):
        load_pairs(flat)
    code, _, err = cli(
        ["inpaint-audit", "--pairs", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    )
    assert code == 2 and "does not exist" in err
    code, _, err = cli(
        [
            "inpaint-audit",
            "--pairs",
            str(tmp_path / "w"),
            "--out",
            str(tmp_path / "o"),
            "--ocr",
            "some",
        ]
    )
    assert code == 2 and "--ocr must be" in err
    assert json.loads((tmp_path / "w" / "pairs.csv").read_text().splitlines()[1].split(",")[0]) == 0


def test_ocr_without_the_detector_is_refused_before_generating(
    tmp_path: Path, cli: Cli, tiny_sd_dir: Path
) -> None:
    with pytest.raises(SeedscopeError, match="--ocr detected needs the world detector"):
        AuditSettings(ocr="detected", detector=False)
    with pytest.raises(SeedscopeError, match="--ocr none with the detector off"):
        AuditSettings(ocr="none", detector=False)
    assert AuditSettings(ocr="detected", detector=True).ocr == "detected"
    pairs = _pairs(tmp_path / "pairs", 2)
    base = ["inpaint-audit", "--pairs", str(pairs), "--seeds", "0-1", "--steps", "1"]
    # A model other than world: the detector is off by default.
    code, _, err = cli(
        [*base, "--out", str(tmp_path / "a"), "--model", str(tiny_sd_dir), "--ocr", "detected"]
    )
    assert code == 2 and "needs the world detector" in err and "Traceback" not in err, err
    code, _, err = cli([*base, "--out", str(tmp_path / "b"), "--ocr", "none", "--no-detector"])
    assert code == 2 and "leaves nothing to find text with" in err, err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_one_pair_says_there_is_no_heldout_check(
    inpaint_pipe: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.setattr("seedscope.scorers.text._ocr_rapid", _fake_ocr)
    settings = AuditSettings(seeds="0-3", tasks=("removal",), steps=1, guidance=0.0, detector=False)
    result = run_audit(_pairs(tmp_path / "p", 1), tmp_path / "a", settings, pipe=inpaint_pipe)
    ocr = result["signals"]["ocr"]
    assert ocr["heldout_check"] is None and ocr["heldout_pairs"] == 0
    assert ocr["heldout_note"].startswith("no held-out check: 1 selection and 0 held-out pairs")
    code, out, err = cli(["world", "pairs", "--n", "2", "--out", str(tmp_path / "w"), "--json"])
    assert code == 0, err
    written = json.loads(out)
    assert written["pairs"] == 2 and Path(written["pairs_csv"]).is_file()
    assert len(load_pairs(tmp_path / "w")) == 2
