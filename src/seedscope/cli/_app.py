"""The root typer application that every command group registers on."""

import typer

app = typer.Typer(
    name="seedscope",
    help="Find out what the random seed does to a text-to-image diffusion model, and use it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
