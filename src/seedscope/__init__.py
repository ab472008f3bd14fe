"""seedscope: what the random seed does to a text-to-image diffusion model (Xu et al., 2024)."""

__version__ = "0.1.0"

from seedscope.store import open_sweep

__all__ = ["__version__", "open_sweep"]
