"""`seedscope world evaluate`: its maths and one small end-to-end run."""

import numpy as np
import pytest

from seedscope.world.evaluate import evaluate, format_report, seed_share


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


@pytest.mark.slow
def test_evaluate_small_grid():
    r = evaluate(["a red circle", "a blue star"], seeds=2, batch_size=4)
    assert r["n_images"] == 4
    assert 0.0 <= r["adherence"] <= 1.0
    assert r["fid"] >= 0 and r["fid_floor"] >= 0
    assert set(r["modes"]) == {"grayscale", "border", "sky", "text"}
    assert r["images_per_s"] > 0
    assert "prompt adherence" in format_report(r)
