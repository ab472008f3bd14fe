"""`seedscope score`, `fid`, `fid-seeds`, `fid-stats` at the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from fixtures.cli import Cli, run_process
from fixtures.sweepdir import write_sweep
from seedscope.store import TMP_PREFIX


def _images(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a = np.clip(rng.integers(0, 256, 3) + rng.normal(0, 30, (32, 32, 3)), 0, 255).astype(
            np.uint8
        )
        im = Image.fromarray(a)
        out.append(im.convert("L").convert("RGB") if i % 3 == 0 else im)
    return out


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    return write_sweep(
        tmp_path / "sweep", _images(12), ["a cat", "a dog", "a car"], [5, 6, 7, 8], shard_rows=5
    )


def _scores(sweep: Path, name: str) -> list[dict]:
    files = sorted((sweep / "scores" / name).glob("*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def test_score_writes_keyed_parquet_and_is_incremental(sweep: Path, cli: Cli) -> None:
    code, _, err = cli(["score", str(sweep), "--scorers", "grayscale,border", "--batch-size", "4"])
    assert code == 0, err
    rows = _scores(sweep, "grayscale")
    assert len(rows) == 12 and {(r["prompt_id"], r["seed"]) for r in rows} == {
        (p, s) for p in range(3) for s in (5, 6, 7, 8)
    }
    assert [r["grayscale"] for r in sorted(rows, key=lambda r: (r["prompt_id"], r["seed"]))] == [
        i % 3 == 0 for i in range(12)
    ]
    # Nothing new to do: no new shards.
    before = sorted((sweep / "scores" / "grayscale").glob("*.parquet"))
    code, _, err = cli(["score", str(sweep), "--scorers", "grayscale,sky"])
    assert code == 0, err
    assert sorted((sweep / "scores" / "grayscale").glob("*.parquet")) == before
    assert len(_scores(sweep, "sky")) == 12 and len(_scores(sweep, "grayscale")) == 12


def test_score_resumes_after_partial_run(sweep: Path) -> None:
    from seedscope.scorers.run import score_sweep

    # A killed run leaves finished shards and perhaps a temporary file.
    calls = []

    def stop_after_first(done: int, total: int) -> None:
        calls.append(done)
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_sweep(sweep, ["grayscale"], batch_size=4, progress=stop_after_first)
    (sweep / "scores" / "grayscale" / f"{TMP_PREFIX}dead.partial").write_bytes(b"junk")
    assert len(_scores(sweep, "grayscale")) == 4
    counts = score_sweep(sweep, ["grayscale"], batch_size=4)
    assert counts == {"grayscale": 8}
    rows = _scores(sweep, "grayscale")
    assert len(rows) == 12 and len({(r["prompt_id"], r["seed"]) for r in rows}) == 12
    assert not list((sweep / "scores" / "grayscale").glob(f"{TMP_PREFIX}*"))


def test_score_features_option(sweep: Path, cli: Cli) -> None:
    code, _, err = cli(["score", str(sweep), "--scorers", "grayscale", "--features", "gram"])
    assert code == 0, err
    (folder,) = (sweep / "features").glob("gram@clean-*")
    assert list(folder.glob("*.parquet")) and (folder / "identity.json").is_file()


def test_score_list(cli: Cli) -> None:
    code, out, _ = cli(["score", ".", "--list"])
    assert code == 0 and "grayscale" in out and "inception" in out


def test_bad_input_is_one_sentence_exit_2(sweep: Path, tmp_path: Path) -> None:
    r = run_process(["score", str(tmp_path), "--scorers", "grayscale"])
    assert (
        r.returncode == 2
        and "not a sweep directory" in r.stderr
        and len(r.stderr.strip().splitlines()) == 1
    )
    r = run_process(["score", str(sweep), "--scorers", "grayscale,nope"])
    assert r.returncode == 2 and "unknown scorer 'nope'" in r.stderr
    r = run_process(
        ["score", str(sweep), "--scorers", "grayscale", "--option", "graysale.threshold=6"]
    )
    assert r.returncode == 2 and "'graysale'" in r.stderr
    r = run_process(["score", str(sweep), "--batch-size", "0"])
    assert r.returncode == 2 and "--batch-size" in r.stderr
    assert not (sweep / "scores").exists()
    (tmp_path / "empty").mkdir()
    r = run_process(
        ["fid-seeds", str(sweep), "--ref", str(tmp_path / "empty"), "--extractor", "gram"]
    )
    assert r.returncode == 2 and "empty" in r.stderr
    # The world extractor has its own fixed preprocessing: --resize is refused, not ignored.
    args = ["--ref", str(tmp_path / "empty"), "--extractor", "world", "--resize", "bilinear"]
    r = run_process(["fid-seeds", str(sweep), *args])
    assert r.returncode == 2 and "resize" in r.stderr and "Traceback" not in r.stderr
    assert not (sweep / "analysis").exists()


def test_fid_seeds_writes_one_row_per_seed(sweep: Path, tmp_path: Path, cli: Cli) -> None:
    ref = tmp_path / "ref"
    ref.mkdir()
    for i, im in enumerate(_images(16, seed=9)):
        im.save(ref / f"{i}.png")
    # Too few reference images for a 5,848-d covariance first, then allowed.
    code, _, err = cli(["fid-seeds", str(sweep), "--ref", str(ref), "--extractor", "gram"])
    assert code != 0 and "feature dimension" in err
    code, _, err = cli(
        ["fid-seeds", str(sweep), "--ref", str(ref), "--extractor", "gram", "--allow-small"]
    )
    assert code == 0, err
    from seedscope.analysis.io import read_analysis

    t = read_analysis(sweep, "fid_by_seed").to_pylist()
    assert [row["seed"] for row in t] == [5, 6, 7, 8]
    assert all(row["n_images"] == 3 and row["fid"] > 0 and row["kid"] is not None for row in t)
    stats = tmp_path / "ref.npz"
    code, _, err = cli(["fid-stats", str(ref), str(stats), "--allow-small"])
    assert code == 0, err
    assert stats.is_file()


@pytest.mark.slow
def test_score_on_ray(sweep: Path) -> None:
    ray = pytest.importorskip("ray")
    from seedscope.scorers.run import score_sweep

    try:
        counts = score_sweep(sweep, ["grayscale", "border"], engine="ray", batch_size=4)
    finally:
        ray.shutdown()  # other test modules start their own Ray
    assert counts == {"grayscale": 12, "border": 12}
    assert len(_scores(sweep, "border")) == 12
