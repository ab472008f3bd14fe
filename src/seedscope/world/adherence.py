"""Prompt adherence in the world: does a detected scene show what its caption asks for?"""

from __future__ import annotations

from typing import Any

from seedscope.world.detect import Detection
from seedscope.world.grammar import parse_prompt


def judge(prompt: str, det: Detection) -> dict[str, Any]:
    """Category match, colour match (None where not asked, or not visible in a gray image), both."""
    asked = parse_prompt(prompt)
    if asked is None:
        return {"category_match": None, "colour_match": None, "adherent": None}
    category = det.category == asked.category
    colour = None
    if asked.colour is not None and det.grayscale < 0.5:
        colour = det.colour == asked.colour
    return {
        "category_match": category,
        "colour_match": colour,
        "adherent": category and colour is not False,
    }
