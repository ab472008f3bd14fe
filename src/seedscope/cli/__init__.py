"""The `seedscope` command: thin typer commands over the library (one file per command group)."""

from __future__ import annotations

import sys
from types import ModuleType

import typer

# Command modules register themselves on `app` when imported; `--help` orders them (_app.ORDER).
from seedscope.cli import analysis as _analysis  # noqa: F401
from seedscope.cli import classify as _classify  # noqa: F401
from seedscope.cli import demo as _demo  # noqa: F401
from seedscope.cli import fingerprint as _fingerprint  # noqa: F401
from seedscope.cli import inpaint as _inpaint  # noqa: F401
from seedscope.cli import pick as _pick  # noqa: F401
from seedscope.cli import report as _report  # noqa: F401
from seedscope.cli import score as _score  # noqa: F401
from seedscope.cli import sql as _sql  # noqa: F401
from seedscope.cli import sweep as _sweep  # noqa: F401
from seedscope.cli import world as _world  # noqa: F401
from seedscope.cli._app import app
from seedscope.errors import SeedscopeError

__all__ = ["app", "main"]

_INTERRUPTED = "interrupted; finished shards are kept, run the same command again to resume."


def typer_click() -> ModuleType:
    """The click that typer runs on: its vendored `typer._click` (typer >= 0.26) or `click`."""
    import typer.main

    vendored = getattr(typer.main, "_click", None)
    if isinstance(vendored, ModuleType):
        return vendored
    import click

    return click


def main() -> None:
    """Run the CLI: bad input or usage is one message and exit 2, an interrupt exit 130."""
    click = typer_click()
    try:
        code = app(standalone_mode=False)
    except SeedscopeError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.ClickException as err:  # usage errors: click's short usage message
        # `seedscope` (or a group) with no arguments: the help, on stdout, is not an error.
        if type(err).__name__ == "NoArgsIsHelpError":  # click >= 8.2; older click exits 0 itself
            print(err.format_message())
            sys.exit(0)
        err.show()
        sys.exit(2)
    except KeyboardInterrupt:
        print(_INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    except typer.Abort as err:  # older typer turns Ctrl-C into Abort
        if isinstance(err.__context__, KeyboardInterrupt):
            print(_INTERRUPTED, file=sys.stderr)
            sys.exit(130)
        print("aborted.", file=sys.stderr)
        sys.exit(1)
    # Without standalone mode, typer returns the code of an Exit (newer typer: Ctrl-C is Exit(130)).
    if isinstance(code, int) and not isinstance(code, bool) and code:
        if code == 130:
            print(_INTERRUPTED, file=sys.stderr)
        sys.exit(code)
