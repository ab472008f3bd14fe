"""`seedscope world evaluate`: its maths and one small end-to-end run."""

import json

import numpy as np
import pytest

from seedscope.world.evaluate import (
    MODE_SCORERS,
    evaluate,
    format_report,
    generate,
    markdown_report,
    mode_report,
    prompt_interval,
    seed_share,
)
from seedscope.world.grammar import MODES


def test_seed_share_separates_seed_and_prompt_effects():
    by_seed = np.tile(np.array([1, 0, 0, 1, 0, 0, 0, 0], float), (6, 1))  # rows: prompts
    assert seed_share(by_seed) == {"seed": 1.0, "prompt": 0.0}
    by_prompt = by_seed.T.copy()
    assert seed_share(by_prompt) == {"seed": 0.0, "prompt": 1.0}
    rng = np.random.default_rng(0)
    noise = (rng.random((64, 64)) < 0.2).astype(float)
    share = seed_share(noise)
    assert share["seed"] < 0.05 and share["prompt"] < 0.05
    assert np.isnan(seed_share(np.zeros((3, 3)))["seed"])


def test_mode_report_checks_the_ratio_range_and_the_seed_share():
    # 4 prompts x 10 seeds; seeds 0 and 1 always show the mode: rate 0.2, all of it the seed's.
    flags = np.zeros((4, 10))
    flags[:, :2] = 1
    r = mode_report(flags.ravel(), world=0.1, n_prompts=4, n_seeds=10)
    assert r["generated"] == pytest.approx(0.2) and r["ratio"] == pytest.approx(2.0)
    assert not r["ratio_ok"] and r["seed_share_ok"]
    assert mode_report(flags.ravel(), world=0.2, n_prompts=4, n_seeds=10)["ratio_ok"]
    assert mode_report(flags.ravel(), world=0.34, n_prompts=4, n_seeds=10)["ratio_ok"] is False
    # The same rate decided by the prompt: the seed explains none of it.
    by_prompt = np.zeros((4, 10))
    by_prompt[0] = 1
    r = mode_report(by_prompt.ravel(), 0.25, 4, 10)
    assert r["ratio_ok"] and not r["seed_share_ok"] and r["variance_share"]["prompt"] == 1.0
    assert np.isnan(mode_report(flags.ravel(), world=0.0, n_prompts=4, n_seeds=10)["ratio"])


def test_prompt_interval_is_a_bootstrap_over_prompts():
    # Half the prompts always adherent, half never: the interval comes from the prompts alone.
    by_prompt = np.repeat([1.0, 0.0], 20)
    lo, hi = prompt_interval(by_prompt, reps=4000)
    # A brute-force loop: resample 40 prompts with replacement, pool their images (32 seeds each).
    rng = np.random.default_rng(1)
    images = np.repeat(by_prompt[:, None], 32, axis=1)
    means = [images[rng.integers(0, 40, 40)].mean() for _ in range(4000)]
    want = np.percentile(means, [2.5, 97.5])
    assert lo == pytest.approx(want[0], abs=0.03) and hi == pytest.approx(want[1], abs=0.03)
    assert lo < 0.5 < hi and hi - lo > 0.2  # about ±1.96·sqrt(0.25/40) = ±0.155
    # Prompts that agree leave no doubt; a single prompt gives no interval.
    assert prompt_interval(np.full(8, 0.75)) == (0.75, 0.75)
    assert all(np.isnan(prompt_interval(np.array([0.5]))))


def test_every_mode_has_one_scorer():
    from seedscope.scorers.world import WorldAdherenceScorer

    assert set(MODE_SCORERS) == set(MODES)
    assert [f"p_{m}" for m in MODES] == WorldAdherenceScorer.schema.names[-len(MODES) :]


def test_generate_goes_through_the_sweep_generator_image_for_image():
    from seedscope.sweep.generate import BatchGenerator
    from seedscope.world.model import load_pipeline

    pipe = load_pipeline()
    images, ips = generate(pipe, ["a red circle", "a blue star", "a red circle"], [0, 1, 0], 2, 2)
    assert ips > 0 and len(images) == 3
    a = [np.asarray(im).astype(int) for im in images]
    # Equal up to floating-point batch effects (batches of 2 and 1 here), as the seed contract says.
    assert np.abs(a[0] - a[2]).max() <= 2 and np.abs(a[0] - a[1]).mean() > 5
    gen = BatchGenerator(pipe, steps=2, guidance=6.0, height=64, width=64)
    gen.encode({5: "a blue star"})
    assert np.abs(gen.run([(5, 1)]).images[0].astype(int) - a[1]).max() <= 2


@pytest.mark.slow
def test_evaluate_small_grid():
    r = evaluate(["a red circle", "a blue star"], seeds=2, batch_size=4, steps=4)
    assert r["n_images"] == 4 and r["steps"] == 4
    assert 0.0 <= r["adherence"] <= 1.0
    assert r["fid"] >= 0 and r["fid_floor"] >= 0
    # The interval resamples prompts: their adherences average to the grid's.
    assert r["prompts"] == ["a red circle", "a blue star"]
    assert np.mean(r["adherence_by_prompt"]) == pytest.approx(r["adherence"])
    lo, hi = r["adherence_ci"]
    assert lo <= r["adherence"] <= hi
    assert set(r["modes"]) == set(MODES)
    for v in r["modes"].values():
        assert 0 <= v["generated"] <= 1 and 0 <= v["world"] <= 1
        assert set(v["variance_share"]) == {"seed", "prompt"}
    assert r["images_per_s"] > 0
    assert set(r["targets"]) == {"modes_at_world_rates", "seed_decides_modes", "adherence"}
    report = format_report(r)
    assert "prompt adherence" in report and "targets" in report
    table = markdown_report(r).splitlines()
    rows = [line for line in table if line.startswith("| ") and line.split(" | ")[0][2:] in MODES]
    assert len(rows) == len(MODES) and all(len(row.split(" | ")) == 7 for row in rows)
    assert f"**{r['adherence']:.1%}**" in "\n".join(table)


def test_evaluate_cli_formats_a_saved_json(tmp_path, cli):
    saved = {
        "n_prompts": 2,
        "n_seeds": 2,
        "n_images": 4,
        "scheduler": "DDIMScheduler",
        "steps": 4,
        "guidance": 6.0,
        "machine": "x86_64, 1 torch threads",
        "adherence": 0.5,
        "category": 0.5,
        "colour": None,
        "fid": 200.0,
        "fid_floor": 50.0,
        "images_per_s": 1.5,
        "batch_size": 4,
        "modes": {
            "border": {
                "scorer": "border",
                "generated": 0.25,
                "world": 0.0,
                "ratio": None,
                "ratio_ok": False,
                "variance_share": {"seed": 0.5, "prompt": None},
                "detector": {"generated": 0.25, "world": 0.25},
            }
        },
    }
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(saved))
    code, out, err = cli(["world", "evaluate", "--from-json", str(path), "--markdown"])
    assert code == 0, err
    assert "| border | border | 25.0% | 0.0% | — | 50.0% / — | 25.0% / 25.0% |" in out
    assert "**50.0%**" in out and "| FID floor: two independent rendered sets | 50.0 |" in out
    saved["targets"] = {"adherence": False}
    path.write_text(json.dumps(saved))
    code, out, err = cli(["world", "evaluate", "--from-json", str(path)])
    assert code == 0, err
    border = next(line for line in out.splitlines() if line.startswith("border"))
    assert "25.0%" in border and "50.0% / -" in border and "  - OUT" in border


def _saved_run(adherence: float, border: float | None, sky: float) -> dict:
    """A minimal `world evaluate --json` output with two modes."""

    def mode(ratio: float | None, seed: float) -> dict:
        return {"ratio": ratio, "variance_share": {"seed": seed, "prompt": 0.1}}

    return {
        "n_prompts": 8,
        "n_seeds": 32,
        "scheduler": "DPMSolverMultistepScheduler",
        "steps": 10,
        "adherence": adherence,
        "fid": 150.04,
        "fid_floor": 45.4,
        "images_per_s": 5.571,
        "modes": {"border": mode(border, 0.3), "sky": mode(sky, 0.6)},
        "targets": {"adherence": adherence >= 0.85, "modes_at_world_rates": False},
    }


def test_compare_puts_saved_runs_side_by_side(tmp_path, cli):
    a, b = tmp_path / "run-a.json", tmp_path / "run-b.json"
    a.write_text(json.dumps(_saved_run(0.918, 0.095, 0.81)))
    b.write_text(json.dumps(_saved_run(0.5, None, 1.6)))
    code, out, err = cli(["world", "compare", str(a), str(b), "--markdown"])
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("| run-")]
    assert rows[0].startswith(
        "| run-a | 8×32 | DPMSolverMultistep 10 | 91.8% | baseline | 150.0 (45.4) | 5.57 |"
    )
    assert "| 50.0% | — | 150.0" in rows[1]  # no per-prompt adherences saved: no difference
    # Modes in MODES order; inside 0.6-1.5 marked, outside not, absent or undefined as a dash.
    assert "| — | 0.10× | 0.81× ✓ | — | no |" in rows[0]
    assert "| — | — | 1.60× | — | no |" in rows[1]
    with_ci = _saved_run(0.918, 0.095, 0.81) | {"adherence_ci": [0.85, 0.97]}
    a.write_text(json.dumps(with_ci))
    code, out, err = cli(["world", "compare", str(a), "--markdown"])
    assert code == 0 and "| 91.8% (85.0%–97.0%) |" in out, err
    code, out, err = cli(["world", "compare", str(a), str(b), "--json"])
    assert code == 0, err
    parsed = json.loads(out)
    assert [r["run"] for r in parsed] == ["run-a", "run-b"]
    assert parsed[0]["border_ratio"] == 0.095 and parsed[1]["border_ratio"] is None
    assert parsed[0]["sky_seed_share"] == 0.6 and parsed[0]["grayscale_ratio"] is None
    code, out, err = cli(["world", "compare", str(a)])
    assert code == 0 and "run-a" in out and "0.81x" in out and "91.8%" in out


def test_compare_gives_a_paired_adherence_difference_on_the_same_prompts(tmp_path, cli):
    prompts = [f"prompt {i}" for i in range(12)]
    base = np.tile([1.0, 0.75, 1.0, 0.5], 3)
    worse = base - np.tile([0.25, 0.0, 0.25, 0.0], 3)  # every prompt as good or worse
    runs = {
        "base": _saved_run(float(base.mean()), 0.1, 0.8) | {"prompts": prompts},
        "worse": _saved_run(float(worse.mean()), 0.1, 0.8) | {"prompts": prompts},
        "other": _saved_run(0.9, 0.1, 0.8) | {"prompts": prompts[::-1]},  # other prompt order
    }
    runs["base"]["adherence_by_prompt"] = base.tolist()
    runs["worse"]["adherence_by_prompt"] = worse.tolist()
    runs["other"]["adherence_by_prompt"] = base.tolist()
    for name, run in runs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(run))
    files = [str(tmp_path / f"{n}.json") for n in runs]
    code, out, err = cli(["world", "compare", *files, "--json"])
    assert code == 0, err
    rows = {r["run"]: r for r in json.loads(out)}
    mean, lo, hi = rows["worse"]["adherence_diff"]
    assert mean == pytest.approx(worse.mean() - base.mean())  # = -0.125
    assert lo <= mean <= hi < 0  # paired by prompt: the drop is certain
    assert rows["base"]["adherence_diff"] is None and rows["other"]["adherence_diff"] is None
    code, out, err = cli(["world", "compare", *files, "--markdown"])
    assert "| baseline |" in out and "| -12.5% (" in out
    code, out, err = cli(["world", "compare", *files])
    assert code == 0 and "-12.5% (" in out, err


@pytest.mark.parametrize("content", ["not json", '{"n_prompts": 2}', "[1, 2]"])
def test_compare_refuses_what_is_not_an_evaluation(tmp_path, cli, content):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_saved_run(0.9, 0.1, 0.8)))
    bad.write_text(content)
    code, out, err = cli(["world", "compare", str(good), str(bad)])
    assert code == 2 and "bad.json is not the output of" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and out == ""
    code, _, err = cli(["world", "compare", str(good), "--json", "--markdown"])
    assert code == 2 and "not both" in err
