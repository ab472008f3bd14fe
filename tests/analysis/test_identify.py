"""Seed identification: candidate noise, the scan, its calibration, images end to end, bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats

from fixtures.cli import Cli
from seedscope.analysis.identify import (
    IdentifySettings,
    Query,
    ScanSettings,
    candidate_noise,
    identify_latents,
    identify_queries,
    run_identify,
)
from seedscope.errors import SeedscopeError

SHAPE = (4, 8, 8)  # d = 256: a small latent keeps the synthetic tests fast


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread (the machine is shared); the suite's setting is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _planted(seeds: list[int], rho: float, gen_seed: int = 987_654_321) -> torch.Tensor:
    """Estimates correlated `rho` with each seed's noise (what an inversion gives).

    The rest is drawn from a seed no test scans: its first rows are that seed's own noise.
    """
    noise = candidate_noise(seeds, SHAPE)
    g = torch.Generator().manual_seed(gen_seed)
    other = torch.randn(noise.shape, generator=g)
    return (rho * noise + (1 - rho**2) ** 0.5 * other).reshape(len(seeds), *SHAPE)


@pytest.mark.parametrize("shape", [(4, 32, 32), (4, 5, 3)])
def test_candidate_noise_is_diffusers_initial_latent(shape: tuple[int, ...]) -> None:
    from diffusers.utils.torch_utils import randn_tensor

    seeds = [0, 7, 123456, 2**40 + 3]
    gens = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    expected = randn_tensor((len(seeds), *shape), generator=gens, dtype=torch.float32)
    assert torch.equal(candidate_noise(seeds, shape), expected.reshape(len(seeds), -1))


def test_cpu_seeds_alias_modulo_2_32() -> None:
    a, b = candidate_noise([5, 5 + 2**32], SHAPE)
    assert torch.equal(a, b)


def test_scan_matches_brute_force() -> None:
    seeds = range(100, 1300)
    queries = torch.cat([_planted([150, 1200], 0.6), torch.randn(2, *SHAPE)])
    got = identify_latents(queries, [seeds], ScanSettings(chunk=97))
    noise = candidate_noise(list(seeds), SHAPE).double().numpy()
    q = queries.reshape(4, -1).double().numpy()
    cos = (q @ noise.T) / np.linalg.norm(q, axis=1)[:, None] / np.linalg.norm(noise, axis=1)
    for b, answer in enumerate(got):
        order = np.argsort(-cos[b])
        assert answer.best_seed == seeds[order[0]]
        assert answer.runner_up_seed == seeds[order[1]]
        rest = np.delete(cos[b], order[0])
        assert answer.cosine == pytest.approx(cos[b, order[0]], abs=1e-6)
        # float32 cosines: their mean agrees to rounding, not to 1e-9.
        assert answer.null_mean == pytest.approx(rest.mean(), abs=1e-7)
        assert answer.null_std == pytest.approx(rest.std(), rel=1e-6)
        assert answer.z == pytest.approx((cos[b, order[0]] - rest.mean()) / rest.std(), rel=1e-5)
    assert [a.seed for a in got[:2]] == [150, 1200]


def test_chunks_and_ranges_do_not_change_the_answer() -> None:
    queries = _planted([3, 77, 4000], 0.3)
    one = identify_latents(queries, [range(0, 5000)], ScanSettings(chunk=4096))
    split = identify_latents(queries, [range(2500, 5000), range(0, 2500)], ScanSettings(chunk=333))
    for a, b in zip(one, split, strict=True):
        assert (a.best_seed, a.runner_up_seed) == (b.best_seed, b.runner_up_seed)
        assert a.z == pytest.approx(b.z, rel=1e-9)


def test_parallel_scan_equals_the_serial_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two spawned worker processes over two ranges give the serial scan's answers.
    import seedscope.analysis.identify as identify

    used: list[int] = []

    class Pool(identify.ProcessPoolExecutor):
        def __init__(self, workers: int, *args: object) -> None:
            used.append(workers)
            super().__init__(workers, *args)  # type: ignore[arg-type]

    queries = torch.cat([_planted([7, 2600, 5321], 0.4), torch.randn(1, *SHAPE)])
    ranges = [range(0, 3000), range(5000, 5400)]
    serial = identify_latents(queries, ranges, ScanSettings(chunk=256, workers=1))
    monkeypatch.setattr(identify, "MIN_SEEDS_PER_WORKER", 100)
    monkeypatch.setattr(identify, "ProcessPoolExecutor", Pool)
    parallel = identify_latents(queries, ranges, ScanSettings(chunk=256, workers=2))
    assert used == [2]
    for a, b in zip(serial, parallel, strict=True):
        assert (a.seed, a.best_seed, a.runner_up_seed) == (b.seed, b.best_seed, b.runner_up_seed)
        assert a.n_candidates == b.n_candidates == 3400
        assert a.cosine == pytest.approx(b.cosine, abs=1e-6)
        assert a.z == pytest.approx(b.z, rel=1e-6)
        assert a.null_std == pytest.approx(b.null_std, rel=1e-6)
    assert [a.seed for a in parallel[:3]] == [7, 2600, 5321]


def test_planted_seeds_found_among_ten_thousand() -> None:
    planted = [12, 5003, 9999]
    answers = identify_latents(_planted(planted, 0.45), [range(10_000)], ScanSettings())
    assert [a.seed for a in answers] == planted
    assert all(a.p_value < 1e-6 and a.match for a in answers)


def test_seed_outside_the_candidates_gets_no_match() -> None:
    # Seeds 20000-20007 are not candidates: their images must not be given a seed.
    answers = identify_latents(
        _planted(list(range(20_000, 20_008)), 0.45), [range(10_000)], ScanSettings(alpha=1e-3)
    )
    assert not any(a.match for a in answers)
    assert all(a.seed is None and a.p_value > 1e-3 for a in answers)


def test_p_values_are_uniform_under_the_null() -> None:
    # 300 estimates that match no candidate: the best candidate's p-value is uniform.
    g = torch.Generator().manual_seed(987_654_321)  # not a candidate
    queries = torch.randn(300, *SHAPE, generator=g)
    answers = identify_latents(queries, [range(2000)], ScanSettings())
    p = np.array([a.p_value for a in answers])
    assert stats.kstest(p, "uniform").pvalue > 1e-3
    assert 0.0 <= (p < 0.05).mean() <= 0.12


def test_bad_settings() -> None:
    q = torch.randn(1, *SHAPE)
    with pytest.raises(SeedscopeError, match="alpha"):
        identify_latents(q, [range(10)], ScanSettings(alpha=0.0))
    with pytest.raises(SeedscopeError, match="all zeros"):
        identify_latents(torch.zeros(1, *SHAPE), [range(10)], ScanSettings())


# The bundled world model, few steps: planted seeds found among 10^4, outsiders refused.

STEPS = 8


@pytest.fixture(scope="module")
def world_pipe() -> object:
    from seedscope.models import load_pipeline, resolve_model

    return load_pipeline(resolve_model("world"))


@pytest.fixture(scope="module")
def world_images(world_pipe: object) -> tuple[np.ndarray, list[tuple[int, int]], dict[int, str]]:
    from seedscope.sweep.generate import BatchGenerator

    prompts = {0: "a red square", 1: "a big blue circle on the left"}
    gen = BatchGenerator(world_pipe, steps=STEPS, guidance=6.0, height=64, width=64)
    gen.encode(prompts)
    pairs = [(0, 41), (1, 8765), (0, 31337), (1, 55555)]  # the last two lie outside 0-9999
    return gen.run(pairs).images, pairs, prompts


def test_world_images_identified(
    world_pipe: object, world_images: tuple[np.ndarray, list[tuple[int, int]], dict[int, str]]
) -> None:
    images, pairs, prompts = world_images
    queries = [Query(f"{p}/{s}", images[n], prompts[p], p, s) for n, (p, s) in enumerate(pairs)]
    settings = IdentifySettings(seeds="0-9999", steps=STEPS, alpha=1e-3)
    rows, n, _, _ = identify_queries(world_pipe, queries, settings)
    assert n == 10_000
    assert [r["seed"] for r in rows] == [41, 8765, None, None]
    assert [r["correct"] for r in rows] == [True] * 4
    assert rows[0]["z"] > 6 and rows[1]["z"] > 6


def test_identify_files_and_bad_input(
    tmp_path: Path,
    world_images: tuple[np.ndarray, list[tuple[int, int]], dict[int, str]],
    cli: Cli,
) -> None:
    images, _, _ = world_images
    good = tmp_path / "img.png"
    Image.fromarray(images[0]).save(good)
    code, out, err = cli(
        ["identify", str(good), "--seeds", "30-50", "--steps", str(STEPS), "--json", "-q"]
    )
    assert code == 0, err
    import json

    result = json.loads(out)
    assert result["results"][0]["seed"] == 41
    assert result["n_candidates"] == 21

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    big = tmp_path / "big.png"
    Image.fromarray(images[0]).resize((96, 96)).save(big)
    for args, words in [
        ([str(text)], "not an image"),
        ([str(big)], "96x96 but the model makes 64x64"),
        ([str(good), "--seeds=-3"], "negative"),
        ([str(good), "--seeds", "9-2"], "ends before"),
        ([str(good), "--seeds", str(2**63)], "too large"),
        ([str(tmp_path / "missing.png")], "does not exist"),
    ]:
        code, out, err = cli(["identify", *args, "-q"])
        assert code == 2, (args, err)
        assert words in err
        assert "Traceback" not in err and err.strip().count("\n") == 0


@pytest.mark.slow
def test_resize_rescales_instead_of_refusing(
    tmp_path: Path, world_images: tuple[np.ndarray, list[tuple[int, int]], dict[int, str]]
) -> None:
    images, _, prompts = world_images
    big = tmp_path / "big.png"
    Image.fromarray(images[0]).resize((128, 128), Image.Resampling.BICUBIC).save(big)
    result = run_identify(
        [str(big)],
        prompt=prompts[0],
        settings=IdentifySettings(seeds="0-999", steps=STEPS, resize=True),
    )
    assert result.rows[0]["best_seed"] == 41


@pytest.mark.slow
def test_identify_a_sweep(make_sweep: Callable[..., Path], tmp_path: Path) -> None:
    out = make_sweep(
        tmp_path / "sw",
        model="world",
        prompts=["a red square", "white heart"],
        seeds="3-4",
        steps=STEPS,
        height=64,
        width=64,
    )
    result = run_identify(sweep=str(out), settings=IdentifySettings(seeds="0-999"))
    summary = result.summary()
    assert summary["with_truth"] == 4
    assert summary["top1_accuracy"] == 1.0
    assert result.path is not None and Path(result.path).is_file()
    assert Path(result.path).parent == out / "analysis"


def test_inversion_runs_on_sdxl(tmp_path: Path) -> None:
    # SDXL needs pooled embeddings and size ids; random weights: only shapes are checked.
    from fixtures.tiny import build_tiny_sdxl
    from seedscope.analysis.inversion import InversionSettings, invert_images

    pipe = build_tiny_sdxl(tmp_path)
    images = [np.full((32, 32, 3), 128, np.uint8), np.zeros((32, 32, 3), np.uint8)]
    for guidance in (1.0, 5.0):
        latents = invert_images(pipe, images, ["a cat", ""], InversionSettings(2, guidance))
        assert latents.shape == (2, 4, 16, 16)
        assert torch.isfinite(latents).all()
