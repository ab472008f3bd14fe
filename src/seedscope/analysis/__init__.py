"""Analyses over a sweep: pure functions over tables and arrays, thin `run_*` writers."""
