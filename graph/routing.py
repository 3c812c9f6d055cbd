"""Route values and the built-in ``RANDOM_ABTEST`` router of Seldon's executor.

A route is the index of the child to call, ``ROUTE_ALL`` (-1: every child at once) or
``ROUTE_NONE`` (-2: skip the children, the message goes on unchanged).
``RANDOM_ABTEST`` picks child 0 with probability ``ratioA`` (default 0.5), else child 1.
"""

from __future__ import annotations

import random

from graph.spec import NodeSpec
from model.errors import ConfigError, InternalError

ROUTE_ALL = -1
ROUTE_NONE = -2


def abtest_ratio(node: NodeSpec) -> float:
    """The ``ratioA`` of a ``RANDOM_ABTEST`` node, checked (0..1): read only when it is the
    node's sole parameter, else 0.5, as ``executor/predictor/components.go`` does."""
    if len(node.parameters) != 1 or node.parameters[0].name != "ratioA":
        return 0.5
    parameter = node.parameters[0]
    try:
        ratio = float(parameter.value)
    except ValueError as exc:
        raise ConfigError(
            f"{node.path or node.name}: ratioA must be a number, got {parameter.value!r}"
        ) from exc
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"{node.path or node.name}: ratioA must be within 0..1")
    return ratio


class RandomABTest:
    """Seldon's ``RANDOM_ABTEST``: child 0 with probability ``ratio_a``, otherwise child 1."""

    def __init__(self, node: NodeSpec, rng: random.Random) -> None:
        if len(node.children) != 2:
            raise ConfigError(
                f"{node.path or node.name}: RANDOM_ABTEST needs exactly 2 children, "
                f"has {len(node.children)}"
            )
        self.ratio_a = abtest_ratio(node)
        self._rng = rng

    def route(self) -> int:
        return 0 if self._rng.random() < self.ratio_a else 1


def check_route(node: NodeSpec, route: int) -> int:
    """``route`` when valid for ``node``'s children, else an error naming the node."""
    if route in (ROUTE_ALL, ROUTE_NONE) or 0 <= route < len(node.children):
        return route
    raise InternalError(
        f"node {node.name} routed to child {route}, but it has {len(node.children)} "
        "children (valid: -2, -1 or 0.."
        f"{len(node.children) - 1})"
    )
