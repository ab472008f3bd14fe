"""Caches that never go stale, one table of everything a sweep knows, and SQL over it (issue 8)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from fixtures.cli import Cli
from fixtures.sweepdir import write_sweep
from seedscope import open_sweep
from seedscope.errors import SeedscopeError
from seedscope.scorers.run import score_sweep
from seedscope.store import compact_parts, shard_paths

PROMPTS = ["a cat", "a dog", "a car", "a tree"]
SEEDS = [5, 6, 7]


def _images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        base = rng.integers(0, 256, 3)
        a = np.clip(base + rng.normal(0, 12, (32, 32, 3)), 0, 255).astype(np.uint8)
        # Colourfulness spread so that the threshold decides differently.
        im = Image.fromarray(a)
        out.append(im.convert("L").convert("RGB") if i % 4 == 0 else im)
    return out


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    return write_sweep(
        tmp_path / "sweep",
        _images(len(PROMPTS) * len(SEEDS)),
        PROMPTS,
        SEEDS,
        shard_rows=5,
        sets=["a", "b", "a", "b"],
    )


def _gray(sweep: Path) -> list[bool]:
    t = open_sweep(sweep).scores(["grayscale"])
    return t["grayscale.grayscale"].to_pylist()


# 1. Stale scores.
def test_other_settings_are_refused_then_recomputed_atomically(sweep: Path, cli: Cli) -> None:
    assert score_sweep(sweep, ["grayscale"], batch_size=4) == {"grayscale": 12}
    before = _gray(sweep)
    code, _, err = cli(
        ["score", str(sweep), "--scorers", "grayscale", "--option", "grayscale.threshold=60"]
    )
    assert code == 2 and "--recompute" in err and "threshold=60" in err
    assert _gray(sweep) == before  # nothing touched

    # A recomputation killed half-way keeps the old cache whole.
    def stop(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_sweep(
            sweep,
            ["grayscale"],
            options={"grayscale": {"threshold": 60}},
            batch_size=4,
            recompute=True,
            progress=stop,
        )
    assert _gray(sweep) == before
    code, out, err = cli(
        [
            "score",
            str(sweep),
            "--scorers",
            "grayscale",
            "--option",
            "grayscale.threshold=60",
            "--recompute",
            "--json",
        ]
    )
    assert code == 0, err
    # The staged rows were kept: only the rest was computed.
    assert json.loads(out)["new_rows"] == {"grayscale": 8}
    after = _gray(sweep)
    assert sum(after) > sum(before)  # a higher threshold calls more images gray
    ident = json.loads((sweep / "scores" / "grayscale" / "identity.json").read_text())
    assert ident["settings"] == {"threshold": 60}
    assert not [p for p in (sweep / "scores").iterdir() if p.name.startswith(".re")]


def _strays(sweep: Path) -> list[str]:
    """Staging folders and folders without rows under scores/ and features/."""
    out = []
    for kind in ("scores", "features"):
        for p in (sweep / kind).iterdir() if (sweep / kind).is_dir() else []:
            if p.is_dir() and (p.name.startswith(".re") or not shard_paths(p, "")):
                out.append(f"{kind}/{p.name}")
    return out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scorers", "grayscale", "--option", "grayscale.threshold=abc", "--recompute"],
         "option threshold='abc' is not a number"),
        (["--scorers", "", "--features", "gram", "--option", "gram.size=abc"],
         "option size='abc' is not a whole number"),
        (["--scorers", "border", "--option", "border.sides=1.5", "--recompute"],
         "option sides='1.5' is not a whole number"),
    ],
)  # fmt: skip
def test_a_wrong_type_option_is_one_sentence_and_leaves_nothing(
    sweep: Path, cli: Cli, args: list[str], message: str
) -> None:
    for _ in range(2):  # without a cache, then with one (--recompute must not stage anything)
        code, out, err = cli(["score", str(sweep), *args])
        assert code == 2, err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
        assert "Traceback" not in err and out.strip() == ""
        assert _strays(sweep) == []
        score_sweep(sweep, ["grayscale", "border"])


def test_a_refused_run_leaves_no_empty_folder(sweep: Path, cli: Cli) -> None:
    score_sweep(sweep, ["grayscale"])
    # border's folder is made first; grayscale's stale cache then refuses the run.
    code, _, err = cli(
        ["score", str(sweep), "--scorers", "border,grayscale", "--option", "grayscale.threshold=60"]
    )
    assert code == 2 and "--recompute" in err
    assert not (sweep / "scores" / "border").exists() and _strays(sweep) == []


def test_a_sequence_option_is_split_at_commas(sweep: Path, cli: Cli) -> None:
    code, _, err = cli(
        ["score", str(sweep), "--scorers", "", "--features", "gram",
         "--option", "gram.layers=conv_1,conv_2", "--option", "gram.size=64"]
    )  # fmt: skip
    assert code == 0, err
    (folder,) = [p for p in (sweep / "features").iterdir() if p.name.startswith("gram")]
    ident = json.loads((folder / "identity.json").read_text())
    assert ident["settings"]["layers"] == ["conv_1", "conv_2"] and ident["settings"]["size"] == 64
    _, x = open_sweep(sweep).features("gram", layers=("conv_1", "conv_2"), size=64)
    assert x.shape == (12, 32 * 33 // 2 + 64 * 65 // 2)


def test_the_same_setting_spelled_otherwise_has_one_identity(sweep: Path, cli: Cli) -> None:
    assert score_sweep(sweep, ["grayscale"]) == {"grayscale": 12}  # the default, 8.0
    for spelling in ("8", "8.0", " 8 "):
        code, out, err = cli(
            ["score", str(sweep), "--scorers", "grayscale", "--option",
             f"grayscale.threshold={spelling}", "--json"]
        )  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["new_rows"] == {"grayscale": 0}
    assert score_sweep(sweep, ["grayscale"], options={"grayscale": {"threshold": 8}}) == {
        "grayscale": 0
    }


def test_a_new_scorer_version_is_refused(sweep: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seedscope.scorers.color import GrayscaleScorer

    score_sweep(sweep, ["grayscale"])
    monkeypatch.setattr(GrayscaleScorer, "version", "99")
    with pytest.raises(SeedscopeError, match=r"grayscale v1.*grayscale v99.*--recompute"):
        score_sweep(sweep, ["grayscale"])
    assert score_sweep(sweep, ["grayscale"], recompute=True) == {"grayscale": 12}


def test_a_shard_of_another_identity_is_never_mixed_in(sweep: Path) -> None:
    score_sweep(sweep, ["grayscale"], batch_size=6)
    folder = sweep / "scores" / "grayscale"
    first = shard_paths(folder, "")[0]
    t = pq.read_table(first)
    meta = dict(t.schema.metadata)
    meta[b"seedscope.identity"] = meta[b"seedscope.identity"].replace(b'"1"', b'"0"')
    pq.write_table(t.replace_schema_metadata(meta), first)
    with pytest.raises(SeedscopeError, match="like the rest"):
        open_sweep(sweep).scores(["grayscale"])


# 2. Features of another setting.
def test_feature_settings_live_in_their_own_flat_folders(sweep: Path) -> None:
    score_sweep(sweep, [], features=["gram"], batch_size=6)
    score_sweep(sweep, [], features=["gram"], options={"gram": {"size": 64}}, batch_size=6)
    score_sweep(sweep, [], features=["gram"], options={"gram": {"layers": ["conv_1"]}})
    folders = sorted(p.name for p in (sweep / "features").iterdir() if not p.name.startswith("."))
    assert len(folders) == 3 and all(f.startswith("gram@clean-") for f in folders)
    assert not any(p.is_dir() for f in folders for p in (sweep / "features" / f).iterdir())
    sw = open_sweep(sweep)
    k1, f1 = sw.features("gram")
    k2, f2 = sw.features("gram", size=64)
    _, f3 = sw.features("gram", layers=["conv_1"])
    assert f1.shape == f2.shape == (12, 5848) and f3.shape == (12, 32 * 33 // 2)
    assert k1.equals(k2) and not np.allclose(f1, f2)
    with pytest.raises(SeedscopeError, match="--features inception"):
        sw.features("inception")


# 3. Analysis results named by identity.
def test_fid_seeds_with_two_extractors_keeps_both(sweep: Path, tmp_path: Path, cli: Cli) -> None:
    from seedscope.analysis.io import list_analyses, read_analysis

    ref = tmp_path / "ref"
    ref.mkdir()
    for i, im in enumerate(_images(8)):
        im.save(ref / f"{i}.png")
    for extractor in ("gram", "world"):
        code, _, err = cli(
            ["fid-seeds", str(sweep), "--ref", str(ref), "--extractor", extractor, "--allow-small"]
        )
        assert code == 0, err
    found = list_analyses(sweep, "fid_by_seed")
    assert sorted(i.settings["extractor"] for _, i in found)[1] == "world"
    assert len(found) == 2
    with pytest.raises(SeedscopeError, match="2 fid_by_seed results"):
        read_analysis(sweep, "fid_by_seed")
    t = read_analysis(sweep, "fid_by_seed", extractor="world")
    assert t["seed"].to_pylist() == SEEDS
    meta = json.loads(pq.read_schema(found[0][0]).metadata[b"seedscope.identity"])
    assert meta["inputs"]["reference"] == str(ref.resolve())


# One table of everything.
def test_scores_is_one_namespaced_table(sweep: Path) -> None:
    sw = open_sweep(sweep)
    with pytest.raises(SeedscopeError, match="seedscope score"):
        sw.scores()
    score_sweep(sweep, ["grayscale", "border"], batch_size=5)
    t = sw.scores()
    assert t.num_rows == 12
    assert {"prompt_id", "seed", "prompt", "set", "grayscale.grayscale", "border.border"} <= set(
        t.column_names
    )
    keys = list(zip(t["prompt_id"].to_pylist(), t["seed"].to_pylist(), strict=True))
    assert keys == sorted(keys)
    df = sw.scores(["grayscale.grayscale"], set="a").to_pandas()
    assert list(df.columns) == ["prompt_id", "seed", "prompt", "set", "grayscale.grayscale"]
    assert set(df["set"]) == {"a"} and len(df) == 6
    with pytest.raises(SeedscopeError, match="no prompt set 'c'"):
        sw.scores(set="c")
    with pytest.raises(SeedscopeError, match="no column 'nope'"):
        sw.scores(["grayscale.nope"])
    with pytest.raises(SeedscopeError, match="--scorers sky"):
        sw.scores(["sky"])


def test_scores_says_which_rows_are_missing(sweep: Path) -> None:
    def stop(done: int, total: int) -> None:
        if done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_sweep(sweep, ["grayscale"], batch_size=5, progress=stop)
    sw = open_sweep(sweep)
    with pytest.raises(SeedscopeError, match="lacks scores for 7 of 12 images"):
        sw.scores()
    partial = sw.scores(allow_missing=True)
    assert partial.num_rows == 12 and partial["grayscale.grayscale"].null_count == 7


def test_scores_lists_every_scorer_that_lacks_rows(sweep: Path) -> None:
    def stop_after(n: int):  # type: ignore[no-untyped-def]
        def stop(done: int, total: int) -> None:
            if done >= n:
                raise KeyboardInterrupt

        return stop

    with pytest.raises(KeyboardInterrupt):
        score_sweep(sweep, ["grayscale"], batch_size=5, progress=stop_after(5))
    with pytest.raises(KeyboardInterrupt):
        score_sweep(sweep, ["border"], batch_size=2, progress=stop_after(8))
    score_sweep(sweep, ["sky"])
    with pytest.raises(SeedscopeError) as err:
        open_sweep(sweep).scores(["grayscale", "sky", "border", "text"])
    msg = str(err.value)
    assert "'grayscale' lacks scores for 7 of 12 images" in msg
    have = sum(pq.read_metadata(p).num_rows for p in shard_paths(sweep / "scores" / "border", ""))
    assert 0 < have < 12 and f"'border' lacks scores for {12 - have} of 12 images" in msg
    assert "'text' has no scores (all 12 images)" in msg and "'sky'" not in msg
    assert msg.endswith(f"run `seedscope score {sweep} --scorers grayscale,border,text`.")


def test_runner_compacts_parts_and_a_killed_compaction_leaves_no_duplicates(sweep: Path) -> None:
    score_sweep(sweep, ["grayscale"], batch_size=1)  # 12 parts: fewer than the threshold
    folder = sweep / "scores" / "grayscale"
    parts = shard_paths(folder, "")
    assert len(parts) == 12
    before = open_sweep(sweep).scores()
    assert compact_parts(folder, min_parts=4, max_rows=5) == 12
    assert len(shard_paths(folder, "")) == 3
    assert open_sweep(sweep).scores().equals(before)
    # Simulate a compaction killed after its rename: old parts back beside the compacted file.
    compacted = shard_paths(folder, "")[0]
    replaced = json.loads(pq.read_schema(compacted).metadata[b"seedscope.replaces"])
    t = pq.read_table(compacted)
    pq.write_table(t.slice(0, 1), folder / replaced[0])
    assert open_sweep(sweep).scores().equals(before)
    assert score_sweep(sweep, ["grayscale"]) == {"grayscale": 0}


# SQL.
def test_sql_views_and_formats(sweep: Path, cli: Cli) -> None:
    score_sweep(sweep, ["grayscale"], features=["world"])
    code, out, err = cli(["sql", str(sweep), "--json"])
    assert code == 0, err
    assert set(json.loads(out)) >= {"prompts", "images", "grayscale", "features_world"}
    q = "select seed, count(*) n, sum(grayscale::int) g from grayscale group by seed order by seed"
    code, out, err = cli(["sql", str(sweep), q, "--json"])
    assert code == 0, err
    rows = json.loads(out)
    assert [r["seed"] for r in rows] == SEEDS and all(r["n"] == 4 for r in rows)
    code, out, _ = cli(["sql", str(sweep), "select * from images limit 1", "--csv"])
    header = out.splitlines()[0].split(",")
    assert "png" not in header and "noise_sha256" in header
    code, out, _ = cli(
        ["sql", str(sweep), "select count(*) from images where png is not null", "--with-png"]
    )
    assert code == 0 and "12" in out
    code, _, err = cli(["sql", str(sweep), "select nope from grayscale"])
    assert code == 2 and "the query failed" in err and len(err.strip().splitlines()) == 1


def test_sql_names_each_analysis_result_and_prints_nan_as_null(sweep: Path, cli: Cli) -> None:
    import pyarrow as pa

    from seedscope.analysis.io import write_analysis

    t = pa.table({"seed": [5, 6], "fid": [1.5, float("nan")]})
    a = write_analysis(sweep, "fid_by_seed", t, {"extractor": "gram"}).stem
    b = write_analysis(sweep, "fid_by_seed", t.slice(0, 1), {"extractor": "world"}).stem
    write_analysis(sweep, "rank", t, {"metric": "fid"})
    code, out, err = cli(["sql", str(sweep), "--json"])
    assert code == 0, err
    names = set(json.loads(out))
    assert {a.replace("-", "_"), b.replace("-", "_"), "rank"} <= names
    assert "fid_by_seed" not in names  # two results: the plain name would be a guess
    code, _, err = cli(["sql", str(sweep), "select * from fid_by_seed"])
    assert code == 2 and "2 fid_by_seed results" in err and a.replace("-", "_") in err
    code, out, err = cli(
        ["sql", str(sweep), f"select * from {a.replace('-', '_')} order by seed", "--json"]
    )
    assert code == 0, err
    assert json.loads(out) == [{"seed": 5, "fid": 1.5}, {"seed": 6, "fid": None}]
    assert "NaN" not in out
    code, out, _ = cli(["sql", str(sweep), "select count(*) n from rank", "--json"])
    assert json.loads(out) == [{"n": 2}]


def test_sql_never_mixes_in_a_file_of_another_identity(sweep: Path, cli: Cli) -> None:
    score_sweep(sweep, ["grayscale", "border"], batch_size=6)
    first = shard_paths(sweep / "scores" / "grayscale", "")[0]
    t = pq.read_table(first)
    meta = dict(t.schema.metadata)
    meta[b"seedscope.identity"] = meta[b"seedscope.identity"].replace(b'"1"', b'"0"')
    pq.write_table(t.replace_schema_metadata(meta), first)
    code, out, err = cli(["sql", str(sweep), "--json"])
    assert code == 0 and "grayscale" not in json.loads(out) and "border" in json.loads(out)
    assert "like the rest" in err
    code, _, err = cli(["sql", str(sweep), "select count(*) from grayscale"])
    assert code == 2 and "no view grayscale" in err and "grayscale v0" in err
    code, out, _ = cli(["sql", str(sweep), "select count(*) n from border", "--json"])
    assert json.loads(out) == [{"n": 12}]


# The contract of the one runner, over every registered scorer and extractor.
def _producers() -> list[tuple[str, str]]:
    from seedscope.features import available as feats
    from seedscope.scorers import available as scorers

    return [("scores", n) for n in scorers()] + [("features", n) for n in feats()]


OPTIONAL = {"clip", "hps", "text"}


@pytest.mark.parametrize(("kind", "name"), _producers())
def test_runner_contract(kind: str, name: str, sweep: Path) -> None:
    from seedscope.scorers.run import build_producers

    names, feats = ([name], []) if kind == "scores" else ([], [name])
    try:
        (producer,) = build_producers(names, feats, {})
        producer.compute([Image.new("RGB", (32, 32))], ["a cat"])
    except (SeedscopeError, ImportError) as err:
        if name in OPTIONAL:
            pytest.skip(f"{name}: {err}")
        raise

    def stop(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_sweep(sweep, names, features=feats, batch_size=4, progress=stop)
    folder = sweep / producer.folder
    ident = json.loads((folder / "identity.json").read_text())
    assert ident["producer"] == name and ident == producer.identity.to_dict()
    counts = score_sweep(sweep, names, features=feats, batch_size=4)
    assert counts == {name if kind == "scores" else producer.folder: 8}
    files = shard_paths(folder, "")
    rows = [r for f in files for r in pq.read_table(f, columns=["prompt_id", "seed"]).to_pylist()]
    keys = [(r["prompt_id"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)) == 12
    for f in files:
        meta = pq.read_schema(f).metadata[b"seedscope.identity"]
        assert json.loads(meta) == ident
    assert not [f for f in os.listdir(folder) if f.startswith(".tmp-")]


SLOW_SCORE = """
import sys, time
from seedscope.scorers.color import GrayscaleScorer
score = GrayscaleScorer.score
def slow(self, images, context=None):
    time.sleep(0.25)
    return score(self, images, context)
GrayscaleScorer.score = slow
from seedscope.cli import main
sys.argv = ["seedscope", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_score_killed_by_sigkill_resumes_without_duplicates(sweep: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    args = ["score", str(sweep), "--scorers", "grayscale", "--batch-size", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SCORE, *args], env=env)
    folder = sweep / "scores" / "grayscale"
    deadline = time.monotonic() + 120
    try:
        while not (folder.is_dir() and shard_paths(folder, "")):
            assert proc.poll() is None, "the score run ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 1 <= len(shard_paths(folder, "")) < 12  # killed mid-run, after the first batch
    rerun = subprocess.run(
        [sys.executable, "-m", "seedscope", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert 0 < json.loads(rerun.stdout)["new_rows"]["grayscale"] < 12
    rows = [r for f in shard_paths(folder, "") for r in pq.read_table(f).to_pylist()]
    keys = [(r["prompt_id"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)) == 12
    assert not [f for f in os.listdir(folder) if f.startswith(".tmp-")]
    fresh = {(r["prompt_id"], r["seed"]): r for r in _fresh_scores(sweep)}
    assert all(fresh[k] == r for k, r in zip(keys, rows, strict=True))


def _fresh_scores(sweep: Path) -> list[dict]:
    """The grayscale scores of an uninterrupted run on a copy of the sweep."""
    import shutil

    copy = sweep.parent / "fresh"
    shutil.copytree(sweep, copy, ignore=shutil.ignore_patterns("scores"))
    score_sweep(copy, ["grayscale"])
    return (
        open_sweep(copy)
        .scores(["grayscale"])
        .select(
            [
                "prompt_id",
                "seed",
                "grayscale.colourfulness",
                "grayscale.saturation",
                "grayscale.grayscale",
            ]
        )
        .rename_columns(["prompt_id", "seed", "colourfulness", "saturation", "grayscale"])
        .to_pylist()
    )


def test_score_on_ray_passes_the_address_and_gpus_to_the_actor_pool(
    sweep: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seedscope.sweep.engines as engines
    import seedscope.sweep.pool as pool

    seen: dict[str, object] = {}

    class FakeRay:
        def cluster_resources(self) -> dict[str, float]:
            return {"CPU": 8.0, "GPU": 2.0}

    class Actor:
        def __init__(self, worker: object) -> None:
            self.compute = type("R", (), {"remote": staticmethod(worker.compute)})()  # type: ignore[attr-defined]

    class FakePool:
        def __init__(self, ray, actor_cls, args, n_actors, **kw):  # type: ignore[no-untyped-def]
            seen.update(n_actors=n_actors, **kw)
            self.actor = Actor(actor_cls(*args))

        def map(self, jobs, call):  # type: ignore[no-untyped-def]
            for job in jobs:
                yield job, call(self.actor, job)

    def init_ray(address: str | None) -> FakeRay:
        seen["address"] = address
        return FakeRay()

    monkeypatch.setattr(engines, "init_ray", init_ray)
    monkeypatch.setattr(pool, "ActorPool", FakePool)
    base = ["score", str(sweep), "--scorers", "grayscale", "--engine", "ray", "--batch-size", "4"]
    code, _, err = cli([*base, "--ray-address", "head:6379", "--gpus-per-worker", "0.5"])
    assert code == 0, err
    assert seen == {"address": "head:6379", "n_actors": 3, "num_gpus": 0.5}  # 12 images / 4
    assert open_sweep(sweep).scores(["grayscale"]).num_rows == 12
    code, _, err = cli([*base, "--gpus-per-worker", "4", "--recompute"])
    assert code == 2 and "too few for --gpus-per-worker 4" in err
    assert _strays(sweep) == []  # the refused recomputation left no staging folder
    code, _, err = cli(["score", str(sweep), "--gpus-per-worker", "1"])
    assert code == 2 and "need --engine ray" in err
