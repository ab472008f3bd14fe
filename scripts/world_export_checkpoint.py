"""Export a world UNet checkpoint's raw and EMA weights as two pipeline folders (for evaluate).

Usage: python scripts/world_export_checkpoint.py WORKDIR [BASE]
WORKDIR holds `seedscope world train`'s unet.pt; BASE is a world pipeline folder whose
tokenizer, VAE and scheduler are used (default WORKDIR/export). Writes WORKDIR/export-raw-STEP
and WORKDIR/export-ema-STEP; then `seedscope world evaluate --model THAT --json`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline
from diffusers.training_utils import EMAModel


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    work = Path(sys.argv[1]).expanduser()
    base = Path(sys.argv[2]).expanduser() if len(sys.argv) > 2 else work / "export"
    if not (work / "unet.pt").is_file() or not (base / "model_index.json").is_file():
        print(f"error: need {work / 'unet.pt'} and a pipeline folder {base}.", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    ck = torch.load(work / "unet.pt", weights_only=False)
    for kind in ("raw", "ema"):
        pipe = StableDiffusionPipeline.from_pretrained(base, local_files_only=True)
        pipe.unet.load_state_dict(ck["unet"])
        pipe.text_encoder.load_state_dict(ck["te"])
        if kind == "ema":
            params = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
            ema = EMAModel(params, decay=0.998)
            ema.load_state_dict(ck["ema"])
            ema.copy_to(params)
        out = work / f"export-{kind}-{ck['step']}"
        shutil.rmtree(out, ignore_errors=True)
        pipe.to(torch.float16).save_pretrained(out, safe_serialization=True)
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
