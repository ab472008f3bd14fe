"""Mode pseudo-targets: the project's own scorers read the mode each target is redrawn as."""

import numpy as np
from PIL import Image

from seedscope.scorers.border import BorderScorer, band_width
from seedscope.scorers.color import GrayscaleScorer
from seedscope.world.grammar import sample_scene
from seedscope.world.mode_targets import FRAME_WIDTH, framed, luminance, mode_target
from seedscope.world.render import render


def _plain_scenes(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    while len(out) < n:
        scene, _ = sample_scene(rng)
        if not (scene.border or scene.grayscale):
            out.append(render(scene))
    return out


def test_luminance_is_pils_gray():
    rgb = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(rgb).convert("L"))
    got = luminance(rgb)
    assert (got[..., 0] == got[..., 1]).all() and (got[..., 1] == got[..., 2]).all()
    assert np.abs(got[..., 0].astype(int) - ref).max() <= 1


def test_targets_are_read_as_their_modes_by_the_scorers_and_keep_the_rest():
    images = _plain_scenes(12)
    border, gray = BorderScorer(), GrayscaleScorer()
    pil = [Image.fromarray(a) for a in images]
    assert not any(r["border"] for r in border.score(pil))
    assert not any(r["grayscale"] for r in gray.score(pil))
    framed_ = [mode_target(a, border=True, grayscale=False) for a in images]
    assert all(r["border"] for r in border.score([Image.fromarray(a) for a in framed_]))
    for a, f in zip(images, framed_, strict=True):
        assert band_width(f.astype(float)) == FRAME_WIDTH
        w = FRAME_WIDTH
        np.testing.assert_array_equal(f[w:-w, w:-w], a[w:-w, w:-w])  # the inside is unchanged
    both = [Image.fromarray(mode_target(a, border=True, grayscale=True)) for a in images]
    for b, g in zip(border.score(both), gray.score(both), strict=True):
        assert b["border"] and g["grayscale"]
    plain = [mode_target(a, border=False, grayscale=False) for a in images]
    for a, p in zip(images, plain, strict=True):
        np.testing.assert_array_equal(a, p)


def test_a_frame_takes_the_world_frame_colour_nearest_to_the_outer_ring():
    rgb = np.full((64, 64, 3), 100, np.uint8)
    ring = np.ones((64, 64), bool)
    ring[2:-2, 2:-2] = False
    rgb[ring] = (190, 150, 60)  # a soft gold frame: the world's (200, 160, 40)
    out = framed(rgb, width=5)
    assert (out[:5] == (200, 160, 40)).all() and (out[:, -5:] == (200, 160, 40)).all()
    assert (out[5:-5, 5:-5] == 100).all()
    assert (framed(np.full((8, 8, 3), 30, np.uint8), 2)[0, 0] == (20, 20, 20)).all()
