"""One contract test over every registered scorer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.scorers import Context, Scorer, available, get_scorer

OPTIONAL = {"clip", "hps", "world"}


def _build(name: str) -> Scorer:
    try:
        return get_scorer(name)
    except SeedscopeError as err:
        if name in OPTIONAL:
            pytest.skip(f"{name}: {err}")
        raise


@pytest.mark.parametrize("name", sorted(available()))
def test_scorer_contract(name: str) -> None:
    scorer = _build(name)
    assert isinstance(scorer, Scorer)
    assert scorer.name == name
    assert isinstance(scorer.version, str) and scorer.version
    assert isinstance(scorer.schema, pa.Schema)
    assert not {"prompt_id", "seed"} & set(scorer.schema.names)
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)),
        Image.new("RGB", (80, 48), (10, 200, 30)),
    ]
    try:
        rows = scorer.score(images, Context(prompts=["a red cat", "a blue car"]))
    except SeedscopeError as err:
        if name in OPTIONAL:
            pytest.skip(f"{name}: {err}")
        raise
    assert len(rows) == 2
    for row in rows:
        assert set(row) == set(scorer.schema.names)
    # Every row must convert to the declared schema.
    pa.Table.from_pylist(rows, schema=scorer.schema)
    assert scorer.score([]) == [] if name not in OPTIONAL else True
    # Settings are JSON-friendly, to be saved with the scores.
    import json

    json.dumps(scorer.settings(), default=str)


def test_unknown_scorer() -> None:
    with pytest.raises(SeedscopeError, match="unknown scorer"):
        get_scorer("nope")


def test_builtins_registered_by_entry_points() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="seedscope.scorers")}
    assert {"grayscale", "border", "sky", "text", "composition", "world", "clip", "hps"} <= names


def test_unknown_option_is_one_sentence() -> None:
    with pytest.raises(SeedscopeError, match="its options are: threshold"):
        get_scorer("grayscale", thresold=6)
