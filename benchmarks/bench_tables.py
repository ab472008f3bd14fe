"""Reading a sweep's scores at scale: `sweep.scores()` against a raw pyarrow read of the same files.

Writes a synthetic sweep (prompts x seeds keys, three scorers' Parquet caches) of 100,000 and
1,000,000 images, then times each read in a fresh process and reports its peak RSS.

    python benchmarks/bench_tables.py [--rows 100000,1000000] [--dir /tmp/bench-tables]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEEDS = 1000
CHUNK = 1 << 18


def _write(folder: Path, n: int) -> None:
    """A sweep of n images (n / 1000 prompts x 1000 seeds) with grayscale, sky and world scores."""
    from seedscope.identity import Identity, write_identity

    prompts = n // SEEDS
    (folder / "images").mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"model": "synthetic"}))
    pq.write_table(
        pa.table(
            {
                "prompt_id": pa.array(range(prompts), pa.int64()),
                "prompt": [f"prompt {i}" for i in range(prompts)],
                "set": ["a" if i % 2 else "b" for i in range(prompts)],
            }
        ),
        folder / "prompts.parquet",
    )
    rng = np.random.default_rng(0)
    pid = np.repeat(np.arange(prompts, dtype=np.int64), SEEDS)
    seed = np.tile(np.arange(SEEDS, dtype=np.int64), prompts)
    columns = {
        "grayscale": {
            "colourfulness": pa.float32(),
            "saturation": pa.float32(),
            "grayscale": pa.bool_(),
        },
        "sky": {"sky_top_fraction": pa.float32(), "sky_height": pa.float32(), "sky": pa.bool_()},
        "world": {
            "object_x": pa.float32(),
            "object_y": pa.float32(),
            "object_area": pa.float32(),
            "adherent": pa.bool_(),
            "detected_category": pa.string(),
        },
    }
    for start in range(0, n, CHUNK):
        sl = slice(start, min(n, start + CHUNK))
        keys = {"prompt_id": pid[sl], "seed": seed[sl]}
        images = pa.table({**keys, "png": pa.array([b""] * (sl.stop - sl.start), pa.binary())})
        pq.write_table(images, folder / "images" / f"shard-{start:09d}.parquet")
        for name, cols in columns.items():
            ident = Identity(name, "1", {})
            out = folder / "scores" / name
            if start == 0:
                out.mkdir(parents=True)
                write_identity(out, ident)
            data = {}
            for col, typ in cols.items():
                m = sl.stop - sl.start
                if typ == pa.bool_():
                    data[col] = pa.array(rng.random(m) < 0.1)
                elif typ == pa.string():
                    data[col] = pa.array(rng.choice(["star", "ring", "moon"], m))
                else:
                    data[col] = pa.array(rng.random(m).astype(np.float32))
            t = pa.table({**keys, **data}).replace_schema_metadata(ident.metadata())
            pq.write_table(t, out / f"compact-{start:09d}.parquet", compression="zstd")


def _measure(task: str, folder: str, queue: mp.Queue) -> None:
    t0 = time.perf_counter()
    if task == "raw pyarrow read (baseline)":
        import pyarrow.dataset as ds

        tables = [
            ds.dataset(
                [str(f) for f in sorted((Path(folder) / "scores" / n).glob("*.parquet"))],
                format="parquet",
            ).to_table()
            for n in ("grayscale", "sky", "world")
        ]
        rows = tables[0].num_rows
    elif task == "sweep.scores() all":
        import seedscope

        rows = seedscope.open_sweep(folder).scores().num_rows
    elif task == "sweep.scores(['sky.sky'])":
        import seedscope

        rows = seedscope.open_sweep(folder).scores(["sky.sky"]).num_rows
    else:
        import seedscope

        rows = seedscope.open_sweep(folder).scores(["sky", "world.object_x"], set="a").num_rows
    elapsed = time.perf_counter() - t0
    queue.put((rows, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


TASKS = (
    "raw pyarrow read (baseline)",
    "sweep.scores() all",
    "sweep.scores(['sky.sky'])",
    "sweep.scores(['sky', 'world.object_x'], set='a')",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--dir", default="/tmp/bench-tables")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print(
        f"{'images':>9}  {'read':<50} {'rows':>9} {'seconds':>8} {'peak RSS MB':>11} {'x baseline':>10}"
    )
    for n in (int(x) for x in args.rows.split(",")):
        folder = Path(args.dir) / f"n{n}"
        shutil.rmtree(folder, ignore_errors=True)
        _write(folder, n)
        base = None
        for task in TASKS:
            q: mp.Queue = ctx.Queue()
            p = ctx.Process(target=_measure, args=(task, str(folder), q))
            p.start()
            rows, secs, rss = q.get()
            p.join()
            base = base or secs
            print(f"{n:>9}  {task:<50} {rows:>9} {secs:>8.2f} {rss:>11.0f} {secs / base:>10.2f}")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
