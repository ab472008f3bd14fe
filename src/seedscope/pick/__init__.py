"""Putting seeds to work: golden pools and diverse seeds as shareable seed cards (Xu et al. 2025)."""

from seedscope.pick.cards import CardSeed, SeedCard, load_card, write_card

__all__ = ["CardSeed", "SeedCard", "load_card", "write_card"]
