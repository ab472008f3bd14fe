"""Analyses over a sweep's tables: per-seed metrics, rankings, maps, fingerprints (Xu et al. 2024)."""
