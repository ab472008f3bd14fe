"""World training: every stage runs, checkpoints, resumes and exports a loadable pipeline."""

import dataclasses
import itertools

import numpy as np
import pytest
import scipy.stats
import torch

from fixtures.cli import Cli
from seedscope.world import flags as fl
from seedscope.world import train
from seedscope.world.mode_targets import mode_target
from seedscope.world.model import build_pipeline, load_pipeline
from seedscope.world.train import TrainConfig, Trainer, _edge_l1, unet_lr

# A run of a couple of steps per stage on 24 scenes, checkpointing and logging every step.
TINY = TrainConfig(
    n_scenes=24,
    vae_steps=2,
    vae_batch=2,
    unet_steps=2,
    unet_batch=2,
    decoder_steps=2,
    checkpoint_every=1,
    log_every=1,
    warmup=1,
)


def test_tiny_training_run_resumes_and_exports(tmp_path):
    cfg = TINY
    said: list[str] = []
    export = Trainer(tmp_path, cfg, progress=said.append).run()
    assert any(s.startswith("vae step 2/2") for s in said)
    assert any(s.startswith("unet step 2/2") for s in said)
    assert any(s.startswith("decoder step 2/2") for s in said)
    assert torch.load(tmp_path / "unet.pt", weights_only=False)["step"] == 2
    pipe = load_pipeline(export)
    image = pipe(
        "a red star", num_inference_steps=2, generator=torch.Generator().manual_seed(0)
    ).images[0]
    assert image.size == (64, 64) and np.asarray(image).std() > 0
    # Resuming with more UNet steps trains only the missing ones.
    said.clear()
    Trainer(tmp_path, dataclasses.replace(cfg, unet_steps=3), progress=said.append).run(("unet",))
    assert [s.split(" loss")[0] for s in said if s.startswith("unet")] == ["unet step 3/3"]
    assert not any(s.startswith("vae step") for s in said)
    # The raw (not averaged) weights export beside the EMA export, named by their step.
    raw = Trainer(tmp_path, dataclasses.replace(cfg, unet_steps=3)).run(("export",), "raw")
    assert raw == tmp_path / "export-raw-3"
    ck = torch.load(tmp_path / "unet.pt", weights_only=False)
    got = load_pipeline(raw).unet.state_dict()
    key = next(iter(ck["unet"]))
    assert torch.allclose(got[key].float(), ck["unet"][key].half().float())
    with pytest.raises(ValueError, match="ema or raw"):
        Trainer(tmp_path, cfg).run(("export",), "best")


def test_render_dataset_reports_each_chunk_and_stays_deterministic():
    told: list[int] = []
    imgs, caps, truth = train.render_dataset(1203, seed=3, workers=2, progress=told.append)
    assert told == [1000, 203] and len(imgs) == len(caps) == len(truth) == 1203
    again, caps2, _ = train.render_dataset(1203, seed=3, workers=1)
    np.testing.assert_array_equal(imgs, again)
    assert caps == caps2


def test_unet_learning_rate_warms_up_then_decays_to_a_tenth():
    cfg = TrainConfig(unet_lr=1e-3, warmup=100, unet_steps=1000)
    lrs = [unet_lr(s, cfg) for s in range(1200)]
    assert lrs[0] == pytest.approx(1e-5)
    assert max(lrs) == pytest.approx(lrs[99], rel=1e-6) and lrs[99] > 0.97e-3
    assert all(a >= b for a, b in itertools.pairwise(lrs[100:]))
    assert lrs[1000] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(1e-4)


def test_edge_loss_is_the_l1_distance_of_pixel_differences():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 8, 8)), rng.normal(size=(2, 3, 8, 8))
    want = (
        np.abs(np.diff(a, axis=-1) - np.diff(b, axis=-1)).mean()
        + np.abs(np.diff(a, axis=-2) - np.diff(b, axis=-2)).mean()
    )
    got = _edge_l1(torch.from_numpy(a), torch.from_numpy(b)).item()
    assert got == pytest.approx(want, rel=1e-12)
    # A flat shift in brightness has the same edges: no loss.
    assert _edge_l1(torch.from_numpy(a), torch.from_numpy(a + 0.3)).item() == pytest.approx(0.0)


def test_mode_weights_parse_and_refuse_bad_input():
    from seedscope.errors import SeedscopeError
    from seedscope.world.train import parse_mode_weights

    assert parse_mode_weights("") == {}
    assert parse_mode_weights("border=3, grayscale=2.5") == {"border": 3.0, "grayscale": 2.5}
    for bad in ("frame=2", "border", "border=x", "border=0", "border=-1"):
        with pytest.raises(SeedscopeError, match="MODE=WEIGHT"):
            parse_mode_weights(bad)


def test_scene_weights_multiply_the_weights_of_the_modes_shown():
    from seedscope.world.train import scene_weights

    truth = [
        {"border": False, "grayscale": False},
        {"border": True, "grayscale": False},
        {"border": True, "grayscale": True},
        {"border": False, "grayscale": True},
    ]
    assert scene_weights(truth, {}) is None
    p = scene_weights(truth, {"border": 3.0, "grayscale": 2.0})
    want = np.array([1.0, 3.0, 6.0, 2.0])
    np.testing.assert_allclose(p, want / want.sum())
    # Drawn with these probabilities, bordered scenes come 9/12 of the time.
    idx = np.random.default_rng(0).choice(4, 200_000, p=p)
    assert np.isin(idx, [1, 2]).mean() == pytest.approx(9 / 12, abs=0.01)


def test_band_weights_weight_only_the_outer_rows_and_columns():
    from seedscope.world.train import band_weights

    w = band_weights(8, 2, 5.0)
    assert w.shape == (8, 8) and (w[2:6, 2:6] == 1).all()
    assert (w[:2] == 5).all() and (w[-2:] == 5).all() and (w[:, :2] == 5).all()
    assert (w[:, -2:] == 5).all() and w.sum() == 16 + 5 * 48
    assert (band_weights(8, 0, 5.0) == 1).all()


def test_warm_start_keeps_the_init_autoencoder_and_scale_and_fine_tunes(tmp_path):
    base = dataclasses.replace(TINY, decoder_steps=1)
    init = Trainer(tmp_path / "a", base, progress=lambda s: None).run()
    first = load_pipeline(init)
    cfg = dataclasses.replace(
        base,
        init_from=str(init),
        mode_weights="border=4,grayscale=2",
        unet_edge_weight=3.0,
        decoder_edge_weight=2.0,
        vae_steps=50,  # never trained: the init's autoencoder stands in
    )
    said: list[str] = []
    export = Trainer(tmp_path / "b", cfg, progress=said.append).run()
    assert not any(s.startswith("vae step") for s in said)
    assert any(s.startswith("unet step 2/2") for s in said)
    assert any(s.startswith("decoder step 1/1") for s in said)
    tuned = load_pipeline(export)
    assert tuned.vae.config.scaling_factor == pytest.approx(first.vae.config.scaling_factor)
    enc_a, enc_b = first.vae.encoder.state_dict(), tuned.vae.encoder.state_dict()
    assert all(torch.equal(enc_a[k], enc_b[k]) for k in enc_a)
    unet_a, unet_b = first.unet.state_dict(), tuned.unet.state_dict()
    assert any(not torch.equal(unet_a[k], unet_b[k]) for k in unet_a)


def test_high_noise_share_of_timesteps():
    from seedscope.world.train import sample_timesteps

    gen = torch.Generator().manual_seed(0)
    cfg = TrainConfig(high_noise_frac=0.25, high_noise_from=850)
    t = torch.stack([sample_timesteps(8, 1000, cfg, gen) for _ in range(2000)])
    assert (t[:, :2] >= 850).all() and t.max() < 1000 and t.min() >= 0
    # The rest stay uniform over all timesteps.
    assert (t[:, 2:] < 500).float().mean().item() == pytest.approx(0.5, abs=0.02)
    plain = sample_timesteps(8, 1000, TrainConfig(), torch.Generator().manual_seed(1))
    want = torch.randint(0, 1000, (8,), generator=torch.Generator().manual_seed(1))
    assert torch.equal(plain, want)


def test_loss_targets_and_weights_in_clean_image_terms():
    from diffusers import DDPMScheduler

    from seedscope.world.model import SCHEDULER_CONFIG
    from seedscope.world.train import loss_target

    sched = DDPMScheduler.from_config(SCHEDULER_CONFIG)
    ac = sched.alphas_cumprod
    t = torch.tensor([0, 300, 700, 999])
    snr = (ac / (1 - ac))[t]
    z0, noise = torch.randn(4, 4, 8, 8), torch.randn(4, 4, 8, 8)
    eps_target, w_eps = loss_target(sched, z0, noise, t, snr, TrainConfig(min_snr_gamma=5.0))
    assert torch.equal(eps_target, noise)
    v_cfg = TrainConfig(min_snr_gamma=5.0, prediction_type="v_prediction")
    v_target, w_v = loss_target(sched, z0, noise, t, snr, v_cfg)
    a = ac[t].sqrt().view(-1, 1, 1, 1)
    s = (1 - ac[t]).sqrt().view(-1, 1, 1, 1)
    assert torch.allclose(v_target, a * noise - s * z0, atol=1e-6)
    # An epsilon error e is a clean-image error e / sqrt(SNR), a v error e * sqrt(1 - alpha_bar):
    # weights in clean-image terms are min(SNR, 5) and min(SNR + 1, 5).
    assert torch.allclose(w_eps * snr, torch.clamp(snr, max=5.0), rtol=1e-5)
    assert torch.allclose(w_v * (snr + 1), torch.clamp(snr + 1, max=5.0), rtol=1e-5)
    assert (w_v * (snr + 1))[-1] > 0.99 and (w_eps * snr)[-1] < 0.01
    with pytest.raises(ValueError):
        loss_target(sched, z0, noise, t, snr, TrainConfig(prediction_type="x0"))


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_predicted_clean_is_ddpms_x0_estimate(prediction_type):
    from diffusers import DDPMScheduler

    sched = DDPMScheduler(
        beta_schedule="scaled_linear", clip_sample=False, prediction_type=prediction_type
    )
    gen = torch.Generator().manual_seed(0)
    zt, pred = torch.randn(3, 4, 8, 8, generator=gen), torch.randn(3, 4, 8, 8, generator=gen)
    t = torch.tensor([0, 517, 999])
    got = train.predicted_clean(sched, zt, pred, t, prediction_type)
    for i, ti in enumerate(t.tolist()):  # diffusers' own step, one timestep at a time
        want = sched.step(pred[i : i + 1], ti, zt[i : i + 1]).pred_original_sample
        torch.testing.assert_close(got[i : i + 1], want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="prediction type"):
        train.predicted_clean(sched, zt, pred, t, "sample")


def test_v_prediction_warm_start_exports_a_v_prediction_pipeline(tmp_path):
    cfg = dataclasses.replace(
        TINY, vae_steps=1, unet_steps=1, decoder_steps=1, prediction_type="v_prediction"
    )
    export = Trainer(tmp_path, cfg, progress=lambda s: None).run(("unet", "export"))
    pipe = load_pipeline(export)
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    # A later export alone (the UNet stage already done) keeps the parameterisation.
    again = Trainer(tmp_path, cfg, progress=lambda s: None).run(("export",))
    assert load_pipeline(again).scheduler.config.prediction_type == "v_prediction"
    image = pipe("a red star", num_inference_steps=2).images[0]
    assert image.size == (64, 64)


def test_zero_terminal_snr_trains_on_pure_noise_and_samples_from_t_999(tmp_path):
    from diffusers import DDPMScheduler

    from seedscope.world.train import scheduler_changes

    cfg = dataclasses.replace(
        TINY,
        vae_steps=1,
        unet_steps=1,
        decoder_steps=1,
        prediction_type="v_prediction",
        zero_terminal_snr=True,
    )
    export = Trainer(tmp_path, cfg, progress=lambda s: None).run(("unet", "export"))
    pipe = load_pipeline(export)
    assert pipe.scheduler.config.rescale_betas_zero_snr
    # The noisiest training input is pure noise; sampling starts there (trailing spacing).
    train_sched = DDPMScheduler.from_config(pipe.scheduler.config)
    assert train_sched.alphas_cumprod[-1].item() == 0.0
    assert train_sched.alphas_cumprod[-2].item() > 0.0
    pipe.scheduler.set_timesteps(4)
    assert pipe.scheduler.timesteps[0].item() == 999
    image = pipe("a red star", num_inference_steps=2).images[0]
    assert np.isfinite(np.asarray(image, dtype=float)).all()
    with pytest.raises(ValueError, match="v-prediction"):
        scheduler_changes(TrainConfig(zero_terminal_snr=True))


def test_ot_coupling_is_the_least_cost_permutation_of_the_noises():
    from seedscope.world.train import ot_couple

    gen = torch.Generator().manual_seed(4)
    z0, noise = torch.randn(6, 4, 8, 8, generator=gen) * 2, torch.randn(6, 4, 8, 8, generator=gen)
    paired = ot_couple(z0, noise, 4)
    pool = torch.nn.functional.avg_pool2d

    def cost(n):
        return ((pool(z0, 4) - 4 * pool(n, 4)) ** 2).sum().item()

    # A permutation of the batch's noises (each stays standard normal) ...
    assert sorted(paired.flatten().tolist()) == sorted(noise.flatten().tolist())
    # ... of least total cost, against a brute-force search over all 720 permutations.
    best = min(cost(noise[list(p)]) for p in itertools.permutations(range(6)))
    assert cost(paired) == pytest.approx(best, rel=1e-6)
    assert cost(paired) < cost(noise)
    assert torch.equal(ot_couple(z0, noise, 0), noise)


def test_edge_contrast_reads_a_frame_and_ot_gives_framed_images_high_contrast_noise():
    from seedscope.world.train import edge_contrast, ot_couple

    framed = torch.zeros(1, 4, 16, 16)
    framed[..., :2, :] = framed[..., -2:, :] = framed[..., :, :2] = framed[..., :, -2:] = 1.0
    assert torch.allclose(edge_contrast(framed, 2), torch.ones(1, 4))
    assert torch.allclose(edge_contrast(torch.full((1, 4, 16, 16), 3.0), 2), torch.zeros(1, 4))
    # Brute force over all permutations, with the edge term in the cost.
    gen = torch.Generator().manual_seed(5)
    z0 = torch.cat([framed * 3, torch.zeros(4, 4, 16, 16)])
    noise = torch.randn(5, 4, 16, 16, generator=gen)
    pool = torch.nn.functional.avg_pool2d
    sd = (1 / 60 + 1 / 52) ** 0.5  # outer 2-cell ring of 16x16: 60 cells, the next one 52

    def cost(n):
        c = ((pool(z0, 4) - 4 * pool(n, 4)) ** 2).sum()
        return (c + 4 * ((edge_contrast(z0, 2) - edge_contrast(n, 2) / sd) ** 2).sum()).item()

    paired = ot_couple(z0, noise, 4, edge_weight=4.0, band=2)
    best = min(cost(noise[list(p)]) for p in itertools.permutations(range(5)))
    assert cost(paired) == pytest.approx(best, rel=1e-6)
    # Over many batches, framed images get noise of positive edge contrast, plain ones not.
    z0 = torch.cat([framed * 3, framed * 3, torch.zeros(6, 4, 16, 16)])
    got = torch.stack(
        [
            edge_contrast(ot_couple(z0, torch.randn(8, 4, 16, 16, generator=gen), 4, 4.0), 2)
            .sum(1)
            .div(sd * 2)
            for _ in range(100)
        ]
    )
    assert got[:, :2].mean() > 0.5 and got[:, 2:].mean() < 0.0
    plain = ot_couple(z0, torch.randn(8, 4, 16, 16, generator=gen), 4)
    assert plain.shape == z0.shape


def test_a_resumed_run_keeps_its_settings(tmp_path, cli: Cli):
    cfg = dataclasses.replace(
        TINY, vae_steps=1, unet_steps=1, decoder_steps=1, prediction_type="v_prediction"
    )
    Trainer(tmp_path, cfg).run(("unet",))
    # `--part export` without the run's options still exports a v-prediction pipeline.
    code, _, err = cli(
        [
            "world",
            "train",
            "--workdir",
            str(tmp_path),
            "--part",
            "export",
            "--export-weights",
            "raw",
        ]
    )
    assert code == 0, err
    pipe = load_pipeline(tmp_path / "export-raw-1")
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    assert (tmp_path / "train.json").read_text().count('"v_prediction"') == 1
    (tmp_path / "train.json").write_text("[1, 2]")
    code, _, err = cli(["world", "train", "--workdir", str(tmp_path), "--part", "export"])
    assert code == 2 and "train.json" in err and "Traceback" not in err


def test_flag_stage_trains_resumes_and_the_unet_trains_on_flagged_latents(tmp_path, monkeypatch):
    cfg = dataclasses.replace(
        TINY,
        latent_flags="border=0.6,grayscale=0.6",
        flag_steps=2,
        ot_flag_weight=1.0,
        flag_leak_correction=True,
        flag_read_weight=1.0,
        log_every=1,
    )
    calls: list[float] = []
    said: list[str] = []
    read_loss = fl.read_loss

    def spy(pred, clean, flags):
        out = read_loss(pred, clean, flags)
        calls.append(float(out))
        return out

    monkeypatch.setattr(train.fl, "read_loss", spy)
    trainer = Trainer(tmp_path, cfg, progress=said.append)
    trainer.run(("unet",))
    assert len(calls) == cfg.unet_steps and all(np.isfinite(calls))  # in every UNet step
    logged = [s for s in said if s.startswith("unet step")]
    assert len(logged) == cfg.unet_steps  # each line names the read loss of its step on its own
    assert all(f", read {c:.4f} (" in s for s, c in zip(logged, calls, strict=True))
    assert torch.load(tmp_path / "flags.pt", weights_only=False)["step"] == 2
    shows = trainer._shows()
    mean = np.load(tmp_path / "latents.npz")["mean"]
    pipe = build_pipeline(tmp_path / "init2")
    pipe.vae.register_to_config(scaling_factor=2.0)
    out = trainer.flagged(pipe, mean)
    read = fl.read_flags(
        (out.astype(np.float32) - mean.astype(np.float32)) * 2.0, fl.parse_flags(cfg.latent_flags)
    )
    for mode, s in shows.items():
        np.testing.assert_allclose(read[mode], s.astype(float), atol=1e-2)
    # Resumed with more steps, the stage continues from its checkpoint.
    Trainer(tmp_path, dataclasses.replace(cfg, flag_steps=3), progress=lambda s: None).run(())
    assert torch.load(tmp_path / "flags.pt", weights_only=False)["step"] == 3


def test_decoder_stage_trains_on_the_unets_own_renderings_and_they_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "RENDER_CHUNK", 2)
    cfg = dataclasses.replace(TINY, latent_flags="border=0.6", decoder_samples=5)
    said: list[str] = []
    trainer = Trainer(tmp_path, cfg, progress=said.append)
    trainer.run(("unet", "decoder"))
    assert any(s.startswith("renderings 5/5") for s in said)
    assert any(s.startswith("decoder step 2/2") for s in said)
    full = dict(np.load(tmp_path / "renderings.npz"))
    mean = np.load(tmp_path / "latents.npz")["mean"]
    assert full["idx"].shape == (5,) and full["z"].shape == (5, *mean.shape[1:])
    assert np.isfinite(full["z"]).all()
    # Every other scene shows a flagged mode (they are rare); the UNet changed each latent.
    shows = trainer._shows()["border"]
    assert shows[full["idx"][1::2]].all()
    assert not np.allclose(full["z"], mean[full["idx"]].astype(np.float32), atol=1e-3)
    # Cut after the first chunk, the renderings resume to the same latents.
    pipe = load_pipeline(tmp_path / "export")
    np.savez(tmp_path / "renderings.npz", idx=full["idx"][:2], z=full["z"][:2])
    idx, z = trainer.renderings(pipe, trainer.flagged(pipe, mean), trainer.data()[1])
    np.testing.assert_array_equal(idx, full["idx"])
    np.testing.assert_allclose(z[2:4], full["z"][2:4], atol=1e-4)


def test_flag_seeking_noise_puts_every_other_noise_in_a_flags_top_ten_percent():
    flags = {"border": 0.6, "grayscale": 0.6}
    shape = (4, 16, 16)
    noise = train.flag_seeking_noise(40, shape, flags, torch.Generator().manual_seed(3))
    scores = fl.noise_scores(noise, flags)
    best = torch.maximum(scores["border"], scores["grayscale"])
    assert (best[::2] >= 1.28).all()
    # The others are the generator's first draws, untouched (standard normal noise).
    plain = torch.randn((40, *shape), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(noise[1::2], plain[1::2])
    # Both modes are sought, and without flags the noise is plain.
    assert (scores["border"][::2] >= 1.28).any() and (scores["grayscale"][::2] >= 1.28).any()
    none = train.flag_seeking_noise(6, shape, {}, torch.Generator().manual_seed(3))
    torch.testing.assert_close(none, plain[:6])


def test_decoder_stage_trains_on_generations_from_noise_and_they_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "RENDER_CHUNK", 2)
    cfg = dataclasses.replace(
        TINY,
        vae_batch=3,
        latent_flags="border=0.6,grayscale=0.6",
        flag_steps=1,
        decoder_samples=2,
        decoder_free_samples=5,
    )
    said: list[str] = []
    trainer = Trainer(tmp_path, cfg, progress=said.append)
    trainer.run(("unet", "decoder"))
    assert any(s.startswith("generations 5/5") for s in said)
    assert any(s.startswith("decoder step 2/2") for s in said)
    full = dict(np.load(tmp_path / "generations.npz"))
    assert full["z"].shape == (5, 4, 32, 32) and np.isfinite(full["z"]).all()
    assert full["rgb"].shape == (5, 64, 64, 3) and full["rgb"].dtype == np.uint8
    assert full["read"].shape == (5, 2) and np.isfinite(full["read"]).all()
    np.testing.assert_array_equal(full["seeking"], [True, False, True, False, True])
    pipe = load_pipeline(tmp_path / "export")
    z, target, flagged = trainer.generations(pipe, trainer.data()[1])
    # Flagged where a read reaches its mode's world-rate threshold among plain-noise generations.
    cut = train.flag_thresholds(full["read"], full["seeking"], ["border", "grayscale"])
    np.testing.assert_array_equal(flagged, (full["read"] >= list(cut.values())).any(axis=1))
    for k in range(5):
        border, gray = full["read"][k] >= list(cut.values())
        np.testing.assert_array_equal(target[k], mode_target(full["rgb"][k], border, gray))
    # Cut after the first chunk, they resume to the same latents and images: the UNet stage's
    # export holds the same weights and the decoder of before the decoder stage (the teacher).
    np.savez(tmp_path / "generations.npz", **{k: v[:2] for k, v in full.items()})
    z2, target2, flagged2 = trainer.generations(pipe, trainer.data()[1])
    np.testing.assert_allclose(z2, z, atol=1e-4)
    assert np.abs(target2.astype(int) - target).max() <= 1
    np.testing.assert_array_equal(flagged2, flagged)
    # A file of the older layout (targets fixed at generation time) is made again, not misread.
    np.savez(tmp_path / "generations.npz", z=z[:2], target=target[:2], flagged=flagged[:2])
    z3, _, _ = trainer.generations(pipe, trainer.data()[1])
    np.testing.assert_allclose(z3, z, atol=1e-4)


def test_flag_thresholds_put_each_modes_world_rate_of_plain_generations_above():
    rng = np.random.default_rng(0)
    read = rng.normal(size=(4000, 2))
    seeking = np.arange(4000) % 2 == 0
    read[seeking] += 3.0  # seeking noises read high; they must not move the threshold
    cut = train.flag_thresholds(read, seeking, ["border", "text"])
    plain = read[~seeking]
    assert abs((plain[:, 0] >= cut["border"]).mean() - 0.10) < 0.002
    assert abs((plain[:, 1] >= cut["text"]).mean() - 0.08) < 0.002
    # A standard normal's top 10%: 1.28 (scipy), within sampling error.
    assert abs(cut["border"] - scipy.stats.norm.ppf(0.9)) < 0.08
    # Without plain generations, the quantile is over all of them.
    only = train.flag_thresholds(read[:10], np.ones(10, bool), ["border", "text"])
    top = np.sort(read[:10, 0])  # all seeking: the top tenth of the ten is one read
    assert top[8] <= only["border"] <= top[9]
    assert (read[:10, 0] >= only["border"]).sum() == 1
