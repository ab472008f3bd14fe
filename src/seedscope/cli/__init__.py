"""The `seedscope` command: thin typer commands over the library (one file per command group)."""

from __future__ import annotations

import sys

# Command modules register themselves on `app` when imported.
from seedscope.cli import fingerprint as _fingerprint  # noqa: F401
from seedscope.cli import score as _score  # noqa: F401
from seedscope.cli import sweep as _sweep  # noqa: F401
from seedscope.cli import world as _world  # noqa: F401
from seedscope.cli._app import app
from seedscope.errors import SeedscopeError

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI; a SeedscopeError becomes one sentence on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except SeedscopeError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print(
            "interrupted; finished shards are kept, run the same command again to resume.",
            file=sys.stderr,
        )
        sys.exit(130)
    except Exception as err:  # click usage errors
        import click

        if isinstance(err, click.exceptions.Abort):
            sys.exit(1)
        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(2)
        raise
