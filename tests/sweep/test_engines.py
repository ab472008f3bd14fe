"""One contract over every engine: same directory, same pairs, same images, resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_SIZE, write_prompts
from seedscope import open_sweep
from seedscope.models import resolve_model
from seedscope.sweep import GenerationSpec, ShardSink, make_engine, plan_shards
from seedscope.sweep.prompts import load_prompts
from seedscope.sweep.shards import scan_done
from seedscope.sweep.tasks import shard_tasks

PROMPTS = ["a photo of a cat", "a red car", "the blue sky"]


@pytest.fixture(scope="module")
def ray_session() -> object:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


ENGINES = ["local", pytest.param("ray", marks=pytest.mark.slow)]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_engine_contract(
    engine_name: str, request: pytest.FixtureRequest, tiny_sd_dir: Path, tmp_path: Path
) -> None:
    if engine_name == "ray":
        request.getfixturevalue("ray_session")
    spec = GenerationSpec(
        model=resolve_model(str(tiny_sd_dir)),
        dtype="float32",
        scheduler=None,
        steps=1,
        guidance=0.0,
        height=TINY_SIZE,
        width=TINY_SIZE,
        batch_size=3,
    )
    prompts = load_prompts(write_prompts(tmp_path / "p.txt", PROMPTS))
    out = tmp_path / engine_name
    (out / "images").mkdir(parents=True)
    seeds = [0, 1, 2, 3]
    shards = plan_shards([0, 1, 2], seeds, set(), shard_prompts=2, shard_seeds=2)
    counted: list[int] = []
    engine = make_engine(engine_name, workers=2) if engine_name == "ray" else make_engine("local")
    # Run the first half, then the rest as a resumed run would plan it.
    engine.run(spec, shard_tasks(shards[:2], prompts), ShardSink(out), counted.append)
    done, n, _ = scan_done(out)
    rest = plan_shards([0, 1, 2], seeds, done, shard_prompts=2, shard_seeds=2)
    assert [s.name for s in rest] == [s.name for s in shards[2:]] and n == 2
    engine.run(spec, shard_tasks(rest, prompts), ShardSink(out), counted.append)
    assert sum(counted) == 12
    (out / "sweep.json").write_text("{}")
    table = open_sweep(out).images()
    got = sorted(
        zip(table.column("prompt_id").to_pylist(), table.column("seed").to_pylist(), strict=True)
    )
    assert got == [(p, s) for p in range(3) for s in seeds]
    assert sorted(p.name for p in (out / "images").glob("*.parquet")) == sorted(
        s.name for s in shards
    )
    # Every engine makes the same images as a plain in-process BatchGenerator.
    gen = spec.generator(spec.load())
    gen.encode(dict(enumerate(PROMPTS)))
    expected = gen.run([(p, s) for p in range(3) for s in seeds])
    sweep = open_sweep(out)
    for (pid, seed), image in zip(expected.pairs, expected.images, strict=True):
        assert np.abs(np.asarray(sweep.image(pid, seed)).astype(int) - image.astype(int)).max() <= 2


@pytest.mark.slow
def test_ray_sweep_equals_local_sweep(
    ray_session: object, tiny_sd_dir: Path, tmp_path: Path
) -> None:
    from conftest import make_sweep_dir

    common = {"prompts": PROMPTS[:2], "seeds": "0-3", "steps": 1, "guidance": 0.0, "shard_seeds": 2}
    local = make_sweep_dir(tmp_path / "local", tiny_sd_dir, **common)
    remote = make_sweep_dir(tmp_path / "ray", tiny_sd_dir, engine="ray", ray_workers=2, **common)
    names = sorted(p.name for p in (local / "images").glob("*.parquet"))
    assert names == sorted(p.name for p in (remote / "images").glob("*.parquet"))
    a = open_sweep(local).to_pandas().sort_values(["prompt_id", "seed"]).reset_index(drop=True)
    b = open_sweep(remote).to_pandas().sort_values(["prompt_id", "seed"]).reset_index(drop=True)
    assert a.equals(b)
    for pid, seed in zip(a.prompt_id, a.seed, strict=True):
        ia = np.asarray(open_sweep(local).image(pid, seed)).astype(int)
        ib = np.asarray(open_sweep(remote).image(pid, seed)).astype(int)
        assert np.abs(ia - ib).max() <= 2
