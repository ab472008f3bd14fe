"""Load any diffusers text-to-image pipeline: a local folder, a cached hub id, or `world`."""

from seedscope.models.loading import ModelRef, load_pipeline, resolve_model
from seedscope.models.settings import (
    DTYPES,
    SCHEDULERS,
    check_size,
    latent_shape,
    parse_dtype,
    set_scheduler,
)

__all__ = [
    "DTYPES",
    "SCHEDULERS",
    "ModelRef",
    "check_size",
    "latent_shape",
    "load_pipeline",
    "parse_dtype",
    "resolve_model",
    "set_scheduler",
]
