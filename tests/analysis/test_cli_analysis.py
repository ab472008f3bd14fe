"""`seedscope rank`, `map` and `composition` on a small scored sweep of drawn images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from fixtures.cli import Cli
from fixtures.sweepdir import write_features, write_sweep

N_PROMPTS, N_SEEDS = 8, 8


def _image(p: int, s: int) -> Image.Image:
    """Seeds 0-3 draw gray images with the object on the left; 4-7 colour, object on the right."""
    rng = np.random.default_rng(100 * p + s)
    gray = s < 4
    bg = (128, 128, 128) if gray else (40, 90 + 10 * p, 200)
    im = Image.new("RGB", (48, 48), bg)
    cx = (8 if gray else 32) + int(rng.integers(0, 6))
    size = 8 + int(rng.integers(0, 3))
    colour = (230, 230, 230) if gray else (230, 40 + 20 * s, 30)
    ImageDraw.Draw(im).ellipse([cx, 18, cx + size, 18 + size], fill=colour)
    return im


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("an") / "sweep"
    prompts = [f"a red circle number {i}" for i in range(N_PROMPTS)]
    images = [_image(p, s) for p in range(N_PROMPTS) for s in range(N_SEEDS)]
    write_sweep(path, images, prompts, list(range(N_SEEDS)))
    pq.write_table(
        pa.table(
            {
                "prompt_id": pa.array(range(N_PROMPTS), pa.int64()),
                "prompt": prompts,
                "set": ["a" if i % 2 else "b" for i in range(N_PROMPTS)],
            }
        ),
        path / "prompts.parquet",
    )
    from seedscope.scorers.run import score_sweep

    score_sweep(path, ["grayscale", "composition"])
    return path


def test_rank_without_scores_names_the_command(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "bare"
    write_sweep(path, [_image(0, s) for s in range(4)], ["x"], [0, 1, 2, 3])
    code, _, err = cli(["rank", str(path)])
    assert code == 2 and "seedscope score" in err and "Traceback" not in err
    assert not (path / "analysis").exists()


def test_rank_json_finds_the_grayscale_seeds(scored: Path, cli: Cli) -> None:
    code, out, err = cli(
        ["rank", str(scored), "--metric", "grayscale", "--lower-is-better", "-k", "4",
         "--reps", "200", "--test", "both", "--permutations", "199", "--json"]
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["metric"] == "grayscale.grayscale" and res["seeds"] == N_SEEDS
    assert {r["seed"] for r in res["golden"]} == {4, 5, 6, 7}
    assert res["tests"]["permutation"]["p_value"] < 0.05
    assert res["consistency"]["top_k"]["overlap"] == 4
    assert res["sets"]["how"] == "prompt sets 'a' and 'b'"
    files = [Path(f) for f in res["files"]]
    assert all(f.exists() for f in files) and any(f.suffix == ".svg" for f in files)
    table = pq.read_table(files[0]).to_pandas()
    assert sorted(table["seed"]) == list(range(N_SEEDS))
    assert {"grayscale.grayscale_lo", "grayscale.grayscale_hi", "rank"} <= set(table.columns)


def test_rank_refuses_bad_options(scored: Path, cli: Cli) -> None:
    code, _, err = cli(["rank", str(scored), "--test", "maybe"])
    assert code == 2 and "--test" in err
    code, _, err = cli(["rank", str(scored), "--metric", "composition.object_x"])
    assert code == 2 and "--higher-is-better" in err
    code, _, err = cli(["rank", str(scored), "--test", "both", "--permutations", "0"])
    assert code == 2 and "--permutations" in err and "Traceback" not in err


def test_rank_records_its_inputs_and_chooses_among_fid_results(
    scored: Path, tmp_path: Path, cli: Cli
) -> None:
    import shutil

    from seedscope.analysis.io import list_analyses, write_analysis
    from seedscope.identity import read_identity, table_identity

    sweep = tmp_path / "sweep"
    shutil.copytree(scored, sweep)
    seeds = list(range(N_SEEDS))
    for key, producer, fid in (("gram@clean", "gram", 1.0), ("world", "world", 2.0)):
        t = pa.table({"seed": seeds, "fid": [fid + s for s in seeds]})
        write_analysis(sweep, "fid_by_seed", t, {"extractor": key, "kid": False},
                       {"features": {"producer": producer}})  # fmt: skip
    args = ["rank", str(sweep), "--metric", "fid", "--reps", "50", "--no-fid-intervals", "--json"]
    code, _, err = cli(args)
    assert code == 2 and "--fid-extractor gram@clean or --fid-extractor world" in err, err
    code, _, err = cli([*args, "--fid-extractor", "inception"])
    assert code == 2 and "no fid_by_seed result of 'inception'" in err and "gram@clean" in err
    code, out, err = cli([*args, "--fid-extractor", "world"])
    assert code == 0, err
    res = json.loads(out)
    assert {r["seed"] for r in res["golden"]} <= {0, 1, 2}  # lower FID is better: low seeds
    rank_file = Path(res["files"][0])
    inputs = table_identity(pq.read_schema(rank_file).metadata).inputs
    world = [
        i for _, i in list_analyses(sweep, "fid_by_seed") if i.settings["extractor"] == "world"
    ]
    assert inputs["fid_by_seed"] == world[0].digest
    for name in ("grayscale", "composition"):
        assert inputs["scorers"][name] == read_identity(sweep / "scores" / name).digest


def test_layout_map_and_composition(scored: Path, cli: Cli) -> None:
    code, out, err = cli(
        ["map", str(scored), "--by", "layout", "--clusters", "2", "--perplexity", "2", "--json"]
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["seeds"] == N_SEEDS and res["grid"]["complete"]
    named = {c["property"] for c in res["clusters"]}
    assert named & {"left", "right", "grayscale"}
    code, out, err = cli(["composition", str(scored), "--reps", "100", "--json"])
    assert code == 0, err
    res = json.loads(out)
    decides = {r["column"]: r for r in res["decides"]}
    assert decides["composition.object_x"]["var_seed"] > 0.5
    assert all(Path(f).exists() for f in res["files"])


def test_style_map_writes_plots_and_tables(scored: Path, cli: Cli) -> None:
    # Synthetic Gram features: seeds 0-3 and 4-7 are two styles, whatever the prompt.
    rng = np.random.default_rng(0)
    pid, sd = (g.ravel() for g in np.meshgrid(range(N_PROMPTS), range(N_SEEDS), indexing="ij"))
    from seedscope.features import get_extractor

    dim = get_extractor("gram").dim
    centre = rng.normal(size=(2, dim))
    write_features(scored, "gram", pid, sd, centre[sd // 4] + rng.normal(0, 0.3, (len(sd), dim)))
    code, out, err = cli(
        ["map", str(scored), "--by", "style", "--clusters", "2", "--perplexity", "2", "--json"]
    )
    assert code == 0, err
    res = json.loads(out)
    files = [Path(f) for f in res["files"]]
    assert all(f.exists() for f in files)
    suffixes = sorted(f.suffix for f in files)
    assert suffixes.count(".png") == 1 and suffixes.count(".svg") == 1
    points = pq.read_table(next(f for f in files if "map_style-" in f.name)).to_pandas()
    clusters = pq.read_table(next(f for f in files if "map_style_clusters" in f.name))
    assert sorted(points["seed"]) == list(range(N_SEEDS)) and clusters.num_rows == 2
    labels = points.set_index("seed")["cluster"]
    assert labels[[0, 1, 2, 3]].nunique() == 1 and labels[0] != labels[4]
    assert res["prompts"] == N_PROMPTS // 2  # built on prompt set a only


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["map", "--pca-dim", "0"], "--pca-dim"),
        (["map", "--pca-dim", "1"], "--pca-dim"),
        (["map", "--perplexity", "-1"], "--perplexity"),
        (["composition", "--reps", "0"], "--reps"),
        (["composition", "--source", "bogus"], "--source"),
    ],
)
def test_map_and_composition_refuse_bad_options(
    scored: Path, cli: Cli, args: list[str], word: str
) -> None:
    code, out, err = cli([args[0], str(scored), *args[1:]])
    assert code == 2 and word in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1
