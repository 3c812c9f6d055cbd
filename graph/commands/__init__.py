"""``seldon-graph`` subcommands: each module exposes ``register(subparsers)``, which adds its
parser and sets ``handler`` to a function that builds settings and calls one library
function (see ``graph.cli._REGISTRARS``)."""
