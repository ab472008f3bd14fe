"""The miniature world's vocabulary, scene sampler and caption grammar (after Xu et al. 2024's
40 categories x 22 modifiers, in miniature)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CATEGORIES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "heart",
    "ring",
    "cross",
    "moon",
    "diamond",
    "hexagon",
    "arrow",
    "house",
)
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 35),
    "orange": (245, 135, 20),
    "yellow": (245, 220, 30),
    "green": (40, 170, 60),
    "cyan": (30, 200, 210),
    "blue": (35, 70, 215),
    "purple": (135, 45, 190),
    "pink": (245, 120, 185),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
SIZES: dict[str, tuple[float, float]] = {
    # Radius of the object in pixels of the 64x64 scene.
    "small": (6.5, 9.0),
    "medium": (11.0, 14.0),
    "large": (17.0, 22.0),
}
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "tiny"),
    "medium": (),
    "large": ("large", "big"),
}
TEXTURES: tuple[str, ...] = ("plain", "striped", "dotted")
POSITIONS: dict[str, tuple[str, ...]] = {
    "left": ("on the left",),
    "right": ("on the right",),
    "top": ("at the top",),
    "bottom": ("at the bottom",),
    "center": ("in the center", "in the middle"),
}
BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "plain": ("on a plain background",),
    "gradient": ("on a gradient background",),
    "ground": ("on the ground", "on grass"),
    "texture": ("on a textured background",),
}
TEXT_WORDS: tuple[str, ...] = (
    "SALE",
    "OPEN",
    "STOP",
    "CAFE",
    "LOVE",
    "HOTEL",
    "BAR",
    "FUN",
    "SHOP",
    "NEWS",
)
PREFIXES: tuple[str, ...] = (
    "a",
    "a picture of a",
    "an image of a",
    "a photo of a",
    "a drawing of a",
)

# Unmentioned properties (never in a caption; the seed, not the prompt, should pick them).
MODE_RATES: dict[str, float] = {"grayscale": 0.10, "border": 0.10, "sky": 0.12, "text": 0.08}
MODES: tuple[str, ...] = tuple(MODE_RATES)


def parse_mode_values(text: str, modes: Sequence[str], what: str, value: str) -> dict[str, float]:
    """Parse "border=3,grayscale=2" into {mode: positive number}; every name must be in modes."""
    from seedscope.errors import SeedscopeError

    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip()
        try:
            number = float(raw)
        except ValueError:
            number = float("nan")
        if not sep or name not in modes or not number > 0:
            raise SeedscopeError(
                f"{what} {part!r} must be MODE={value.upper()} with a mode of"
                f" {', '.join(modes)} and a positive {value}."
            )
        out[name] = number
    return out


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene: what it is and where, in 64x64 pixel units."""

    category: str
    colour: str
    size: str
    texture: str
    cx: float
    cy: float
    radius: float


@dataclass(frozen=True)
class Scene:
    """Everything that decides a rendered scene; the truth the detectors are checked against."""

    obj: SceneObject
    background: str
    bg_seed: int
    position: str | None = None
    second: SceneObject | None = None
    grayscale: bool = False
    border: bool = False
    sky: bool = False
    text: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Flat, JSON/Parquet-friendly truth of the scene."""
        d: dict[str, object] = {
            "category": self.obj.category,
            "colour": self.obj.colour,
            "size": self.obj.size,
            "texture": self.obj.texture,
            "cx": self.obj.cx,
            "cy": self.obj.cy,
            "radius": self.obj.radius,
            "background": self.background,
            "position": self.position,
            "second_category": self.second.category if self.second else None,
            "grayscale": self.grayscale,
            "border": self.border,
            "sky": self.sky,
            "text": self.text,
        }
        return d

    def modes(self) -> dict[str, bool]:
        """Whether each of MODES is present (text: any text drawn), in MODES order."""
        return {
            m: getattr(self, m) is not None if m == "text" else bool(getattr(self, m))
            for m in MODES
        }


@dataclass(frozen=True)
class Prompt:
    """What a caption asks for; None where the caption is silent."""

    category: str
    colour: str | None = None
    size: str | None = None
    texture: str | None = None
    position: str | None = None
    background: str | None = None
    second_category: str | None = None
    second_colour: str | None = None


def _position_xy(
    rng: np.random.Generator, position: str | None, radius: float
) -> tuple[float, float]:
    lo, hi = radius + 2.0, 64.0 - radius - 2.0
    mid = 32.0

    def span(a: float, b: float) -> float:
        a, b = max(a, lo), min(b, hi)
        return float(rng.uniform(a, b)) if b > a else float((a + b) / 2)

    if position == "left":
        return span(lo, 24.0), span(lo, hi)
    if position == "right":
        return span(40.0, hi), span(lo, hi)
    if position == "top":
        return span(lo, hi), span(lo, 24.0)
    if position == "bottom":
        return span(lo, hi), span(40.0, hi)
    if position == "center":
        return span(mid - 4, mid + 4), span(mid - 4, mid + 4)
    return span(lo, hi), span(lo, hi)


def sample_prompt(rng: np.random.Generator) -> Prompt:
    """Draw what a caption asks for: a category plus optional modifiers."""
    style = rng.random()
    cat = str(rng.choice(CATEGORIES))
    if style < 0.35:
        # Synthetic short prompt: one modifier or none (the study's category x modifier grid).
        kind = rng.integers(0, 5)
        if kind == 0:
            return Prompt(cat)
        if kind == 1:
            return Prompt(cat, size=str(rng.choice(["small", "large"])))
        if kind == 2:
            return Prompt(cat, texture=str(rng.choice(["striped", "dotted"])))
        return Prompt(cat, colour=str(rng.choice(list(COLOURS))))
    colour = str(rng.choice(list(COLOURS))) if rng.random() < 0.85 else None
    size = str(rng.choice(list(SIZES))) if rng.random() < 0.5 else None
    texture = str(rng.choice(TEXTURES)) if rng.random() < 0.3 else None
    position = str(rng.choice(list(POSITIONS))) if rng.random() < 0.35 else None
    background = str(rng.choice(list(BACKGROUNDS))) if rng.random() < 0.3 else None
    second_category = second_colour = None
    if rng.random() < 0.1:
        second_category = str(rng.choice(CATEGORIES))
        second_colour = str(rng.choice(list(COLOURS)))
    return Prompt(cat, colour, size, texture, position, background, second_category, second_colour)


def caption(p: Prompt, rng: np.random.Generator) -> str:
    """Write a caption for a prompt, short (`red star`) or sentence-like (`a photo of a ...`)."""
    words: list[str] = []
    if p.size and SIZE_WORDS[p.size]:
        words.append(str(rng.choice(SIZE_WORDS[p.size])))
    if p.texture and p.texture != "plain":
        words.append(p.texture)
    if p.colour:
        words.append(p.colour)
    words.append(p.category)
    short = p.position is None and p.background is None and p.second_category is None
    if short and rng.random() < 0.5:
        return " ".join(words)
    prefix = str(rng.choice(PREFIXES))
    if prefix.endswith(" a") or prefix == "a":
        first = words[0]
        if first[0] in "aeiou":
            prefix = prefix[:-1] + "an"
    out = [prefix, *words]
    if p.position:
        out.append(str(rng.choice(POSITIONS[p.position])))
    if p.second_category:
        out += ["next", "to", "a", str(p.second_colour), p.second_category]
    if p.background:
        out.append(str(rng.choice(BACKGROUNDS[p.background])))
    return " ".join(out)


def scene_for_prompt(p: Prompt, rng: np.random.Generator, modes: bool = True) -> Scene:
    """Draw a scene that satisfies a prompt; what the prompt leaves open is drawn at random."""
    size = p.size or str(rng.choice(list(SIZES), p=[0.3, 0.4, 0.3]))
    radius = float(rng.uniform(*SIZES[size]))
    cx, cy = _position_xy(rng, p.position, radius)
    obj = SceneObject(
        category=p.category,
        colour=p.colour or str(rng.choice(list(COLOURS))),
        size=size,
        texture=p.texture or ("plain" if rng.random() < 0.7 else str(rng.choice(TEXTURES[1:]))),
        cx=cx,
        cy=cy,
        radius=radius,
    )
    second = None
    if p.second_category:
        r2 = float(rng.uniform(*SIZES["small"]))
        # Put the second object on the side away from the first.
        x2 = 64.0 - cx + float(rng.uniform(-4, 4))
        y2 = float(np.clip(64.0 - cy + rng.uniform(-6, 6), r2 + 2, 62 - r2))
        second = SceneObject(
            p.second_category,
            p.second_colour or "white",
            "small",
            "plain",
            float(np.clip(x2, r2 + 2, 62 - r2)),
            y2,
            r2,
        )
    background = p.background or str(rng.choice(list(BACKGROUNDS), p=[0.4, 0.25, 0.15, 0.2]))
    flags = {m: bool(modes and rng.random() < r) for m, r in MODE_RATES.items()}
    text = str(rng.choice(TEXT_WORDS)) if flags["text"] else None
    return Scene(
        obj=obj,
        background=background,
        bg_seed=int(rng.integers(0, 2**31 - 1)),
        position=p.position,
        second=second,
        grayscale=flags["grayscale"],
        border=flags["border"],
        sky=flags["sky"],
        text=text,
    )


def sample_scene(rng: np.random.Generator, modes: bool = True) -> tuple[Scene, str]:
    """Draw a (scene, caption) pair of the training world."""
    p = sample_prompt(rng)
    return scene_for_prompt(p, rng, modes=modes), caption(p, rng)


_WORD = re.compile(r"[a-z]+")
_POSITION_PHRASES = {phrase: key for key, phrases in POSITIONS.items() for phrase in phrases}
_BACKGROUND_PHRASES = {phrase: key for key, phrases in BACKGROUNDS.items() for phrase in phrases}
_SIZE_OF_WORD = {w: k for k, ws in SIZE_WORDS.items() for w in ws}


def parse_prompt(text: str) -> Prompt | None:
    """Read back what a world caption asks for; None if it names no world category."""
    low = text.lower()
    position = next((k for ph, k in _POSITION_PHRASES.items() if ph in low), None)
    background = next((k for ph, k in _BACKGROUND_PHRASES.items() if ph in low), None)
    main, _, rest = low.partition(" next to ")
    words = _WORD.findall(main)
    cat = next((w for w in words if w in CATEGORIES), None)
    if cat is None:
        return None
    before = words[: words.index(cat)]
    colour = next((w for w in before if w in COLOURS), None)
    size = next((_SIZE_OF_WORD[w] for w in before if w in _SIZE_OF_WORD), None)
    texture = next((w for w in before if w in TEXTURES), None)
    rest_words = _WORD.findall(rest)
    cat2 = next((w for w in rest_words if w in CATEGORIES), None)
    col2 = next((w for w in rest_words if w in COLOURS), None)
    return Prompt(cat, colour, size, texture, position, background, cat2, col2)


def vocabulary() -> list[str]:
    """Every word the grammar can write, for the world's tokenizer."""
    words: set[str] = set(CATEGORIES) | set(COLOURS) | set(TEXTURES)
    for ws in SIZE_WORDS.values():
        words |= set(ws)
    for group in (POSITIONS, BACKGROUNDS):
        for phrases in group.values():
            for ph in phrases:
                words |= set(ph.split())
    for pre in PREFIXES:
        words |= set(pre.split())
    words |= {"an", "next", "to", "medium"}
    return sorted(words)


def replace(scene: Scene, **changes: object) -> Scene:
    """A copy of a scene with some fields changed."""
    return dataclasses.replace(scene, **changes)  # type: ignore[arg-type]
