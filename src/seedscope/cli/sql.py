"""`seedscope sql`: duckdb over a sweep's tables."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from seedscope.cli._app import app


def _finite(value: Any) -> Any:
    """NaN and infinities as None (JSON null): JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


@app.command()
def sql(
    sweep: Annotated[Path, typer.Argument(help="Sweep directory.")],
    query: Annotated[
        str | None, typer.Argument(help="SQL to run; leave out to list the views.")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print rows as a JSON list.")] = False,
    csv_: Annotated[bool, typer.Option("--csv", help="Print rows as CSV.")] = False,
    with_png: Annotated[
        bool, typer.Option(help="Keep the PNG bytes in the `images` view.")
    ] = False,
) -> None:
    """Query a sweep with duckdb: views prompts, images, one per scorer, feature set and analysis.

    Example: seedscope sql runs/w "select seed, avg(sky::int) from sky group by seed order by 2 desc"
    """
    from seedscope.errors import SeedscopeError
    from seedscope.sql import catalog
    from seedscope.sql import query as run_query
    from seedscope.tables import open_sweep

    if json_ and csv_:
        raise SeedscopeError("choose one of --json and --csv.")
    if query is None:
        made, refused = catalog(open_sweep(sweep), with_png)
        for name, why in refused.items():
            typer.echo(f"warning: no view {name}: {why}.", err=True)
        names = list(made)
        typer.echo(json.dumps(names) if json_ else "views: " + ", ".join(names))
        return
    columns, rows = run_query(sweep, query, with_png)
    if json_:
        records = [{c: _finite(v) for c, v in zip(columns, r, strict=True)} for r in rows]
        typer.echo(json.dumps(records, default=str, allow_nan=False))
    elif csv_:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns)
        for r in rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        Console().print(table)
