"""The bundled model: a small, genuine diffusers StableDiffusionPipeline for the miniature world."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from seedscope.errors import SeedscopeError
from seedscope.world.grammar import vocabulary

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).parent / "weights"
MAX_TOKENS = 32

# Sampler settings of a world pipeline folder that does not name its own (SAMPLING_FILE).
DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 6.0
# A world pipeline folder's own default steps and guidance ({"steps": 10, "guidance": 6.0}),
# beside its scheduler_config.json, which names the sampler: `seedscope world sampler` writes both.
SAMPLING_FILE = "seedscope_sampling.json"

VAE_CONFIG: dict[str, Any] = dict(
    in_channels=3,
    out_channels=3,
    # One downsampling step: 32x32x4 latents keep the small objects' shapes (16x16 blurred them).
    down_block_types=("DownEncoderBlock2D",) * 2,
    up_block_types=("UpDecoderBlock2D",) * 2,
    block_out_channels=(16, 32),
    layers_per_block=1,
    latent_channels=4,
    # One group (layer norm): per-group normalisation erases the image's colours (with one
    # channel per group entirely, with four mostly); across all channels, colour survives.
    norm_num_groups=1,
    sample_size=64,
)
TEXT_CONFIG: dict[str, Any] = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=3,
    num_attention_heads=4,
    max_position_embeddings=MAX_TOKENS,
    hidden_act="quick_gelu",
    projection_dim=128,
)
UNET_CONFIG: dict[str, Any] = dict(
    sample_size=32,
    in_channels=4,
    out_channels=4,
    # Attention only at 8x8 and 4x4: at 16x16 it would cost 35% more time per step on a CPU.
    down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    block_out_channels=(32, 64, 128, 128),
    layers_per_block=1,
    cross_attention_dim=128,
    attention_head_dim=8,
    norm_num_groups=16,
)
SCHEDULER_CONFIG: dict[str, Any] = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    clip_sample=False,
    set_alpha_to_one=False,
    steps_offset=1,
    prediction_type="epsilon",
)


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins for bytes of GPT-2/CLIP byte-level BPE (Radford et al. 2019)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def write_tokenizer(folder: Path) -> None:
    """Write a CLIP BPE vocabulary in which every world word is one token (plus all letters)."""
    folder.mkdir(parents=True, exist_ok=True)
    letters = _byte_alphabet()
    vocab: list[str] = letters + [c + "</w>" for c in letters]
    merges: list[str] = []
    seen = set(vocab)
    for word in vocabulary():
        # Merge left to right so that the whole word ends as one token.
        parts = [*word[:-1], word[-1] + "</w>"]
        cur = parts[0]
        for nxt in parts[1:]:
            merges.append(f"{cur} {nxt}")
            cur = cur + nxt
            if cur not in seen:
                vocab.append(cur)
                seen.add(cur)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    _write_bpe(folder, vocab, merges)
    special = {
        "model_max_length": MAX_TOKENS,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(special, indent=2))
    # Earlier merges can split a later word's chain: join what is left, until every word is whole.
    from transformers import CLIPTokenizer

    for _ in range(10):
        tok = CLIPTokenizer.from_pretrained(folder)
        extra = []
        for word in vocabulary():
            pieces = tok.convert_ids_to_tokens(tok(word, add_special_tokens=False).input_ids)
            cur = pieces[0]
            for nxt in pieces[1:]:
                extra.append(f"{cur} {nxt}")
                cur = cur + nxt
                if cur not in seen:
                    vocab.insert(len(vocab) - 2, cur)
                    seen.add(cur)
        if not extra:
            return
        merges += extra
        _write_bpe(folder, vocab, merges)
    raise RuntimeError("could not build a whole-word BPE vocabulary for the world")


def _write_bpe(folder: Path, vocab: list[str], merges: list[str]) -> None:
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")


def build_pipeline(folder: Path) -> Any:
    """Build a freshly initialised (untrained) world pipeline; its tokenizer is written to folder."""
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    write_tokenizer(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TEXT_CONFIG,
    )
    return StableDiffusionPipeline(
        vae=AutoencoderKL(**VAE_CONFIG),
        text_encoder=CLIPTextModel(text_config),
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**UNET_CONFIG),
        scheduler=DDIMScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def weights_path() -> Path:
    """Folder of the shipped world pipeline (inside the package)."""
    return WEIGHTS_DIR / "world-sd"


def sampling_defaults(path: str | Path | None = None) -> tuple[int, float]:
    """(steps, guidance) a world pipeline folder (default: the shipped one) is sampled with."""
    folder = Path(path) if path is not None else weights_path()
    file = folder / SAMPLING_FILE
    if not file.is_file():
        return DEFAULT_STEPS, DEFAULT_GUIDANCE
    try:
        data = json.loads(file.read_text())
        steps, guidance = int(data["steps"]), float(data["guidance"])
    except (ValueError, KeyError, TypeError) as err:
        raise SeedscopeError(f"{file} is not a sampling file ({err}).") from None
    if steps < 1 or guidance < 0:
        raise SeedscopeError(f"{file} asks for {steps} steps at guidance {guidance}.")
    return steps, guidance


def write_sampler(path: str | Path, scheduler: str, steps: int, guidance: float) -> str:
    """Make a world pipeline folder sample with this scheduler, steps and guidance by default.

    Rewrites its scheduler/scheduler_config.json (the new class from the old config), the
    scheduler's class in model_index.json and its SAMPLING_FILE; returns the class name.
    """
    from seedscope.models.settings import scheduler_class
    from seedscope.store import atomic_write_bytes

    folder = Path(path)
    if steps < 1:
        raise SeedscopeError("--steps must be at least 1.")
    if guidance < 0:
        raise SeedscopeError("--guidance must be at least 0.")
    cls = scheduler_class(scheduler)
    config = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    new = cls.from_config(config)
    # What save_pretrained writes, but atomically: a crash leaves the old config whole.
    target = folder / "scheduler" / new.config_name
    atomic_write_bytes(new.to_json_string().encode(), target)
    # diffusers loads the scheduler class model_index.json names, not the config's _class_name.
    index = json.loads((folder / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", cls.__name__]
    atomic_write_bytes((json.dumps(index, indent=2) + "\n").encode(), folder / "model_index.json")
    sampling = {"steps": steps, "guidance": guidance}
    atomic_write_bytes((json.dumps(sampling) + "\n").encode(), folder / SAMPLING_FILE)
    return str(cls.__name__)


def load_pipeline(path: str | Path | None = None, dtype: Any = None) -> Any:
    """Load the bundled world model as a diffusers StableDiffusionPipeline (local files only)."""
    from diffusers import StableDiffusionPipeline

    folder = Path(path) if path is not None else weights_path()
    if not (folder / "model_index.json").is_file():
        raise SeedscopeError(
            f"the bundled world model is missing at {folder}; train it with `seedscope world train`"
            " or reinstall seedscope."
        )
    import torch

    from seedscope._compat import dtype_kwargs

    kwargs: dict[str, Any] = {"local_files_only": True, "safety_checker": None}
    # The weights ship as float16 to stay small; compute in float32 unless asked otherwise.
    kwargs.update(dtype_kwargs(dtype if dtype is not None else torch.float32))
    pipe = StableDiffusionPipeline.from_pretrained(folder, **kwargs)
    pipe.set_progress_bar_config(disable=True)
    return pipe
