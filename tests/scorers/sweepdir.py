"""Write small sweep directories by the on-disk contract (DESIGN.md) for tests."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def png(im: Image.Image) -> bytes:
    """PNG bytes of an image."""
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def make_sweep(
    path: Path,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    seeds: Sequence[int],
    shard_rows: int = 8,
) -> Path:
    """A sweep: images[i] is prompt i // len(seeds), seed seeds[i % len(seeds)]."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "sweep.json").write_text(json.dumps({"model": "test", "seeds": list(seeds)}))
    rows = []
    for i, im in enumerate(images):
        pid, s = divmod(i, len(seeds))
        rows.append(
            {
                "prompt_id": pid,
                "prompt": prompts[pid],
                "seed": int(seeds[s]),
                "png": png(im),
                "noise_sha256": hashlib.sha256(f"{pid}-{s}".encode()).hexdigest(),
            }
        )
    schema = pa.schema(
        [
            ("prompt_id", pa.int64()),
            ("prompt", pa.string()),
            ("seed", pa.int64()),
            ("png", pa.binary()),
            ("noise_sha256", pa.string()),
        ]
    )
    (path / "images").mkdir(exist_ok=True)
    for k in range(0, len(rows), shard_rows):
        pq.write_table(
            pa.Table.from_pylist(rows[k : k + shard_rows], schema=schema),
            path / "images" / f"shard-{k:05d}.parquet",
        )
    return path
