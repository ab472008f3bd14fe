"""Latent mode flags: DCT patterns, offsets that read back, and bad input."""

import numpy as np
import pytest
import torch
from scipy.fft import idctn

from seedscope.errors import SeedscopeError
from seedscope.world import flags as fl
from seedscope.world.train import ot_couple


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


def test_flag_coupling_gives_flagged_scenes_the_noises_scoring_highest():
    gen = torch.Generator().manual_seed(0)
    flags = {"border": 0.6}
    hits = []
    for _ in range(20):
        noise = torch.randn(32, 4, 16, 16, generator=gen)
        shows = {"border": (torch.rand(32, generator=gen) < 0.1).numpy()}
        shows["border"][0] = True
        cost = fl.coupling_cost(shows, noise, flags)
        paired = ot_couple(torch.zeros_like(noise), noise, 0, extra_cost=cost)
        # A permutation of the batch's noises...
        assert sorted(paired.flatten().tolist()) == sorted(noise.flatten().tolist())
        s = fl.noise_scores(paired, flags)["border"]
        k = int(shows["border"].sum())
        top = torch.sort(fl.noise_scores(noise, flags)["border"], descending=True).values[: 3 * k]
        hits.append(bool(s[shows["border"]].min() >= top[-1]))
    # ...which hands the flagged scenes noises from the top scores (their target is 1.75).
    assert np.mean(hits) > 0.9


def test_read_loss_is_the_squared_error_of_the_flag_reads():
    gen = torch.Generator().manual_seed(3)
    flags = {"border": 0.6, "grayscale": 1.5, "text": 0.6}
    pred, clean = torch.randn(5, 4, 16, 16, generator=gen), torch.randn(5, 4, 16, 16, generator=gen)
    a, b = fl.read_flags(pred.numpy(), flags), fl.read_flags(clean.numpy(), flags)
    want = sum(np.mean((a[m] - b[m]) ** 2) for m in flags)  # read_flags is numpy's
    assert float(fl.read_loss(pred, clean, flags)) == pytest.approx(want, rel=1e-5)
    # Only the flags' directions count: changing the image elsewhere costs nothing.
    other = pred.clone()
    other[:, :3] += 5.0
    other[:, fl.FLAG_CHANNEL] += 2.0  # the channel's mean: orthogonal to every pattern
    assert float(fl.read_loss(other, clean, flags)) == pytest.approx(want, rel=1e-4)
    pred.requires_grad_(True)
    fl.read_loss(pred, clean, flags).backward()
    assert pred.grad is not None and float(pred.grad[:, :3].abs().max()) == 0.0


def test_noise_scores_are_standard_normal():
    noise = torch.randn(4000, 4, 32, 32, generator=torch.Generator().manual_seed(1))
    for s in fl.noise_scores(noise, fl.parse_flags("border=1,grayscale=1")).values():
        assert abs(float(s.mean())) < 0.06
        assert abs(float(s.std()) - 1) < 0.05


def test_leak_correction_leaves_the_noisiest_input_the_seeds_own_flag_score():
    gen = torch.Generator().manual_seed(2)
    flags = {"border": 0.6, "grayscale": 0.6}
    shows = {"border": np.array([1, 0, 1, 0], bool), "grayscale": np.array([1, 1, 0, 0], bool)}
    z0 = torch.randn(4, 4, 32, 32, generator=gen)
    z0[:, fl.FLAG_CHANNEL] += torch.from_numpy(fl.offsets(shows, flags, 32))
    noise = torch.randn(4, 4, 32, 32, generator=gen)
    a = 0.0047  # alpha-bar at the last of 1,000 scaled-linear steps
    fixed = fl.remove_terminal_leak(noise, shows, flags, a)
    x_t = a**0.5 * z0 + (1 - a) ** 0.5 * fixed
    z_plain = z0.clone()
    z_plain[:, fl.FLAG_CHANNEL] -= torch.from_numpy(fl.offsets(shows, flags, 32))
    want = fl.noise_scores(a**0.5 * z_plain + (1 - a) ** 0.5 * noise, flags)
    got = fl.noise_scores(x_t, flags)
    for mode in flags:  # the flag is gone from the noisiest input's score, nothing else moved
        torch.testing.assert_close(got[mode], want[mode], atol=1e-4, rtol=0)
    assert torch.equal(fixed[:, :3], noise[:, :3]) and torch.equal(fixed[3], noise[3])
