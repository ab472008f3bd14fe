"""`seedscope report`: sections from analysis/ results, escaping of prompts, reads only."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from report.fake import HOSTILE, make_sweep, write_all

SEEDS = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def hostile_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sweep whose prompts try to inject markup and script."""
    out = tmp_path_factory.mktemp("report") / "sweep"
    return make_sweep(out, (*HOSTILE, "a plain prompt"), SEEDS)


@pytest.fixture(scope="module")
def full_sweep(hostile_sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile sweep copied, with one result of every analysis."""
    import shutil

    out = tmp_path_factory.mktemp("full") / "sweep"
    shutil.copytree(hostile_sweep, out)
    write_all(out, SEEDS)
    return out


def _write(sweep: Path, out: Path) -> tuple[dict, str]:
    from seedscope.report import ReportSettings, write_report

    result = write_report(sweep, ReportSettings(out=out))
    return result, (out / "index.html").read_text(encoding="utf-8")


def test_absent_sections_name_their_command(hostile_sweep: Path, tmp_path: Path) -> None:
    from seedscope.report.atlas import SECTIONS

    result, page = _write(hostile_sweep, tmp_path / "r")
    assert result["sections"]["plan"] is True
    assert [k for k, v in result["sections"].items() if v] == ["plan"]
    for sid, (_, command) in SECTIONS.items():
        if sid == "plan":
            continue
        block = re.search(rf'<section id="{sid}"[^>]*data-present="no".*?</section>', page, re.S)
        assert block, sid
        assert html.escape(command) in block.group(0)
    assert "Bokeh" not in page  # no map: no Bokeh resources inlined


def test_every_section_present(full_sweep: Path, tmp_path: Path) -> None:
    result, page = _write(full_sweep, tmp_path / "r")
    missing = [k for k, v in result["sections"].items() if not v]
    assert missing == []
    for sid in result["sections"]:
        assert f'<section id="{sid}" data-section="{sid}" data-present="yes"' in page
    assert result["pages"] == len(SEEDS)
    for s in SEEDS:
        seed_page = (tmp_path / "r" / "seeds" / f"seed-{s}.html").read_text()
        assert "noise fingerprint" in seed_page
        assert "world.adherent" in seed_page  # its scores with intervals
        assert re.search(r"\[[-0-9.e]+, [-0-9.e]+\]", seed_page)
    # self-contained: nothing loaded from the network; every picture is a data: URI
    markup = re.sub(
        r"<script[^>]*>.*?</script>", "", page, flags=re.S
    )  # Bokeh's code: browser test
    assert not re.search(r'(src|href)="(https?:)?//', markup)
    assert all(src.startswith("data:") for src in re.findall(r'<img[^>]* src="([^"]*)"', markup))
    assert "seeds/seed-0.html" in page  # the map's click target


def test_inpaint_section_reads_the_audit_folder(full_sweep: Path, tmp_path: Path) -> None:
    import shutil

    # the fake writes what `inpaint-audit --out DIR/inpaint` writes, and no analysis/ result
    assert (full_sweep / "inpaint" / "summary.parquet").is_file()
    assert not list((full_sweep / "analysis").glob("inpaint*"))
    _, page = _write(full_sweep, tmp_path / "r")
    block = re.search(r'<section id="inpaint".*?</section>', page, re.S)
    assert block and 'data-present="yes"' in block.group(0)
    for column in ("text_in_mask", "ocr_share", "ocr_flagged", "detector_share"):
        assert column in block.group(0), column
    sweep = tmp_path / "sweep"
    shutil.copytree(full_sweep, sweep)
    (sweep / "inpaint" / "summary.parquet").unlink()
    result, page = _write(sweep, tmp_path / "r2")
    assert result["sections"]["inpaint"] is False
    assert "seedscope inpaint-audit" in page


def test_hostile_prompts_are_text(full_sweep: Path, tmp_path: Path) -> None:
    _, page = _write(full_sweep, tmp_path / "r")
    pages = [page] + [p.read_text() for p in (tmp_path / "r" / "seeds").glob("*.html")]
    for text in pages:
        assert "<script>window.__pwned" not in text
        assert "<img src=x" not in text
        assert 'onerror="window' not in text
    assert html.escape(HOSTILE[0]) in page  # shown, as text
    # Inside the Bokeh document (tooltip data) the prompt is JSON in a non-executed script block
    # and cannot close it.
    for block in re.findall(r"<script[^>]*>(.*?)</script>", page, re.S):
        assert "window.__pwned = 1" not in block or "<script>" not in block


def test_report_reads_only(full_sweep: Path, tmp_path: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in full_sweep.rglob("*") if p.is_file()}
    _write(full_sweep, tmp_path / "r")
    after = {p: p.stat().st_mtime_ns for p in full_sweep.rglob("*") if p.is_file()}
    assert after == before


def test_one_section_missing(hostile_sweep: Path, tmp_path: Path) -> None:
    import shutil

    sweep = tmp_path / "sweep"
    shutil.copytree(hostile_sweep, sweep)
    write_all(sweep, SEEDS, skip=("identify", "map_style", "map_layout"))
    result, page = _write(sweep, tmp_path / "r")
    assert result["sections"]["identify"] is False and result["sections"]["maps"] is False
    assert result["sections"]["ranking"] is True and result["sections"]["swap"] is True
    assert "seedscope identify --sweep DIR" in page


def test_cli(full_sweep: Path, tmp_path: Path, cli) -> None:
    code, out, _ = cli(["report", str(full_sweep), "--out", str(tmp_path / "r"), "--json"])
    assert code == 0
    data = json.loads(out)
    assert data["bytes"] > 0 and all(data["sections"].values())
    code, _, err = cli(["report", str(tmp_path / "nothing")])
    assert code == 2 and "error:" in err
    code, _, err = cli(["report", str(full_sweep), "--thumb", "2"])
    assert code == 2 and "--thumb" in err
