"""`seedscope world ...`: the bundled miniature world and its model."""

import typer

from seedscope.cli._app import app

world_app = typer.Typer(help="The bundled miniature world: prompts, scenes, training, evaluation.", no_args_is_help=True)
app.add_typer(world_app, name="world")
