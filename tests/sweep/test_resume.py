"""Nothing lost, nothing doubled: resume, extend, refuse, corrupt shards, lock, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import TINY_SIZE, write_prompts
from fixtures.cli import seedscope_command, sweep_args
from seedscope import open_sweep
from seedscope.errors import SeedscopeError
from seedscope.store import DirLock, key_pairs
from seedscope.sweep import SweepOptions, SweepResult, run_sweep

PROMPTS = ["a photo of a cat", "a red car"]
FAST = {"steps": 1, "guidance": 0.0, "height": TINY_SIZE, "width": TINY_SIZE, "batch_size": 4}


def sweep(
    model: Path, out: Path, prompts: list[str] = PROMPTS, seeds: str = "0-3", **kw: Any
) -> SweepResult:
    prompt_file = write_prompts(out.parent / f"{out.name}-{len(prompts)}.txt", prompts)
    opts = {**FAST, "shard_seeds": 2, **kw}
    return run_sweep(
        SweepOptions(model=str(model), prompts=str(prompt_file), seeds=seeds, out=str(out), **opts)
    )


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Name -> (inode, size, mtime_ns) of every file under `folder`."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def pairs(out: Path) -> list[tuple[int, int]]:
    return sorted(key_pairs(open_sweep(out).keys()))


def pixels(out: Path) -> dict[tuple[int, int], np.ndarray]:
    s = open_sweep(out)
    return {pair: np.asarray(s.image(*pair)) for pair in pairs(out)}


def test_resume_redoes_only_missing_shards(tiny_sd_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    first = sweep(tiny_sd_dir, out)
    assert first.mode == "new" and first.shards_written == 2
    shards = sorted((out / "images").glob("*.parquet"))
    before = pixels(out)
    shards[0].unlink()
    kept = snapshot(out / "images")
    again = sweep(tiny_sd_dir, out)
    assert again.mode == "resume" and again.images_generated == 4 and again.shards_written == 1
    after = snapshot(out / "images")
    assert all(after[name] == stat for name, stat in kept.items())
    assert pairs(out) == [(p, s) for p in range(2) for s in range(4)]
    for pair, image in pixels(out).items():
        assert np.array_equal(image, before[pair])
    done = sweep(tiny_sd_dir, out)
    assert done.mode == "complete" and done.images_generated == 0


def test_extend_seeds_and_prompts(tiny_sd_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    sweep(tiny_sd_dir, out, seeds="0-3")
    kept = snapshot(out / "images")
    more = sweep(tiny_sd_dir, out, seeds="0-5")
    assert more.mode == "extend" and more.added == ["seeds"] and more.images_generated == 4
    assert all(snapshot(out / "images")[k] == v for k, v in kept.items())
    kept = snapshot(out / "images")
    grown = sweep(tiny_sd_dir, out, prompts=[*PROMPTS, "the blue sky"], seeds="0-5")
    assert grown.added == ["prompts"] and grown.images_generated == 6
    assert all(snapshot(out / "images")[k] == v for k, v in kept.items())
    assert pairs(out) == [(p, s) for p in range(3) for s in range(6)]
    assert open_sweep(out).plan["n_prompts"] == 3 and open_sweep(out).plan["seeds"] == "0-5"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"steps": 2}, "different plan"),
        ({"guidance": 3.0}, "different plan"),
        ({"seeds": "0-1"}, "drops seed 2"),
        ({"prompts": ["a photo of a dog", "a red car"]}, "changes or drops prompt id 0"),
    ],
)
def test_other_plan_is_refused(
    tiny_sd_dir: Path, tmp_path: Path, change: dict[str, Any], words: str
) -> None:
    out = tmp_path / "s"
    sweep(tiny_sd_dir, out)
    before = snapshot(out)
    with pytest.raises(SeedscopeError, match=words):
        sweep(tiny_sd_dir, out, **change)
    assert snapshot(out) == before


def test_corrupt_shard_is_regenerated(tiny_sd_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    sweep(tiny_sd_dir, out)
    before = pixels(out)
    shard = sorted((out / "images").glob("*.parquet"))[1]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])  # truncated
    result = sweep(tiny_sd_dir, out)
    assert result.shards_regenerated == 1 and result.images_generated == 4
    assert pairs(out) == [(p, s) for p in range(2) for s in range(4)]
    for pair, image in pixels(out).items():
        assert np.array_equal(image, before[pair])


def test_flipped_bytes_are_found_by_verify(tiny_sd_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    sweep(tiny_sd_dir, out)
    shard = sorted((out / "images").glob("*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    shard.write_bytes(bytes(data))
    result = sweep(tiny_sd_dir, out, verify=True)
    assert result.shards_regenerated == 1 and result.images_generated == 4
    assert pairs(out) == [(p, s) for p in range(2) for s in range(4)]


def test_second_sweep_into_same_dir_is_refused(tiny_sd_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    sweep(tiny_sd_dir, out)
    before = snapshot(out / "images")
    with DirLock(out), pytest.raises(SeedscopeError, match="another sweep"):
        sweep(tiny_sd_dir, out, seeds="0-5")
    assert snapshot(out / "images") == before


@pytest.mark.slow
def test_kill_9_then_resume(tiny_sd_dir: Path, tmp_path: Path) -> None:
    prompt_file = write_prompts(tmp_path / "p.txt", PROMPTS)
    out = tmp_path / "killed"
    args = [*sweep_args(tiny_sd_dir, prompt_file, out, seeds="0-7"), "--batch-size", "1"]
    cmd = seedscope_command([*args, "--shard-seeds", "1"])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not list((out / "images").glob("*.parquet")) if out.exists() else True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    partial = len(list((out / "images").glob("*.parquet")))
    assert 1 <= partial < 16
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert not list(out.rglob(".tmp-*"))
    assert pairs(out) == [(p, s) for p in range(2) for s in range(8)]
    reference = tmp_path / "reference"
    sweep(tiny_sd_dir, reference, seeds="0-7")
    ref_px, got_px = pixels(reference), pixels(out)
    for pair, image in ref_px.items():
        assert np.abs(image.astype(int) - got_px[pair].astype(int)).max() <= 2
