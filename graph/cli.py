"""``seldon-graph``: a thin CLI; each subcommand parses arguments, builds settings and
calls one library function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from graph.commands.apply_cmd import register as register_apply
from graph.commands.canary_cmd import register as register_canary
from graph.commands.render_cmd import register as register_render
from graph.commands.serve_cmd import register as register_serve
from graph.commands.validate_cmd import register as register_validate

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seldon-graph",
        description="Validate, serve locally and roll out a Seldon Core v1 SeldonDeployment.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Command | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    return handler(args)


# Each subcommand module exposes ``register(subparsers)`` which adds its parser and sets
# ``handler``; they are listed here as they land.
_REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = [
    register_validate,
    register_serve,
    register_canary,
    register_apply,
    register_render,
]


if __name__ == "__main__":
    sys.exit(main())
