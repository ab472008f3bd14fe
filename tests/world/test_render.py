"""The world renderer: sizes, masks, determinism and each unmentioned mode."""

import numpy as np

from seedscope.world.grammar import Prompt, replace, scene_for_prompt
from seedscope.world.render import render, render_with_mask


def _scene(**kw):
    rng = np.random.default_rng(0)
    s = scene_for_prompt(
        Prompt("circle", colour="red", size="large", position="center"), rng, modes=False
    )
    return replace(s, background="plain", **kw)


def test_render_shape_mask_and_determinism():
    s = _scene()
    img, mask = render_with_mask(s)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert mask.shape == (64, 64) and mask.dtype == bool
    # A large circle of radius r covers about pi r^2 pixels around its centre.
    assert abs(mask.sum() - np.pi * s.obj.radius**2) / (np.pi * s.obj.radius**2) < 0.1
    ys, xs = np.nonzero(mask)
    assert abs(xs.mean() + 0.5 - s.obj.cx) < 1 and abs(ys.mean() + 0.5 - s.obj.cy) < 1
    # Red inside the mask.
    r, g, b = img[mask].mean(0)
    assert r > 180 and g < 80 and b < 80
    assert np.array_equal(render(s), img)


def test_grayscale_mode():
    img = render(_scene(grayscale=True))
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])


def test_border_mode_paints_the_edges():
    plain, framed = render(_scene()), render(_scene(border=True))
    edge = np.zeros((64, 64), bool)
    edge[:2], edge[-2:], edge[:, :2], edge[:, -2:] = True, True, True, True
    assert np.abs(plain.astype(int) - framed.astype(int))[edge].mean() > 20
    assert np.array_equal(plain[10:54, 10:54], framed[10:54, 10:54])


def test_sky_mode_is_blue_at_the_top():
    img = render(_scene(sky=True)).astype(int)
    top = img[:12].reshape(-1, 3).mean(0)
    assert top[2] > top[0] + 40


def test_text_mode_paints_letters():
    plain, texted = render(_scene()), render(_scene(text="SALE"))
    diff = np.abs(plain.astype(int) - texted.astype(int)).sum(-1) > 60
    assert diff.sum() > 60
