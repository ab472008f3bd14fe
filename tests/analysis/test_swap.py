"""The seed swap: no swap is the plain sweep's image; what a switch at step k changes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import torch

from conftest import TINY_SIZE
from fixtures.cli import Cli
from seedscope.analysis.swap import (
    SwapSettings,
    default_ks,
    parse_pairs,
    parse_sampler,
    summarise,
    swap_study,
)
from seedscope.errors import SeedscopeError
from seedscope.models.settings import set_scheduler
from seedscope.sweep.generate import BatchGenerator

STEPS = 4
PROMPTS = {0: "a red car", 1: "a blue bird"}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread (the machine is shared); the suite's setting is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_pipe(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fixtures.tiny import build_tiny_sd

    pipe = build_tiny_sd(tmp_path_factory.mktemp("tiny"))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _settings(**kw: Any) -> SwapSettings:
    base: dict[str, Any] = dict(
        steps=STEPS,
        guidance=1.0,
        height=TINY_SIZE,
        width=TINY_SIZE,
        features=None,
        ks=(0, 2),
        n_boot=50,
    )
    base.update(kw)
    return SwapSettings(**base)


@pytest.fixture(scope="module")
def study(tiny_pipe: Any) -> Any:
    return swap_study(tiny_pipe, PROMPTS, [(3, 9)], _settings())


def _plain(pipe: Any, scheduler: str, eta: float | None, pairs: list[tuple[int, int]]) -> Any:
    original = pipe.scheduler
    try:
        set_scheduler(pipe, scheduler)
        gen = BatchGenerator(
            pipe, steps=STEPS, guidance=1.0, height=TINY_SIZE, width=TINY_SIZE, eta=eta
        )
        gen.encode(PROMPTS)
        return gen.run(pairs).images
    finally:
        pipe.scheduler = original


def _rows(study: Any, sampler: str, k: int) -> list[dict[str, Any]]:
    return [r for r in study.rows.to_pylist() if r["sampler"] == sampler and r["k"] == k]


@pytest.mark.parametrize("sampler", ["ddim", "ddim-eta1", "euler-ancestral"])
def test_no_swap_is_the_plain_image(tiny_pipe: Any, study: Any, sampler: str) -> None:
    scheduler, eta = parse_sampler(sampler)
    plain = _plain(tiny_pipe, scheduler, eta, [(0, 3), (1, 3)])
    for n, p in enumerate(PROMPTS):
        # The same image: float kernels of different batch compositions may round a value to the
        # next grey level (measured: one of 3,072 values, by 1/255, for ddim-eta1).
        d = np.abs(study.no_swap[(sampler, p, 3)].astype(int) - plain[n].astype(int))
        assert d.max() <= 1 and (d > 0).mean() < 0.002
    # Distance to itself: exactly zero.
    assert all(r["pixel_to_i"] == 0.0 for r in _rows(study, sampler, STEPS))


def test_deterministic_ddim_ignores_the_switch(study: Any) -> None:
    for k in (0, 2):
        assert all(r["pixel_to_i"] == 0.0 for r in _rows(study, "ddim", k))


@pytest.mark.parametrize("sampler", ["ddim-eta1", "euler-ancestral"])
def test_stochastic_samplers_follow_the_later_noise(study: Any, sampler: str) -> None:
    early = _rows(study, sampler, 0)
    assert all(r["pixel_to_i"] > 0.001 for r in early)
    # The later the switch, the closer to pure i (averaged over prompts).
    mean = {k: np.mean([r["pixel_to_i"] for r in _rows(study, sampler, k)]) for k in (0, 2)}
    assert mean[0] > mean[2]


def test_switch_means_seed_j_stream_at_the_same_step(tiny_pipe: Any, study: Any) -> None:
    # k = 0 by hand: seed i's initial latent, then a generator positioned where seed j's own
    # run is once its initial latent is drawn.
    from diffusers.utils.torch_utils import randn_tensor

    original = tiny_pipe.scheduler
    try:
        set_scheduler(tiny_pipe, "euler-ancestral")
        gen = BatchGenerator(
            tiny_pipe, steps=STEPS, guidance=1.0, height=TINY_SIZE, width=TINY_SIZE
        )
        gen.encode(PROMPTS)

        def hook(step: int, generators: list[torch.Generator]) -> None:
            if step == 0:
                j = torch.Generator().manual_seed(9)
                randn_tensor((1, *gen.shape), generator=[j], dtype=torch.float32)
                generators[0].set_state(j.get_state())

        by_hand = gen.run([(0, 3)], on_step=hook).images[0]
    finally:
        tiny_pipe.scheduler = original
    rows = [r for r in _rows(study, "euler-ancestral", 0) if r["prompt_id"] == 0]
    pure_j = _plain(tiny_pipe, "euler-ancestral", None, [(0, 9)])[0]
    pure_i = study.no_swap[("euler-ancestral", 0, 3)]
    got_i = np.sqrt(((by_hand / 255.0 - pure_i / 255.0) ** 2).mean())
    got_j = np.sqrt(((by_hand / 255.0 - pure_j / 255.0) ** 2).mean())
    assert rows[0]["pixel_to_i"] == pytest.approx(got_i, abs=1e-12)
    assert rows[0]["pixel_to_j"] == pytest.approx(got_j, abs=1e-12)


def test_grid_shape(study: Any) -> None:
    # Three samplers × (3 k values + pure j), each cell scaled to 128 px.
    assert study.grid.size[0] > 4 * 128 and study.grid.size[1] > 3 * 128


def test_summarise_matches_a_loop() -> None:
    rng = np.random.default_rng(0)
    rows = pa.Table.from_pylist(
        [
            {"sampler": s, "k": k, "prompt_id": p, "pixel_to_i": float(rng.random() + k)}
            for s in ("a", "b")
            for k in (0, 5)
            for p in range(6)
            for _ in range(2)
        ]
    )
    table = summarise(rows, n_boot=200).to_pylist()
    df = rows.to_pandas()
    for rec in table:
        sub = df[(df.sampler == rec["sampler"]) & (df.k == rec["k"])]
        expected = sub.groupby("prompt_id").pixel_to_i.mean().mean()
        assert rec["pixel_to_i"] == pytest.approx(expected)
        assert rec["pixel_to_i_lo"] <= rec["pixel_to_i"] <= rec["pixel_to_i_hi"]
        assert rec["n_images"] == 12


def test_bad_input(tiny_pipe: Any) -> None:
    with pytest.raises(SeedscopeError, match="unknown sampler"):
        parse_sampler("warp-drive")
    with pytest.raises(SeedscopeError, match=r"outside 0\.\.4"):
        swap_study(tiny_pipe, PROMPTS, [(1, 2)], _settings(ks=(0, 9)))
    with pytest.raises(SeedscopeError, match="itself"):
        swap_study(tiny_pipe, PROMPTS, [(1, 1)], _settings())
    with pytest.raises(SeedscopeError, match="i:j"):
        parse_pairs("1-2")
    with pytest.raises(SeedscopeError, match="negative"):
        parse_pairs("1:-2")
    assert default_ks(20) == (0, 5, 10, 15, 20)


def test_swap_on_a_sweep_matches_its_images(
    make_sweep: Callable[..., Path], tmp_path: Path, cli: Cli
) -> None:
    out = make_sweep(tmp_path / "sw", seeds="0-3", steps=STEPS, guidance=1.0)
    code, stdout, err = cli(
        [
            "swap",
            "--sweep",
            str(out),
            "--n-prompts",
            "2",
            "--samplers",
            "ddim",
            "--ks",
            "0,2",
            "--features",
            "none",
            "--json",
            "-q",
        ]
    )
    assert code == 0, err
    result = json.loads(stdout)
    # The sweep's own sampler (DDIM) with no swap gives the sweep's images exactly.
    assert result["sweep_check"]["sampler"] == "ddim"
    assert result["sweep_check"]["images"] == 4  # 2 prompts × seeds 0 and 2 (pairs 0:1, 2:3)
    assert result["sweep_check"]["max_abs_diff"] <= 1
    assert Path(result["paths"]["grid"]).is_file()
    assert Path(result["paths"]["rows"]).parent == out / "analysis"
    ks = sorted({r["k"] for r in result["summary"]})
    assert ks == [0, 2, STEPS]


def test_swap_cli_bad_input(cli: Cli, tmp_path: Path) -> None:
    for args, words in [
        (["--prompt", "a cat", "--out", str(tmp_path), "--ks", "0,x"], "whole numbers"),
        (["--prompt", "a cat"], "--out"),
        (["--out", str(tmp_path)], "--prompt"),
        (["--prompt", "a", "--out", str(tmp_path), "--samplers", "nope"], "unknown sampler"),
    ]:
        code, _, err = cli(["swap", *args, "-q"])
        assert code == 2, (args, err)
        assert words in err
