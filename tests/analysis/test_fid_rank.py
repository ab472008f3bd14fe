"""Per-seed FID in `seedscope rank`: streamed jackknife equals the in-memory one, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image
from scipy import stats as sps

from fixtures.cli import Cli
from fixtures.sweepdir import write_features, write_sweep
from seedscope.analysis.fid_interval import (
    fid_kid_intervals,
    fid_streamed,
    kid_streamed,
    prompt_blocks,
)
from seedscope.analysis.rank import _heldout_set_metric
from seedscope.metrics.functional import statistics

N_PROMPTS, N_SEEDS, DIM = 16, 10, 128


def _reader(pid: np.ndarray, sd: np.ndarray, x: np.ndarray, rows: int):  # type: ignore[no-untyped-def]
    def read(group: list[int]):  # type: ignore[no-untyped-def]
        keep = np.flatnonzero(np.isin(sd, group))
        for i in range(0, len(keep), rows):  # small batches, seeds interleaved
            r = keep[i : i + rows]
            yield pid[r], sd[r], x[r]

    return read


def test_streamed_fid_equals_the_in_memory_jackknife_on_all_prompts_and_each_set() -> None:
    rng = np.random.default_rng(0)
    dim, n_p, seeds = 5, 24, np.array([3, 7, 9, 11])
    pid, sd = (g.ravel() for g in np.meshgrid(np.arange(n_p), seeds, indexing="ij"))
    x = rng.normal(size=(len(pid), dim)) + 0.2 * sd[:, None]
    order = rng.permutation(len(pid))  # file order is not sorted
    pid, sd, x = pid[order], sd[order], x[order]
    ref = rng.normal(size=(300, dim))
    mu, cov = statistics(ref)
    prompts = np.arange(n_p)
    in_a = prompts % 3 == 0  # 8 prompts in a, 16 in b
    cells, k = prompt_blocks(prompts, in_a, 4, rng_seed=1)
    # memory_bytes below one seed's accumulators: seeds are read one at a time.
    full, a, b = fid_streamed(
        _reader(pid, sd, x, 7), seeds, prompts, cells, k, mu, cov, level=0.9, memory_bytes=1
    )
    kw = {"level": 0.9}
    want = fid_kid_intervals(pid, sd, x, mu, cov, None, block_of_prompt=cells % k, **kw)
    for got, ref_out in [(full, want)] + [
        (got, fid_kid_intervals(pid[m], sd[m], x[m], mu, cov, None, block_of_prompt=c, **kw))
        for got, m, c in (
            (a, np.isin(pid, prompts[in_a]), cells[in_a]),
            (b, np.isin(pid, prompts[~in_a]), cells[~in_a]),
        )
    ]:
        assert (got["seed"] == ref_out["seed"]).all()
        for col in ("fid", "fid_lo", "fid_hi", "fid_se"):
            assert got[col] == pytest.approx(ref_out[col], rel=1e-7), col
    assert (full["fid_lo"] < full["fid"]).all() and (full["fid"] < full["fid_hi"]).all()
    # The leave-one-block-out FIDs of set a: FID of the seed's set-a rows without block j.
    s, j = 7, 2
    rows = (sd == s) & np.isin(pid, prompts[in_a & (cells != j)])
    one = fid_kid_intervals(pid[rows], sd[rows], x[rows], mu, cov, None, blocks=2)["fid"][0]
    assert a[f"fid_loo{j}"][1] == pytest.approx(one, rel=1e-7)


def test_streamed_kid_equals_the_in_memory_jackknife_on_all_prompts_and_each_set() -> None:
    rng = np.random.default_rng(2)
    dim, n_p, seeds = 6, 20, np.array([1, 4, 5])
    pid, sd = (g.ravel() for g in np.meshgrid(np.arange(n_p), seeds, indexing="ij"))
    x = rng.normal(size=(len(pid), dim)) + 0.3 * sd[:, None]
    order = rng.permutation(len(pid))
    pid, sd, x = pid[order], sd[order], x[order]
    ref = rng.normal(size=(50, dim))
    mu, cov = statistics(ref)
    prompts = np.arange(n_p)
    in_a = prompts % 2 == 0
    cells, k = prompt_blocks(prompts, in_a, 3, rng_seed=4)
    full, a, b = kid_streamed(
        _reader(pid, sd, x, 5), seeds, prompts, cells, k, ref, level=0.9, memory_bytes=1
    )
    kw = {"level": 0.9}
    for got, m, c in (
        (full, np.ones(len(pid), bool), cells % k),
        (a, np.isin(pid, prompts[in_a]), cells[in_a]),
        (b, np.isin(pid, prompts[~in_a]), cells[~in_a]),
    ):
        want = fid_kid_intervals(pid[m], sd[m], x[m], mu, cov, ref, block_of_prompt=c, **kw)
        assert (got["seed"] == want["seed"]).all()
        for col in ("kid", "kid_lo", "kid_hi", "kid_se"):
            assert got[col] == pytest.approx(want[col], rel=1e-7, abs=1e-12), col


def test_heldout_set_metric_uses_the_level() -> None:
    import pandas as pd

    a = np.array([10.0, 20.0, 30.0])
    b = pd.DataFrame({"fid": [11.0, 19.0, 33.0], "fid_se": [1.0, 1.0, 2.0]})
    r = _heldout_set_metric(a, b, "fid", False, ("a", "b"), np.array([5, 6, 7]), 0.9)
    assert (r["best"], r["worst"]) == (5, 7) and r["gap_heldout"] == pytest.approx(22.0)
    half = sps.norm.ppf(0.95) * np.hypot(1.0, 2.0)
    assert r["gap_heldout_hi"] - r["gap_heldout"] == pytest.approx(half)
    assert r["p_value"] == pytest.approx(sps.norm.sf(22.0 / np.hypot(1.0, 2.0)))


@pytest.fixture()
def featured(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """A tiny scored sweep with synthetic cached world features (seed s shifted by shift[s])."""
    from seedscope.features import get_extractor
    from seedscope.scorers.run import score_sweep

    path = tmp_path / "sweep"
    prompts = [f"a red circle number {i}" for i in range(N_PROMPTS)]
    ims = [Image.new("RGB", (16, 16), (10 * p, 20 * s, 90)) for p in range(N_PROMPTS)
           for s in range(N_SEEDS)]  # fmt: skip
    sets = ["a" if i % 2 else "b" for i in range(N_PROMPTS)]
    write_sweep(path, ims, prompts, list(range(N_SEEDS)), sets=sets)
    score_sweep(path, ["grayscale"])
    ex = get_extractor("world")
    rng = np.random.default_rng(0)
    shift = 0.15 * np.arange(N_SEEDS)
    pid, sd = (
        g.ravel() for g in np.meshgrid(np.arange(N_PROMPTS), np.arange(N_SEEDS), indexing="ij")
    )
    x = (rng.normal(size=(len(pid), DIM)) + shift[sd][:, None]).astype(np.float32)
    order = rng.permutation(len(pid))  # file order is not sorted
    write_features(path, "world", pid[order], sd[order], x[order], parts=3)
    ref = rng.normal(size=(400, DIM)).astype(np.float32)
    stats = tmp_path / "ref.npz"
    mu, cov = statistics(ref)
    np.savez(stats, mu=mu, sigma=cov, n=len(ref), features=ref, extractor=ex.key)
    return path, stats, shift


def test_rank_by_fid_end_to_end(featured: tuple[Path, Path, np.ndarray], cli: Cli) -> None:
    path, stats, _ = featured
    code, _, err = cli(["rank", str(path), "--metric", "fid"])
    assert code == 2 and "seedscope fid-seeds" in err and "Traceback" not in err
    code, _, err = cli(["fid-seeds", str(path), "--ref", str(stats), "--extractor", "world"])
    assert code == 0, err
    from seedscope.analysis.io import read_analysis

    seeds_fid = read_analysis(path, "fid_by_seed").to_pandas().set_index("seed")
    args = ["rank", str(path), "--metric", "fid", "--test", "both", "-k", "2", "--reps", "200"]
    code, out, err = cli([*args, "--json", "--level", "0.9"])
    assert code == 0, err
    res = json.loads(out)
    assert res["metric"] == "fid" and not res["higher_is_better"]
    assert {r["seed"] for r in res["golden"]} == {0, 1} and {
        r["seed"] for r in res["inferior"]
    } == {8, 9}
    assert all(r["lo"] < r["value"] < r["hi"] for r in res["golden"] + res["inferior"])
    assert "jackknife" in res["interval"] and "bootstrap resamples" not in res["interval"]
    assert "permutation test not run" in res["not_run"] and "heldout" in res["tests"]
    c = res["consistency"]
    assert c["spearman_lo"] <= c["spearman_rho"] <= c["spearman_hi"] and c["spearman_lo"] > 0
    table = pq.read_table(res["files"][0]).to_pandas().set_index("seed")
    # The streamed FID on all prompts equals fid-seeds' in-memory FID (fid_by_group).
    assert table["fid"].to_numpy() == pytest.approx(seeds_fid["fid"].to_numpy(), rel=1e-6)
    assert table["kid"].to_numpy() == pytest.approx(seeds_fid["kid"].to_numpy())
    assert (table["kid_lo"] < table["kid"]).all() and (table["kid"] < table["kid_hi"]).all()
    assert (table["n_images"] == N_PROMPTS).all()
    t = res["tests"]["heldout"]
    half = (t["gap_heldout_hi"] - t["gap_heldout_lo"]) / 2
    assert half < 1.7 * (t["gap_heldout_hi"] - t["gap_heldout"])  # symmetric, finite
    code, text, err = cli(args)
    assert code == 0, err
    head = text.splitlines()[0]
    assert "jackknife" in head and "bootstrap resamples of the prompts" not in head
    assert any(line.startswith("permutation test not run") for line in text.splitlines())
    assert "(no interval)" not in text
