"""seedscope: what the random seed does to a text-to-image diffusion model (Xu et al., 2024)."""

__version__ = "0.1.0"

from seedscope.pick.cards import SeedCard, load_card
from seedscope.tables import SweepTables, open_sweep

__all__ = ["SeedCard", "SweepTables", "__version__", "load_card", "open_sweep"]
