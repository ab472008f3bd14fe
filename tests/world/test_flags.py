"""Latent mode flags: DCT patterns, offsets that read back, and the decoder's augmentation."""

import numpy as np
import pytest
import torch
from scipy.fft import idctn

from seedscope.errors import SeedscopeError
from seedscope.world import flags as fl


@pytest.mark.parametrize("mode", sorted(fl.PATTERNS))
def test_patterns_are_scipys_dct_basis_functions_of_unit_rms(mode):
    i, j = fl.PATTERNS[mode]
    coef = np.zeros((16, 16))
    coef[i, j] = 1.0
    ref = idctn(coef, type=2)  # the DCT-II basis function of frequency (i, j)
    p = fl.pattern(mode, 16)
    assert np.sqrt((p**2).mean()) == pytest.approx(1.0, rel=1e-5)
    assert np.corrcoef(ref.ravel(), p.ravel())[0, 1] == pytest.approx(1.0, abs=1e-6)
    assert abs(p.mean()) < 1e-6  # orthogonal to the latent's mean (what images vary most in)


def test_offsets_read_back_as_the_modes_each_scene_shows():
    rng = np.random.default_rng(0)
    shows = {"border": rng.random(50) < 0.3, "grayscale": rng.random(50) < 0.3}
    flags = {"border": 0.6, "grayscale": 1.5}
    z = np.zeros((50, 4, 32, 32), np.float32)
    z[:, fl.FLAG_CHANNEL] = fl.offsets(shows, flags, 32)
    read = fl.read_flags(z, flags)
    for mode in flags:  # the two patterns are orthogonal, so each reads only its own mode
        np.testing.assert_allclose(read[mode], shows[mode].astype(float), atol=1e-5)
    assert not z[:, :3].any()


def test_parse_flags_refuses_modes_without_a_pattern_and_bad_amplitudes():
    assert fl.parse_flags("border=0.6, grayscale=1") == {"border": 0.6, "grayscale": 1.0}
    assert fl.parse_flags("") == {}
    for bad in ("sky=1", "border", "border=0", "border=x"):
        with pytest.raises(SeedscopeError, match="MODE=AMPLITUDE"):
            fl.parse_flags(bad)


def test_augment_blurs_only_flagged_scenes_and_only_what_their_flag_stands_for():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(64, 4, 32, 32, generator=gen)
    framed = torch.zeros(64, dtype=torch.bool)
    framed[:32] = True
    gray = torch.zeros(64, dtype=torch.bool)
    gray[16:48] = True
    out = fl.augment(z, framed, gray, gen, band=3, p=1.0)
    assert torch.equal(out[48:], z[48:])  # neither mode: untouched
    assert torch.equal(out[:, fl.FLAG_CHANNEL, 3:-3, 3:-3], z[:, fl.FLAG_CHANNEL, 3:-3, 3:-3])
    # Framed only (0-15): the interior is kept, the band moves towards the interior mean.
    assert torch.equal(out[:16, :, 3:-3, 3:-3], z[:16, :, 3:-3, 3:-3])
    inner = z[:16, :, 3:-3, 3:-3].mean(dim=(2, 3), keepdim=True)
    before = (z[:16, :, :3] - inner).abs().mean()
    assert (out[:16, :, :3] - inner).abs().mean() < 0.75 * before
    # Gray only (32-47): chroma added to the colour channels, their sum (the gray level) kept.
    assert torch.equal(out[32:48, 3], z[32:48, 3])
    assert not torch.equal(out[32:48, :3], z[32:48, :3])
    torch.testing.assert_close(out[32:48, :3].sum(1), z[32:48, :3].sum(1), atol=1e-5, rtol=0)
