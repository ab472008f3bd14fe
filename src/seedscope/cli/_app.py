"""The root typer application that every command group registers on."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

ORDER = (
    "demo",
    "sweep",
    "score",
    "fid-seeds",
    "rank",
    "map",
    "composition",
    "classify",
    "identify",
    "swap",
    "pick",
    "generate",
    "card",
    "inpaint-audit",
    "report",
    "sql",
    "fid",
    "fid-stats",
    "world",
)
"""Commands in the order a user meets them; `--help` lists any others after these."""


class _OrderedGroup(TyperGroup):
    """A typer group that lists its commands in ORDER, then the rest in registration order."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(super().list_commands(ctx))
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


app = typer.Typer(
    name="seedscope",
    cls=_OrderedGroup,
    help="Find out what the random seed does to a text-to-image diffusion model, and use it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["--help", "-h"]},
)


def _version(value: bool) -> None:
    """Print the installed package's version and exit (the eager `--version` option)."""
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("seedscope")
        except PackageNotFoundError:  # run from a source tree that is not installed
            from seedscope import __version__ as text
        typer.echo(f"seedscope {text}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Find out what the random seed does to a text-to-image diffusion model, and use it."""
