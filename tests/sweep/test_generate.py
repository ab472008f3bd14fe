"""Batched generation: each prompt encoded once, the unconditional embedding once per sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import TINY_SIZE, write_prompts
from seedscope.models import resolve_model
from seedscope.sweep import GenerationSpec, LocalEngine, ShardSink, plan_shards
from seedscope.sweep.prompts import load_prompts
from seedscope.sweep.tasks import shard_tasks


def test_each_prompt_encoded_once(tiny_sd_dir: Path, tmp_path: Path) -> None:
    spec = GenerationSpec(
        model=resolve_model(str(tiny_sd_dir)),
        dtype="float32",
        scheduler=None,
        steps=1,
        guidance=7.5,
        height=TINY_SIZE,
        width=TINY_SIZE,
        batch_size=3,
    )
    pipe = spec.load()
    encoded: list[list[str]] = []
    original = pipe.encode_prompt

    def counting(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("prompt") is not None:
            encoded.append(list(kwargs["prompt"]))
        return original(*args, **kwargs)

    pipe.encode_prompt = counting
    prompts = load_prompts(write_prompts(tmp_path / "p.txt", ["a cat", "a dog", "a car"]))
    # 3 prompts × 6 seeds in 2 prompt blocks × 3 seed blocks = 6 shards.
    shards = plan_shards([0, 1, 2], list(range(6)), set(), shard_prompts=2, shard_seeds=2)
    assert len(shards) == 6
    (tmp_path / "out" / "images").mkdir(parents=True)
    done: list[int] = []
    LocalEngine(pipe).run(
        spec, shard_tasks(shards, prompts), ShardSink(tmp_path / "out"), done.append
    )
    assert sum(done) == 18
    assert encoded == [["a cat", "a dog"], [""], ["a car"]]
