"""`score_sweep` on Ray: a few actors build their scorers once and score like the local path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fixtures.sweepdir import write_sweep
from seedscope.scorers.run import read_scores, score_sweep
from seedscope.store import Sweep
from seedscope.sweep.pool import IN_FLIGHT_PER_ACTOR

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
N_CPUS = 2
SEEDS = [0, 1, 2, 3]
PROMPTS = [f"prompt {i}" for i in range(6)]
BATCH = 2
N_IMAGES = len(PROMPTS) * len(SEEDS)  # 24 images: 12 batches, more than the in-flight window


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Ray with 2 CPUs whose workers see the test scorer `counting` as an installed plugin."""
    ray = pytest.importorskip("ray")
    plugin = tmp_path_factory.mktemp("plugin")
    dist = plugin / "seedscope_counting-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: seedscope-counting\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(
        "[seedscope.scorers]\ncounting = tests.scorers.counting:CountingScorer\n"
    )
    paths = [str(plugin), str(ROOT), os.environ.get("PYTHONPATH", "")]
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(plugin))
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
        ray.init(num_cpus=N_CPUS, include_dashboard=False, log_to_driver=False)
        try:
            yield ray
        finally:
            ray.shutdown()


def _sweep(path: Path) -> Path:
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for _ in range(N_IMAGES)
    ]
    return write_sweep(path, images, PROMPTS, SEEDS, shard_rows=8)


def _rows(sweep: Path, name: str) -> list[dict[str, Any]]:
    return sorted(read_scores(sweep, name).to_pylist(), key=lambda r: (r["prompt_id"], r["seed"]))


def _builds(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()]


def test_ray_scores_like_local_and_builds_scorers_once_per_actor(
    ray_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["grayscale", "counting"]
    local, remote = _sweep(tmp_path / "local"), _sweep(tmp_path / "ray")
    log = tmp_path / "built.txt"
    options = {"counting": {"log": str(log)}}
    assert N_IMAGES // BATCH > N_CPUS * IN_FLIGHT_PER_ACTOR
    want = score_sweep(local, names, options=options, batch_size=BATCH)
    log.unlink()
    read = 0  # batches read from the sweep so far, hence submitted to Ray
    iter_batches = Sweep.iter_batches

    def counted(self: Sweep, *args: Any, **kwargs: Any) -> Iterator[Any]:
        nonlocal read
        for batch in iter_batches(self, *args, **kwargs):
            read += 1
            yield batch

    monkeypatch.setattr(Sweep, "iter_batches", counted)
    seen: list[tuple[int, int]] = []
    got = score_sweep(
        remote,
        names,
        options=options,
        engine="ray",
        batch_size=BATCH,
        progress=lambda done, total: seen.append((done, read)),
    )
    assert got == want == {"grayscale": N_IMAGES, "counting": N_IMAGES}
    assert [done for done, _ in seen] == list(range(0, N_IMAGES + 1, BATCH))
    # Batches are read as actors free up: never more than the window is in flight.
    assert all(read - done // BATCH <= N_CPUS * IN_FLIGHT_PER_ACTOR for done, read in seen), seen
    for name in names:
        assert _rows(remote, name) == _rows(local, name)
    # One build in the driver (schemas, metadata), then one per actor, not one per batch.
    builds = _builds(log)
    workers = [pid for pid in builds if pid != os.getpid()]
    assert builds.count(os.getpid()) == 1
    assert 1 <= len(workers) <= N_CPUS and len(set(workers)) == len(workers), builds


def test_ray_run_killed_after_one_batch_resumes(ray_session: Any, tmp_path: Path) -> None:
    sweep = _sweep(tmp_path / "sweep")

    def stop(done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_sweep(sweep, ["grayscale"], engine="ray", batch_size=BATCH, progress=stop)
    assert len(read_scores(sweep, "grayscale")) == BATCH
    counts = score_sweep(sweep, ["grayscale"], engine="ray", batch_size=BATCH)
    assert counts == {"grayscale": N_IMAGES - BATCH}
    keys = {(r["prompt_id"], r["seed"]) for r in _rows(sweep, "grayscale")}
    assert keys == {(p, s) for p in range(len(PROMPTS)) for s in SEEDS}
