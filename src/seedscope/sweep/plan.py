"""The sweep plan: every setting that decides the images, saved as DIR/sweep.json."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from seedscope.errors import SeedscopeError
from seedscope.seeds import format_seeds, parse_seeds
from seedscope.store import PLAN_FILE, PROMPTS_FILE

# Fields that may grow between runs (extend) or that only describe the run.
GROWING = ("prompts_hash", "n_prompts", "seeds", "n_seeds")
INFORMATIONAL = ("model", "model_path", "version", "library_versions")


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep generates: model, sampler settings, prompt set and seed set."""

    model: str
    model_kind: str
    model_path: str | None
    model_hash: str | None
    pipeline_class: str
    scheduler: str
    scheduler_config: dict[str, Any]
    steps: int
    guidance: float
    height: int
    width: int
    dtype: str
    generator_device: str
    negative_prompt: str | None
    prompts_hash: str
    n_prompts: int
    seeds: str
    n_seeds: int
    version: str
    library_versions: dict[str, str] = field(default_factory=dict)

    def seed_list(self) -> list[int]:
        """The plan's seeds, in order."""
        return parse_seeds(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the content of sweep.json)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepPlan:
        """Rebuild a plan from sweep.json content (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def settings(self) -> dict[str, Any]:
        """The fields that must match for two runs to write into one directory."""
        data = self.to_dict()
        return {k: v for k, v in data.items() if k not in GROWING + INFORMATIONAL}


def read_plan(folder: Path) -> SweepPlan | None:
    """The plan saved in `folder`, or None when there is none."""
    path = folder / PLAN_FILE
    if not path.is_file():
        return None
    try:
        return SweepPlan.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as err:
        raise SeedscopeError(
            f"{str(path)!r} is damaged; move it away to start a new sweep."
        ) from err


def read_prompt_table(folder: Path) -> pa.Table | None:
    """The prompts table saved in `folder`, or None."""
    path = folder / PROMPTS_FILE
    return pq.read_table(path) if path.is_file() else None


def compare(
    old: SweepPlan, new: SweepPlan, old_prompts: pa.Table | None, new_prompts: pa.Table
) -> list[str]:
    """What `new` adds to `old`: [], ['prompts'], ['seeds'] or both; refuse anything else."""
    old_s, new_s = old.settings(), new.settings()
    diff = sorted(k for k in set(old_s) | set(new_s) if old_s.get(k) != new_s.get(k))
    if diff:
        shown = ", ".join(f"{k} {old_s.get(k)!r} -> {new_s.get(k)!r}" for k in diff[:3])
        raise SeedscopeError(
            f"the output directory holds a sweep with a different plan ({shown}); "
            "use another --out, or change only prompts or seeds to extend it."
        )
    added: list[str] = []
    if old.prompts_hash != new.prompts_hash:
        old_rows = _prompt_rows(old_prompts) if old_prompts is not None else {}
        new_rows = _prompt_rows(new_prompts)
        changed = [pid for pid, row in old_rows.items() if new_rows.get(pid) != row]
        if changed or not old_rows:
            raise SeedscopeError(
                f"the prompt file changes or drops prompt id {changed[0] if changed else '?'} "
                "of the existing sweep; a sweep can only be extended by new prompts."
            )
        added.append("prompts")
    if old.seeds != new.seeds:
        new_seeds = set(new.seed_list())
        missing = [s for s in old.seed_list() if s not in new_seeds]
        if missing:
            raise SeedscopeError(
                f"the seed set drops seed {missing[0]} of the existing sweep; "
                "a sweep can only be extended by new seeds."
            )
        added.append("seeds")
    return added


def _prompt_rows(table: pa.Table) -> dict[int, tuple[Any, ...]]:
    ids = table.column("prompt_id").to_pylist()
    prompts = table.column("prompt").to_pylist()
    sets = table.column("set").to_pylist() if "set" in table.column_names else [None] * len(ids)
    return {pid: (p, s) for pid, p, s in zip(ids, prompts, sets, strict=True)}


def seeds_field(seeds: list[int]) -> str:
    """The compact seed spec stored in the plan."""
    return format_seeds(seeds)
