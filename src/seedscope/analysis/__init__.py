"""Analyses over a sweep: rankings with intervals, consistency, style and layout maps, composition."""
