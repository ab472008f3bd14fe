"""Read a prompt file (plain text, CSV or JSONL with optional `id` and `set`) into a table."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from seedscope.errors import SeedscopeError

PROMPT_SCHEMA = pa.schema(
    [("prompt_id", pa.int64()), ("prompt", pa.string()), ("set", pa.string())]
)


def _records(path: Path, text: str) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or "prompt" not in reader.fieldnames:
            raise SeedscopeError(f"the CSV prompt file {str(path)!r} has no 'prompt' column.")
        return list(reader)
    if suffix in (".jsonl", ".ndjson"):
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise SeedscopeError(
                    f"line {number} of {str(path)!r} is not valid JSON ({err.msg})."
                ) from err
            if not isinstance(record, dict) or "prompt" not in record:
                raise SeedscopeError(f"line {number} of {str(path)!r} has no 'prompt' field.")
            records.append(record)
        return records
    return [{"prompt": line.strip()} for line in text.splitlines() if line.strip()]


def _prompt_id(value: Any, path: Path) -> int:
    try:
        pid = int(str(value).strip())
    except ValueError as err:
        raise SeedscopeError(f"prompt id {value!r} in {str(path)!r} is not an integer.") from err
    if not 0 <= pid < 2**63:
        raise SeedscopeError(f"prompt id {pid} in {str(path)!r} is out of range (0 to 2**63-1).")
    return pid


def load_prompts(path: str | Path) -> pa.Table:
    """Load prompts into a table (prompt_id, prompt, set); ids default to the line order."""
    path = Path(path)
    if not path.exists():
        raise SeedscopeError(f"the prompt file {str(path)!r} does not exist.")
    if path.is_dir():
        raise SeedscopeError(f"the prompt file {str(path)!r} is a directory, not a file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or "it is not UTF-8 text"
        raise SeedscopeError(f"cannot read the prompt file {str(path)!r}: {reason}.") from err
    records = _records(path, text)
    if not records:
        raise SeedscopeError(f"the prompt file {str(path)!r} has no prompts.")
    has_ids = [r.get("id") not in (None, "") for r in records]
    if any(has_ids) and not all(has_ids):
        raise SeedscopeError(f"some prompts in {str(path)!r} have an id and some do not.")
    ids = (
        [_prompt_id(r["id"], path) for r in records] if all(has_ids) else list(range(len(records)))
    )
    seen: set[int] = set()
    for pid in ids:
        if pid in seen:
            raise SeedscopeError(f"prompt id {pid} appears twice in {str(path)!r}.")
        seen.add(pid)
    sets = [None if r.get("set") in (None, "") else str(r["set"]) for r in records]
    prompts = [str(r["prompt"]) if r.get("prompt") is not None else "" for r in records]
    return pa.table({"prompt_id": ids, "prompt": prompts, "set": sets}, schema=PROMPT_SCHEMA)


def prompts_hash(table: pa.Table) -> str:
    """sha256 of the prompt set as canonical JSON rows sorted by prompt_id."""
    rows = sorted(zip(*(table.column(c).to_pylist() for c in PROMPT_SCHEMA.names), strict=True))
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()
