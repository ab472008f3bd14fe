"""The miniature world: captioned 64x64 scenes whose truth is known, detectors, and the bundled model."""

from seedscope.world.grammar import (
    CATEGORIES,
    COLOURS,
    MODE_RATES,
    MODES,
    Prompt,
    Scene,
    parse_prompt,
    sample_scene,
    scene_for_prompt,
)
from seedscope.world.model import (
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    load_pipeline,
    sampling_defaults,
)
from seedscope.world.prompts import make_prompts, render_prompts
from seedscope.world.render import render, render_with_mask

__all__ = [
    "CATEGORIES",
    "COLOURS",
    "DEFAULT_GUIDANCE",
    "DEFAULT_STEPS",
    "MODES",
    "MODE_RATES",
    "Prompt",
    "Scene",
    "load_pipeline",
    "make_prompts",
    "parse_prompt",
    "render",
    "render_prompts",
    "render_scene",
    "render_with_mask",
    "sample_scene",
    "sampling_defaults",
    "scene_for_prompt",
]

render_scene = render
