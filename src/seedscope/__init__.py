"""seedscope: what the random seed does to a text-to-image diffusion model (Xu et al., 2024)."""

__version__ = "0.1.0"
