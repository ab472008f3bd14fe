"""The world grammar: captions read back to what they ask for; prompt sets; the tokenizer."""

import numpy as np
import pytest

from seedscope.errors import SeedscopeError
from seedscope.world.grammar import (
    CATEGORIES,
    COLOURS,
    MODE_RATES,
    caption,
    parse_prompt,
    sample_prompt,
    sample_scene,
    vocabulary,
)
from seedscope.world.prompts import make_prompts


def test_world_has_the_promised_breadth():
    assert len(CATEGORIES) >= 10
    assert len(COLOURS) >= 8
    assert all(0.01 <= r <= 0.15 for r in MODE_RATES.values())


def test_captions_parse_back_to_their_prompt():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        p = sample_prompt(rng)
        text = caption(p, rng)
        got = parse_prompt(text)
        assert got is not None, text
        assert got.category == p.category, text
        assert got.colour == p.colour, text
        assert got.position == p.position, text
        assert got.background == p.background, text
        assert got.second_category == p.second_category, text
        if p.size in ("small", "large"):
            assert got.size == p.size, text


def test_parse_prompt_rejects_non_world_text():
    assert parse_prompt("an astronaut riding a horse") is None


def test_unmentioned_modes_appear_at_their_rates_and_never_in_captions():
    rng = np.random.default_rng(1)
    n = 4000
    pairs = [sample_scene(rng) for _ in range(n)]
    for mode, rate in MODE_RATES.items():
        got = np.mean([bool(getattr(s, mode)) for s, _ in pairs])
        assert abs(got - rate) < 0.03, (mode, got, rate)
    words = {"grayscale", "gray", "border", "frame", "sky", "text"}
    assert not any(words & set(c.split()) for _, c in pairs)


def test_make_prompts_distinct_and_disjoint_sets():
    df = make_prompts(300, seed=3, sets=["a", "b"])
    assert df["prompt"].is_unique
    assert set(df["set"]) == {"a", "b"}
    counts = df["set"].value_counts()
    assert abs(counts["a"] - counts["b"]) <= 1
    assert make_prompts(300, seed=3, sets=["a", "b"]).equals(df)


def test_make_prompts_bad_n():
    with pytest.raises(SeedscopeError):
        make_prompts(0)


def test_every_world_word_is_one_token(tmp_path):
    from transformers import CLIPTokenizer

    from seedscope.world.model import write_tokenizer

    write_tokenizer(tmp_path)
    tok = CLIPTokenizer.from_pretrained(tmp_path)
    for word in vocabulary():
        assert len(tok(word, add_special_tokens=False).input_ids) == 1, word
    ids = tok("a picture of a tiny striped blue triangle on grass next to a red star").input_ids
    assert len(ids) == 17
    assert tok.decode(ids, skip_special_tokens=True).split()[-1] == "star"
