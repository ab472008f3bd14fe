"""The seed classifier: splits, summaries against brute force, planted vs null, a real tiny sweep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix

from fixtures.cli import Cli
from fixtures.tiny import TINY_SIZE
from seedscope.analysis.classify import (
    ClassifySpec,
    classify,
    confused_pairs,
    load_seed_net,
    per_seed_accuracy,
    predict_logits,
    prompt_bootstrap_ci,
    run_classify,
    split_prompts,
    wilson_interval,
)
from seedscope.errors import SeedscopeError

torch.set_num_threads(1)

# A cheap network for tests: small images, few channels, few epochs, no learning curve extras.
FAST = {"size": 16, "width": 8, "epochs": 6, "batch_size": 32, "n_boot": 200}


def _prompts(n: int, sets: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame({"prompt_id": np.arange(100, 100 + n)})
    if sets:
        frame["set"] = ["a" if i % 2 else "b" for i in range(n)]
    return frame


# --- Splits -----------------------------------------------------------------------------------


def test_split_by_sets_keeps_prompts_apart() -> None:
    prompts = _prompts(40)
    sides = split_prompts(prompts, ClassifySpec(train_set="a", test_set="b", val_fraction=0.25))
    a = set(prompts.loc[prompts["set"] == "a", "prompt_id"])
    b = set(prompts.loc[prompts["set"] == "b", "prompt_id"])
    assert set(sides["test"]) == b
    assert set(sides["train"]) | set(sides["val"]) == a
    assert not set(sides["train"]) & set(sides["val"])
    assert len(sides["val"]) == 5


def test_seeded_split_is_disjoint_and_repeatable() -> None:
    prompts = _prompts(30, sets=False)
    spec = ClassifySpec(split=0.6, split_seed=3, val_fraction=0.2)
    sides = split_prompts(prompts, spec)
    again = split_prompts(prompts, spec)
    other = split_prompts(prompts, ClassifySpec(split=0.6, split_seed=4, val_fraction=0.2))
    ids = [set(sides[k]) for k in ("train", "val", "test")]
    assert set().union(*ids) == set(prompts["prompt_id"])
    assert sum(len(s) for s in ids) == 30
    assert (len(ids[0]), len(ids[1]), len(ids[2])) == (14, 4, 12)
    assert all(np.array_equal(sides[k], again[k]) for k in sides)
    assert not np.array_equal(sides["test"], other["test"])


@pytest.mark.parametrize(
    ("prompts", "spec", "words"),
    [
        (_prompts(10), ClassifySpec(train_set="a", test_set="c"), "no prompt set 'c'"),
        (_prompts(10, sets=False), ClassifySpec(train_set="a", test_set="b"), "no set"),
        (_prompts(2, sets=False), ClassifySpec(split=0.5), "too few prompts"),
        (_prompts(3), ClassifySpec(train_set="a", test_set="b"), "too few prompts"),
    ],
)
def test_split_refuses_bad_input(prompts: pd.DataFrame, spec: ClassifySpec, words: str) -> None:
    with pytest.raises(SeedscopeError, match=words):
        split_prompts(prompts, spec)


@pytest.mark.parametrize(
    "kwargs",
    [{"train_set": "a"}, {"train_set": "a", "test_set": "a"}, {"split": 1.0}, {"epochs": 0}],
)
def test_spec_refuses_bad_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(SeedscopeError):
        ClassifySpec(**kwargs)  # type: ignore[arg-type]


# --- Summaries against brute force ------------------------------------------------------------


def test_wilson_matches_scipy() -> None:
    k = np.array([0, 3, 10, 17, 20])
    n = np.array([20, 20, 20, 20, 20])
    lo, hi = wilson_interval(k, n)
    for i in range(len(k)):
        ref = binomtest(int(k[i]), int(n[i])).proportion_ci(method="wilson")
        assert lo[i] == pytest.approx(ref.low, abs=1e-9)
        assert hi[i] == pytest.approx(ref.high, abs=1e-9)


def test_per_seed_accuracy_and_pairs_match_a_loop() -> None:
    rng = np.random.default_rng(0)
    seeds = [3, 7, 11, 20, 42]
    true = rng.choice(seeds, 400)
    pred = np.where(rng.random(400) < 0.6, true, rng.choice(seeds, 400))
    frame = per_seed_accuracy(true, pred, seeds)
    for s, row in zip(seeds, frame.itertuples(), strict=True):
        hits = [p == t for t, p in zip(true, pred, strict=True) if t == s]
        assert row.n == len(hits)
        assert row.accuracy == pytest.approx(sum(hits) / len(hits))
        assert row.ci_low <= row.accuracy <= row.ci_high

    cm = confusion_matrix(true, pred, labels=seeds)
    pairs = confused_pairs(true, pred, top=100)
    expected = {
        (seeds[i], seeds[j]): cm[i, j] + cm[j, i]
        for i in range(len(seeds))
        for j in range(i + 1, len(seeds))
        if cm[i, j] + cm[j, i]
    }
    assert {(r.seed_a, r.seed_b): r.errors for r in pairs.itertuples()} == expected
    assert list(pairs["errors"]) == sorted(pairs["errors"], reverse=True)
    first = pairs.iloc[0]
    ia, ib = seeds.index(first.seed_a), seeds.index(first.seed_b)
    assert (first.a_as_b, first.b_as_a) == (cm[ia, ib], cm[ib, ia])
    assert len(confused_pairs(true, pred, top=3)) == 3


def test_prompt_bootstrap_interval() -> None:
    rng = np.random.default_rng(1)
    pids = np.repeat(np.arange(30), 8)
    # Accuracy varies by prompt: the interval must be wider than a per-image one would be.
    correct = rng.random(240) < np.repeat(rng.uniform(0.2, 1.0, 30), 8)
    lo, hi = prompt_bootstrap_ci(correct, pids, n_boot=2000, seed=0)
    assert lo < correct.mean() < hi
    assert prompt_bootstrap_ci(np.ones(240, bool), pids) == (1.0, 1.0)


# --- Planted effect and null --------------------------------------------------------------------


def _synthetic(
    n_prompts: int, n_seeds: int, planted: bool, side: int = 16
) -> tuple[pd.DataFrame, np.ndarray]:
    """Images = prompt content (a random blob) + the seed's own low-frequency pattern (if planted)."""
    rng = np.random.default_rng(0)
    coarse = rng.normal(0, 1, (n_seeds, 4, 4, 3))
    seed_pattern = np.kron(coarse, np.ones((1, side // 4, side // 4, 1)))
    rows, images = [], []
    for p in range(n_prompts):
        content = np.kron(rng.normal(0, 1, (2, 2, 3)), np.ones((side // 2, side // 2, 1)))
        for s in range(n_seeds):
            noise = rng.normal(0, 0.5, (side, side, 3))
            pattern = seed_pattern[s] if planted else seed_pattern[rng.integers(n_seeds)]
            x = 128 + 30 * (content + pattern + noise)
            images.append(np.clip(x, 0, 255).astype(np.uint8))
            rows.append((p, 1000 + 7 * s, "a" if p % 2 else "b"))
    return pd.DataFrame(rows, columns=["prompt_id", "seed", "set"]), np.stack(images)


def test_classifier_finds_a_planted_seed_pattern_on_unseen_prompts() -> None:
    keys, pixels = _synthetic(24, 8, planted=True)
    spec = ClassifySpec(train_set="a", test_set="b", curve=(2,), **FAST)  # type: ignore[arg-type]
    result = classify(keys, pixels, spec)
    assert result.chance == pytest.approx(1 / 8)
    assert result.test_accuracy >= 0.9
    assert result.test_ci[0] > 0.5
    assert result.probe_accuracy >= 0.9
    test_prompts = set(result.prompts["test"])
    seen = set(result.prompts["train"]) | set(result.prompts["val"])
    assert not test_prompts & seen
    assert set(result.predictions["prompt_id"]) == test_prompts
    assert list(result.curve["images_per_seed"]) == [2, len(result.prompts["train"])]
    assert result.history["selected"].sum() == 1
    assert len(result.history) == FAST["epochs"]
    # Deterministic with --seed.
    again = classify(keys, pixels, spec)
    assert again.history["test_accuracy"].tolist() == result.history["test_accuracy"].tolist()


def test_classifier_stays_at_chance_when_images_carry_no_seed() -> None:
    keys, pixels = _synthetic(24, 8, planted=False)
    spec = ClassifySpec(train_set="a", test_set="b", curve=(), **FAST)  # type: ignore[arg-type]
    result = classify(keys, pixels, spec)
    # 96 test images, chance 12.5%: 35% would be more than 6 standard deviations above it.
    assert result.test_accuracy < 0.35
    assert result.probe_accuracy < 0.35
    assert result.test_ci[0] < 0.25  # no evidence of even twice chance


def test_matched_filter_start_is_the_cosine_argmax() -> None:
    # Independent implementation: numpy cosine of each latent with each seed's noise.
    from seedscope.analysis.classify import SeedNet
    from seedscope.analysis.identify import candidate_noise

    seeds, shape = [5, 17, 2024, 9], (4, 8, 8)
    noise = candidate_noise(seeds, shape)
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 40)
    x = 0.3 * noise.numpy()[truth] + rng.normal(0, 1, (40, 256)) + 0.5
    net = SeedNet(4, (8, 8), width=4, in_channels=4, skip=True)
    net.skip_scale.fill_(0.25)
    net.init_matched_filter(noise)
    latents = torch.from_numpy(x.reshape(40, *shape)).float()
    logits = net.eval()(latents).detach().numpy()
    n = noise.numpy()
    cos = (x @ n.T) / np.linalg.norm(x, axis=1, keepdims=True) / np.linalg.norm(n, axis=1)
    expected = cos * np.linalg.norm(x, axis=1, keepdims=True) * 0.25
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    assert (logits.argmax(1) == cos.argmax(1)).all()
    with pytest.raises(ValueError):
        SeedNet(4, 8).init_matched_filter(noise)


def test_latent_input_with_noise_start_finds_what_the_pixels_lack() -> None:
    # Pixels carry no seed; the "latents" carry each seed's initial noise under prompt content.
    from seedscope.analysis.identify import candidate_noise

    keys, pixels = _synthetic(12, 8, planted=False)
    seeds = sorted(set(keys["seed"]))
    shape = (4, 8, 8)
    noise = candidate_noise(seeds, shape).numpy().reshape(len(seeds), *shape)
    rng = np.random.default_rng(5)
    content = rng.normal(0, 1, (12, *shape))
    label = keys["seed"].map({s: i for i, s in enumerate(seeds)}).to_numpy()
    latents = 0.3 * noise[label] + content[keys["prompt_id"].to_numpy()]
    latents = np.ascontiguousarray(latents.transpose(0, 2, 3, 1)).astype(np.float32)
    fast = {**FAST, "epochs": 3}
    spec = ClassifySpec(
        train_set="a",
        test_set="b",
        curve=(),
        input_mode="latent",
        init_from_noise=True,
        **fast,  # type: ignore[arg-type]
    )
    result = classify(keys, pixels, spec, latents=latents, noise=candidate_noise)
    assert result.test_accuracy >= 0.9
    assert result.pixel_accuracy < 0.35  # the pixel CNN, trained beside it, stays near chance
    assert result.latent_shape == shape
    assert list(result.history["epoch"]) == [0, 1, 2, 3]  # epoch 0: the matched filter
    assert result.summary()["input"] == "latent"
    assert "pixel_cnn_predicted" in result.predictions
    with pytest.raises(SeedscopeError, match="one latent per image"):
        classify(keys, pixels, spec)


def test_classify_refuses_a_single_seed() -> None:
    keys, pixels = _synthetic(6, 1, planted=True)
    with pytest.raises(SeedscopeError, match="needs at least two"):
        classify(keys, pixels, ClassifySpec(**FAST))  # type: ignore[arg-type]


# --- A real sweep of the tiny pipeline --------------------------------------------------------

WORDS = ["cat", "dog", "car", "tree", "house", "bird", "boat", "sea", "city", "man", "sky", "red"]


def _tiny_sweep(
    tmp: Path, model: Path | str, n_prompts: int, seeds: str, side: int = TINY_SIZE, steps: int = 2
) -> Path:
    from seedscope.sweep import SweepOptions, run_sweep

    lines = ["id,prompt,set"] + [
        f"{i},a {WORDS[i % len(WORDS)]} {WORDS[(i * 5 + 1) % len(WORDS)]},{'ab'[i % 2]}"
        for i in range(n_prompts)
    ]
    prompts = tmp / "prompts.csv"
    prompts.write_text("\n".join(lines) + "\n")
    out = tmp / "sweep"
    options = SweepOptions(
        model=str(model),
        prompts=str(prompts),
        seeds=seeds,
        out=str(out),
        steps=steps,
        height=side,
        width=side,
        batch_size=16,
    )
    run_sweep(options)
    return out


@pytest.fixture(scope="module")
def tiny_sweep(tiny_sd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 prompts (sets a/b) × 8 seeds of the tiny random SD pipeline."""
    return _tiny_sweep(tmp_path_factory.mktemp("classify"), tiny_sd_dir, 12, "0-7")


def test_run_classify_on_a_tiny_sweep_beats_chance(tiny_sweep: Path) -> None:
    spec = ClassifySpec(train_set="a", test_set="b", curve=(1,), **FAST)  # type: ignore[arg-type]
    result = run_classify(tiny_sweep, spec)
    assert result.chance == pytest.approx(1 / 8)
    assert result.test_accuracy >= 0.6  # wide margin over 12.5%
    prompts = pd.read_parquet(tiny_sweep / "prompts.parquet")
    by_set = prompts.set_index("prompt_id")["set"]
    assert {by_set[p] for p in result.prompts["test"]} == {"b"}
    assert {by_set[p] for p in result.prompts["train"] + result.prompts["val"]} == {"a"}
    # Tables on disk carry their settings; the weights reload and predict the same.
    for name in ("classify_seeds", "classify_pairs", "classify_curve", "classify_history"):
        path = Path(result.paths[name])
        assert path.parent == tiny_sweep / "analysis" and path.name.startswith(name)
        meta = json.loads(pq.read_schema(path).metadata[b"seedscope.identity"])
        assert meta["settings"]["train_set"] == "a"
    seeds = pd.read_parquet(result.paths["classify_seeds"])
    assert list(seeds["seed"]) == list(range(8))
    from seedscope.analysis.io import read_analysis

    curve = read_analysis(tiny_sweep, "classify_curve", train_set="a").to_pandas()
    assert curve["accuracy"].iloc[-1] == pytest.approx(result.test_accuracy)
    model, labels = load_seed_net(result.paths["weights"])
    assert labels == list(range(8))
    from seedscope.analysis.classify import load_pixels
    from seedscope.store import open_sweep

    keys, pixels = load_pixels(open_sweep(tiny_sweep), spec.size)
    test = keys["prompt_id"].isin(result.prompts["test"]).to_numpy()
    pred = np.asarray(labels)[predict_logits(model, pixels[test]).argmax(1)]
    assert (pred == result.predictions["predicted"].to_numpy()).all()
    assert Path(result.paths["plot_png"]).stat().st_size > 0


def test_cli_classify_json(tiny_sweep: Path, cli: Cli) -> None:
    fast = ["--size", "16", "--width", "8", "--epochs", "4", "--curve", "2"]
    code, out, err = cli(
        ["classify", str(tiny_sweep), "--split", "0.5", *fast, "--json", "--quiet", "--no-plots"]
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["n_seeds"] == 8
    assert summary["chance"] == pytest.approx(1 / 8)
    assert summary["test_accuracy"] > 1 / 8
    assert [r["images_per_seed"] for r in summary["curve"]] == [2, summary["prompts"]["train"]]
    assert len(summary["history"]) == 4


def test_cli_classify_latent_json(tiny_sweep: Path, tiny_sd_dir: Path, cli: Cli) -> None:
    fast = ["--size", "16", "--width", "8", "--epochs", "2", "--curve", ""]
    args = ["classify", str(tiny_sweep), "--split", "0.5", *fast, "--json", "--quiet", "--no-plots"]
    code, out, err = cli([*args, "--input", "latent"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["input"] == "latent"
    assert Path(summary["vae_model"]).resolve() == tiny_sd_dir.resolve()  # the sweep's own model
    assert summary["latent_shape"] == [4, TINY_SIZE // 2, TINY_SIZE // 2]
    schema = pq.read_schema(summary["paths"]["classify_seeds"])
    meta = json.loads(schema.metadata[b"seedscope.identity"])
    assert meta["settings"]["input_mode"] == "latent"
    assert meta["inputs"]["vae_model"] == summary["vae_model"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--train-set", "a", "--test-set", "zzz"], "no prompt set 'zzz'"),
        (["--split", "0.01"], "too few prompts"),
        (["--train-set", "a"], "both --train-set and --test-set"),
        (["--device", "nonsense"], "unknown --device"),
    ],
)
def test_cli_classify_bad_input(tiny_sweep: Path, cli: Cli, args: list[str], words: str) -> None:
    before = sorted(p.name for p in (tiny_sweep / "analysis").glob("*"))
    code, _, err = cli(["classify", str(tiny_sweep), *args])
    assert code == 2
    assert words in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (tiny_sweep / "analysis").glob("*")) == before


def test_cli_classify_refuses_an_absent_device(tiny_sweep: Path, cli: Cli) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = cli(["classify", str(tiny_sweep), "--device", "cuda"])
    assert code == 2
    assert "not available" in err


def test_cli_classify_refuses_one_seed(tiny_sd_dir: Path, tmp_path: Path, cli: Cli) -> None:
    sweep = _tiny_sweep(tmp_path, tiny_sd_dir, 4, "5")
    code, _, err = cli(["classify", str(sweep)])
    assert code == 2
    assert "needs at least two" in err
    assert not (sweep / "analysis").exists()


# --- The bundled world model: the seeds' noise survives in the VAE latent -------------------


@pytest.fixture(scope="module")
def world_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 prompts (sets a/b) × 8 seeds of the bundled world model, 64×64, 4 DDIM steps."""
    return _tiny_sweep(tmp_path_factory.mktemp("world"), "world", 8, "0-7", side=64, steps=4)


@pytest.mark.slow
def test_latent_noise_start_beats_the_pixel_cnn_on_a_world_sweep(world_sweep: Path) -> None:
    base = {**FAST, "curve": (), "train_set": "a", "test_set": "b"}
    pixel = run_classify(world_sweep, ClassifySpec(**base), plots=False)  # type: ignore[arg-type]
    spec = ClassifySpec(**base, input_mode="latent", init_from_noise=True)  # type: ignore[arg-type]
    latent = run_classify(world_sweep, spec, plots=False)
    assert latent.chance == pytest.approx(1 / 8)
    assert latent.test_accuracy >= pixel.test_accuracy
    assert latent.test_accuracy >= 0.9  # chance is 12.5%
    assert latent.latent_shape == (4, 32, 32) and latent.vae_model == "world"
    # The pixel CNN reported beside it is the pixel run's own network.
    assert latent.pixel_accuracy == pytest.approx(pixel.test_accuracy)
    # Results of the two input modes have different identities: no file is shared.
    assert not set(pixel.paths.values()) & set(latent.paths.values())
    for result, mode in ((pixel, "pixels"), (latent, "latent")):
        schema = pq.read_schema(result.paths["classify_history"])
        meta = json.loads(schema.metadata[b"seedscope.identity"])
        assert meta["settings"]["input_mode"] == mode
    model, labels = load_seed_net(latent.paths["weights"])
    assert labels == list(range(8)) and model.skip is not None
    state = latent.model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
