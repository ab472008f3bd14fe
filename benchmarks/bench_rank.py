"""Benchmark the seed analyses at the study's scale: rank, per-seed FID with an interval, map.

    python benchmarks/bench_rank.py rank  [--seeds 1024 --prompts 10000 --reps 1000]
    python benchmarks/bench_rank.py fid   [--seeds 4 --images 10000 --dim 2048 --blocks 10]
    python benchmarks/bench_rank.py map   [--seeds 1024 --prompts 100 --dim 5848]

Each phase runs in its own process (peak RSS is the process's), prints a table with a baseline
ratio, and uses synthetic data with planted seed effects.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _start() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _stop(t0: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) since `t0`: the cores are shared with other jobs."""
    return time.perf_counter() - t0[0], time.process_time() - t0[1]


def _row(name: str, t: tuple[float, float], baseline: float | None, note: str = "") -> str:
    """A table row: wall time, CPU time, ratio of the baseline's wall time, peak RSS."""
    seconds, cpu = t
    ratio = f"{baseline / seconds:.1f}x" if baseline else "-"
    return f"| {name} | {seconds:.1f} s | {cpu:.1f} s | {ratio} | {_rss_mb():.0f} MB | {note} |"


def _machine() -> str:
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    return f"{platform.machine()}, {os.cpu_count()} cores, OMP_NUM_THREADS={threads}"


def write_scores(path: Path, seeds: int, prompts: int, rng_seed: int = 0) -> int:
    """A synthetic scores Parquet: hps (seed + prompt effect + noise), sky flag, object x."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(rng_seed)
    quality = rng.normal(0, 0.2, seeds).astype(np.float32)
    sky_rate = np.where(rng.random(seeds) < 0.1, 0.8, 0.05).astype(np.float32)
    x_seed = rng.random(seeds).astype(np.float32)
    writer = None
    step = max(1, 2_000_000 // seeds)
    for p0 in range(0, prompts, step):
        p = np.arange(p0, min(prompts, p0 + step))
        pid = np.repeat(p, seeds)
        sd = np.tile(np.arange(seeds), len(p))
        n = len(pid)
        t = pa.table(
            {
                "prompt_id": pa.array(pid, pa.int64()),
                "seed": pa.array(sd, pa.int64()),
                "set": pa.array(np.where(pid % 2 == 0, "a", "b")).dictionary_encode(),
                "hps.hps": quality[sd] + rng.normal(0, 1, n).astype(np.float32),
                "sky.sky": rng.random(n) < sky_rate[sd],
                "world.object_x": np.clip(x_seed[sd] + rng.normal(0, 0.1, n), 0, 1).astype(
                    np.float32
                ),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, t.schema)
        writer.write_table(t)
    assert writer is not None
    writer.close()
    return seeds * prompts


def bench_rank(args: argparse.Namespace) -> None:
    """Read 10 M rows of scores and rank every column with `reps` bootstrap resamples."""
    import pyarrow.parquet as pq

    from seedscope.analysis import stats as st
    from seedscope.analysis.rank import RankSettings, rank_seeds

    path = Path(args.data)
    t0 = _start()
    df = pq.read_table(path).to_pandas()
    t_read = _stop(t0)
    t0 = _start()
    res = rank_seeds(df, RankSettings(metric="hps", reps=args.reps))
    t_rank = _stop(t0)
    # Baseline: the obvious loop, one fancy-indexed resample of the prompt rows at a time.
    from seedscope.analysis.rank import score_grids

    _, _, grids = score_grids(df, ["hps.hps"])
    g = grids["hps.hps"].astype(np.float32)
    rng = np.random.default_rng(0)
    n_loop = 20
    t0 = _start()
    for _ in range(n_loop):
        g[rng.integers(0, g.shape[0], g.shape[0])].mean(0)
    per = _stop(t0)[0] / n_loop
    base = per * args.reps * 3  # three score columns
    t0 = _start()
    st.bootstrap_seed_means(g, args.reps, rng)
    t_one = _stop(t0)
    c = res.summary["consistency"]
    print(f"rank: {len(df):,} rows ({args.seeds} seeds x {args.prompts} prompts), {_machine()}")
    print("| step | wall | CPU | vs loop | peak RSS | note |\n|---|---|---|---|---|---|")
    print(_row("read Parquet -> pandas", t_read, None, f"{path.stat().st_size / 1e6:.0f} MB file"))
    print(
        _row(
            f"rank_seeds: 3 columns x {args.reps} resamples + consistency + held-out test",
            t_rank,
            base,
            f"loop baseline {base:.0f} s (extrapolated from {n_loop} resamples)",
        )
    )
    print(_row(f"bootstrap_seed_means, one column x {args.reps}", t_one, per * args.reps, ""))
    print(
        f"rho {c['spearman_rho']:.3f} [{c['spearman_lo']:.3f}, {c['spearman_hi']:.3f}], "
        f"held-out p {res.summary['tests']['heldout']['p_value']:.3g}"
    )
    if args.permutations:
        t0 = _start()
        st.permutation_gap_test(g, reps=args.permutations, rng=rng)
        t = _stop(t0)
        print(_row(f"permutation gap test, {args.permutations} permutations", t, None, ""))


def bench_fid(args: argparse.Namespace) -> None:
    """Per-seed FID with a jackknife interval, features streamed in blocks of prompts."""
    from seedscope.analysis.fid_interval import fid_jackknife
    from seedscope.metrics.functional import frechet_distance

    rng = np.random.default_rng(0)
    d = args.dim
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    ref_cov = a @ a.T + 0.1 * np.eye(d)
    ref_mean = np.zeros(d)
    chunk = 500  # rows per streamed piece (one piece = part of one prompt block)
    block_of = np.arange(args.images) * args.blocks // args.images

    def pieces():  # type: ignore[no-untyped-def]
        for s in range(args.seeds):
            for i0 in range(0, args.images, chunk):
                n = min(chunk, args.images - i0)
                x = rng.normal(0.01 * s, 1.0, size=(n, d)).astype(np.float32)
                yield s, int(block_of[i0]), x

    t0 = _start()
    out = fid_jackknife(pieces(), ref_mean, ref_cov, blocks=args.blocks)
    t = _stop(t0)
    t0 = _start()
    frechet_distance(ref_mean, ref_cov, ref_mean + 0.1, ref_cov)
    t_one = _stop(t0)[0]
    per_seed = t[0] / args.seeds
    print(
        f"fid: {args.seeds} seeds x {args.images} images x {d}-d, {args.blocks} prompt blocks, "
        f"{_machine()}"
    )
    print("| step | wall | CPU | vs bootstrap | peak RSS | note |\n|---|---|---|---|---|---|")
    boot = t_one * 1000 * args.seeds
    print(
        _row(
            f"jackknife FID ({args.blocks + 1} FIDs per seed), streamed",
            t,
            boot,
            f"{per_seed:.1f} s/seed -> 1,024 seeds ~ {per_seed * 1024 / 3600:.1f} h; "
            f"a 1,000-resample bootstrap ~ {t_one * 1000 * 1024 / 3600:.0f} h",
        )
    )
    s0 = out[0]
    print(f"seed 0: FID {s0[0]:.2f} [{s0[1]:.2f}, {s0[2]:.2f}]")


def bench_map(args: argparse.Namespace) -> None:
    """A style map of seeds x prompts synthetic Gram-like features with planted clusters."""
    from seedscope.analysis.maps import MapSettings, seed_map

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 5, args.seeds)
    centres = rng.normal(0, 1, size=(5, args.dim)).astype(np.float32)
    t0 = _start()
    cube = np.empty((args.prompts, args.seeds, args.dim), np.float32)
    for p in range(args.prompts):
        cube[p] = (
            centres[groups]
            + rng.normal(0, 1, (1, args.dim))
            + rng.normal(0, 1.5, (args.seeds, args.dim)).astype(np.float32)
        )
    t_gen = _stop(t0)
    t0 = _start()
    m = seed_map(cube, np.arange(args.seeds), MapSettings(clusters=5))
    t = _stop(t0)
    from sklearn.metrics import adjusted_rand_score

    print(
        f"map: {args.seeds} seeds x {args.prompts} prompts = {args.seeds * args.prompts:,} "
        f"images of {args.dim}-d features, {m.backend}, {_machine()}"
    )
    print("| step | wall | CPU | vs - | peak RSS | note |\n|---|---|---|---|---|---|")
    print(_row("synthetic features", t_gen, None, ""))
    print(
        _row(
            "style map: PCA 50 + t-SNE per image, t-SNE per seed, k-means",
            t,
            None,
            f"ARI vs planted clusters {adjusted_rand_score(groups, m.labels):.2f}",
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("phase", choices=["rank", "fid", "map", "all"])
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--prompts", type=int, default=None)
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--permutations", type=int, default=0)
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=None)
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    if args.phase == "rank":
        args.seeds = args.seeds or 1024
        args.prompts = args.prompts or 10_000
        if args.data is None:
            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp) / "scores.parquet"
                t0 = _start()
                write_scores(data, args.seeds, args.prompts)
                print(f"wrote synthetic scores in {_stop(t0)[0]:.1f} s")
                cmd = [sys.executable, __file__, "rank", "--data", str(data)]
                cmd += ["--seeds", str(args.seeds), "--prompts", str(args.prompts)]
                cmd += ["--reps", str(args.reps), "--permutations", str(args.permutations)]
                subprocess.run(cmd, check=True)
            return
        bench_rank(args)
    elif args.phase == "fid":
        args.seeds = args.seeds or 4
        args.dim = args.dim or 2048
        bench_fid(args)
    elif args.phase == "map":
        args.seeds = args.seeds or 1024
        args.prompts = args.prompts or 100
        args.dim = args.dim or 5848
        bench_map(args)


if __name__ == "__main__":
    main()
