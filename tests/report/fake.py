"""Analysis tables shaped like those `rank`, `map`, `composition`, `classify`, `identify`, `swap`
and `pick compare` write, and the folder `inpaint-audit` writes (DIR/inpaint, summarised by the
real code), for a report test that needs no analysis run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from seedscope.analysis.io import write_analysis

HOSTILE = (
    "<script>window.__pwned = 1</script> a red circle",
    '" onerror="window.__pwned = 2" x="',
    "<img src=x onerror=window.__pwned=3> a blue square",
)


def _t(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


def _png(path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)


def write_all(sweep: Path, seeds: list[int], skip: tuple[str, ...] = ()) -> list[str]:
    """Write one result of every analysis the atlas shows (except `skip`); returns their names."""
    rng = np.random.default_rng(1)
    n = len(seeds)
    s = {"fake": True}
    written: list[str] = []

    def put(name: str, df: pd.DataFrame, inputs: dict | None = None) -> Path:
        written.append(name)
        return write_analysis(sweep, name, _t(df), s, inputs or {})

    if "rank" not in skip:
        v = rng.random(n)
        rank = pd.DataFrame({"seed": seeds, "n_images": 4, "n_prompts": 4})
        for col in ("world.adherent", "sky.sky"):
            x = rng.random(n)
            rank[col], rank[f"{col}_lo"], rank[f"{col}_hi"] = x, x - 0.1, x + 0.1
        rank["world.adherent"] = v
        order = np.argsort(-v)
        rank["rank"] = 0
        rank.loc[order, "rank"] = np.arange(1, n + 1)
        rank["golden"] = rank["rank"] <= 1
        rank["inferior"] = rank["rank"] >= n
        path = put("rank", rank)
        summary = {
            "metric": "world.adherent",
            "higher_is_better": True,
            "k": 1,
            "seeds": n,
            "prompts": 4,
            "level": 0.95,
            "reps": 100,
            "golden": [{"seed": int(seeds[order[0]]), "value": float(v[order[0]])}],
            "inferior": [{"seed": int(seeds[order[-1]]), "value": float(v[order[-1]])}],
            "sets": {"a": "a", "b": "b", "how": "by set"},
            "consistency": {
                "spearman_rho": 0.5,
                "spearman_lo": 0.1,
                "spearman_hi": 0.8,
                "spearman_p": 0.04,
            },
            "tests": {"heldout": {"test": "heldout", "p_value": 0.03, "gap_heldout": 0.2}},
        }
        put("rank_summary", pd.DataFrame({"summary": [json.dumps(summary)]}))
        _png(path.with_name(path.stem + "-consistency.png"))
    if "seed_decides" not in skip:
        put(
            "seed_decides",
            pd.DataFrame(
                {
                    "column": ["sky.sky", "world.adherent"],
                    "prompts": 4,
                    "seeds": n,
                    "seed": [0.6, 0.2],
                    "seed_lo": [0.4, 0.1],
                    "seed_hi": [0.8, 0.3],
                    "prompt": [0.1, 0.5],
                    "residual": [0.3, 0.3],
                }
            ),
        )
    for by in ("style", "layout"):
        if f"map_{by}" in skip:
            continue
        put(
            f"map_{by}",
            pd.DataFrame(
                {
                    "seed": seeds,
                    "x": rng.normal(size=n),
                    "y": rng.normal(size=n),
                    "cluster": [i % 2 for i in range(n)],
                }
            ),
        )
        put(
            f"map_{by}_clusters",
            pd.DataFrame(
                {"cluster": [0, 1], "n_seeds": [n - n // 2, n // 2], "property": ["sky.sky", None]}
            ),
        )
    if "classify" not in skip:
        put(
            "classify_curve",
            pd.DataFrame(
                {
                    "images_per_seed": [1, 2],
                    "accuracy": [0.4, 0.6],
                    "ci_low": [0.3, 0.5],
                    "ci_high": [0.5, 0.7],
                    "probe_accuracy": [0.3, 0.4],
                }
            ),
        )
        put("classify_seeds", pd.DataFrame({"seed": seeds, "accuracy": rng.random(n)}))
    if "identify" not in skip:
        put(
            "identify",
            pd.DataFrame(
                {
                    "image": ["p0-s0", "p1-s1"],
                    "true_seed": [seeds[0], seeds[1]],
                    "seed": [seeds[0], seeds[1]],
                    "z": [12.0, 9.5],
                    "p_value": [1e-9, 1e-7],
                    "verdict": ["match", "match"],
                }
            ),
        )
    if "swap" not in skip:
        path = put("swap", pd.DataFrame({"k": [0, 1], "distance": [0.5, 0.1]}))
        put(
            "swap_summary",
            pd.DataFrame(
                {
                    "k": [0, 1],
                    "distance": [0.5, 0.1],
                    "distance_lo": [0.4, 0.0],
                    "distance_hi": [0.6, 0.2],
                }
            ),
        )
        _png(path.with_suffix(".png"))
    if "inpaint" not in skip:
        write_inpaint(sweep / "inpaint", seeds)
        written.append("inpaint")
    for kind in ("golden", "diverse"):
        if f"compare_{kind}" in skip:
            continue
        put(
            f"compare_{kind}",
            pd.DataFrame(
                {
                    "metric": ["world.adherent"],
                    "pool": [0.7],
                    "pool_lo": [0.6],
                    "pool_hi": [0.8],
                    "random": [0.5],
                    "random_lo": [0.4],
                    "random_hi": [0.6],
                }
            ),
            {"result": {"card_kind": kind, "pool_seeds": seeds[:2], "heldout_prompts": 2}},
        )
    return written


def write_inpaint(out: Path, seeds: list[int], pairs: int = 4) -> Path:
    """An audit folder as `inpaint-audit --out DIR/inpaint` leaves it: rows, then its summary."""
    from seedscope.inpaint.audit import ROW_SCHEMA, AuditSettings, _shard, summarise
    from seedscope.store import encode_png

    rng = np.random.default_rng(2)
    (out / "images").mkdir(parents=True, exist_ok=True)
    png = encode_png(np.zeros((8, 8, 3), np.uint8))
    for task in ("removal", "completion"):
        for pair in range(pairs):
            has = rng.random(len(seeds)) < np.linspace(0.1, 0.9, len(seeds))
            rows = [
                {"pair_id": pair, "seed": s, "task": task, "prompt": "clear background", "png": png}
                | {"text": "AB" if h else "", "text_in_mask": 0.3 * h, "has_text": bool(h)}
                | {"p_text": 0.4 + 0.5 * h}
                for s, h in zip(seeds, has, strict=True)
            ]
            pq.write_table(
                pa.Table.from_pylist(rows, schema=ROW_SCHEMA),
                _shard(out, task, pair),
            )
    summarise(out, AuditSettings(seeds=",".join(map(str, seeds))))
    return out


def _blocks(p: int, text: str, seed: int, size: int) -> np.ndarray:
    """A flat image of two colour blocks, different per (prompt, seed)."""
    rng = np.random.default_rng(1000 * p + seed)
    img = np.full((size, size, 3), (40 * seed) % 255, np.uint8)
    img[: size // 2] = rng.integers(0, 255, 3, dtype=np.uint8)
    return img


def make_sweep(
    out: Path,
    prompts: tuple[str, ...],
    seeds: list[int],
    size: int = 32,
    draw: Callable[[int, str, int, int], np.ndarray] = _blocks,
) -> Path:
    """A sweep directory in the store's layout with drawn images (no model needed).

    `draw(prompt_index, prompt, seed, size)` makes each image (default: two flat colour blocks).
    """
    import hashlib

    from seedscope.store import IMAGE_SCHEMA, encode_png

    (out / "images").mkdir(parents=True)
    sets = ["a" if i % 2 == 0 else "b" for i in range(len(prompts))]
    plan = {
        "model": "world",
        "model_kind": "world",
        "steps": 2,
        "guidance": 6.0,
        "scheduler": "DDIMScheduler",
        "height": size,
        "width": size,
        "dtype": "float32",
        "seeds": f"{seeds[0]}-{seeds[-1]}",
        "negative_prompt": HOSTILE[2],
    }
    (out / "sweep.json").write_text(json.dumps(plan))
    pq.write_table(
        pa.table({"prompt_id": list(range(len(prompts))), "prompt": list(prompts), "set": sets}),
        out / "prompts.parquet",
    )
    rows: dict[str, list] = {name: [] for name in IMAGE_SCHEMA.names}
    for p, text in enumerate(prompts):
        for s in seeds:
            img = draw(p, text, s, size)
            rows["prompt_id"].append(p)
            rows["seed"].append(s)
            rows["prompt"].append(text)
            rows["set"].append(sets[p])
            rows["noise_sha256"].append(hashlib.sha256(str(s).encode()).hexdigest())
            rows["width"].append(size)
            rows["height"].append(size)
            rows["png"].append(encode_png(img))
    pq.write_table(pa.table(rows, schema=IMAGE_SCHEMA), out / "images" / "part-0.parquet")
    return out
