"""Node-type semantics: which Seldon methods a graph node calls, as Seldon's executor decides.

A node's ``type``, its ``methods`` list and its ``implementation`` together say what the
executor does with it: 1) input — a MODEL's predict, or transform-input for a TRANSFORMER
or a node listing TRANSFORM_INPUT (preferred when both apply); 2) children — routed by
the node (ROUTER / ROUTE) or by the built-in RANDOM_ABTEST, else sent to every child,
then aggregated (COMBINER / AGGREGATE), else the first child's reply goes on; 3) output —
transform-output for an OUTPUT_TRANSFORMER or TRANSFORM_OUTPUT. Feedback goes to MODEL
and ROUTER nodes and to those listing SEND_FEEDBACK.

:func:`role_of` works on raw manifest values (validation sees them before any typing);
``NodeSpec.role`` gives the same for a typed node. The spec, the executor, validation and
the runner all ask here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NODE_TYPES = ("UNKNOWN_TYPE", "ROUTER", "COMBINER", "MODEL", "TRANSFORMER", "OUTPUT_TRANSFORMER")
METHODS = ("TRANSFORM_INPUT", "TRANSFORM_OUTPUT", "ROUTE", "AGGREGATE", "SEND_FEEDBACK")
UNKNOWN_IMPLEMENTATION = "UNKNOWN_IMPLEMENTATION"
RANDOM_ABTEST = "RANDOM_ABTEST"
# Implementations Seldon's executor runs itself, without a container of their own.
BUILTIN_IMPLEMENTATIONS = ("SIMPLE_MODEL", "SIMPLE_ROUTER", RANDOM_ABTEST, "AVERAGE_COMBINER")
_ROUTING_IMPLEMENTATIONS = ("SIMPLE_ROUTER", RANDOM_ABTEST)


@dataclass(frozen=True)
class Role:
    """What the executor does with one node.

    ``input_method`` is ``"predict"``, ``"transform_input"`` or ``""`` (no input call);
    ``routes``/``merges`` say the node picks among or combines its children (by a call or
    a built-in), ``calls_*`` which of the node's own Seldon methods are called.
    """

    input_method: str
    calls_route: bool
    calls_aggregate: bool
    calls_output: bool
    calls_feedback: bool
    routes: bool
    merges: bool

    @property
    def needs_client(self) -> bool:
        """Whether the node is ever called (a pure RANDOM_ABTEST or plain fan-out is not)."""
        return bool(self.input_method) or any(
            (self.calls_route, self.calls_aggregate, self.calls_output, self.calls_feedback)
        )

    @property
    def needs_children(self) -> bool:
        """A router or combiner without children cannot work."""
        return self.routes or self.merges


def _input_method(ntype: Any, methods: tuple[Any, ...]) -> str:
    if ntype == "TRANSFORMER" or "TRANSFORM_INPUT" in methods:
        return "transform_input"
    return "predict" if ntype == "MODEL" else ""


def role_of(ntype: Any, methods: Iterable[Any] = (), implementation: Any = "") -> Role:
    """The role of a node with this ``type``, ``methods`` and ``implementation``."""
    listed = tuple(methods)
    # the executor's order (predictor_process.go): a remote /route before the built-in
    calls_route = ntype == "ROUTER" or "ROUTE" in listed
    calls_aggregate = ntype == "COMBINER" or "AGGREGATE" in listed
    return Role(
        input_method=_input_method(ntype, listed),
        calls_route=calls_route,
        calls_aggregate=calls_aggregate,
        calls_output=ntype == "OUTPUT_TRANSFORMER" or "TRANSFORM_OUTPUT" in listed,
        calls_feedback=ntype in ("MODEL", "ROUTER") or "SEND_FEEDBACK" in listed,
        routes=ntype == "ROUTER" or "ROUTE" in listed or implementation in _ROUTING_IMPLEMENTATIONS,
        merges=calls_aggregate or implementation == "AVERAGE_COMBINER",
    )


def default_type(ntype: Any, methods: Iterable[Any] = (), implementation: Any = "") -> str:
    """The node ``type`` after Seldon's operator defaulting
    (``operator/apis/machinelearning.seldon.io/v1/defaults.go``, ``prepack.go``): MODEL when
    type, methods and implementation are all absent, MODEL for a prepackaged server
    (whatever the type said), otherwise the type given (``UNKNOWN_TYPE`` when none)."""
    if implementation and implementation not in (*BUILTIN_IMPLEMENTATIONS, UNKNOWN_IMPLEMENTATION):
        return "MODEL"
    if not ntype and not tuple(methods) and not implementation:
        return "MODEL"
    return str(ntype or "UNKNOWN_TYPE")


def is_builtin(implementation: Any) -> bool:
    """Whether the executor runs this implementation itself (no container)."""
    return implementation in BUILTIN_IMPLEMENTATIONS
