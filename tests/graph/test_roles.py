"""Node roles (graph.roles): what Seldon's executor calls for a node's type, methods and
implementation, as the spec, executor, validation and runner read it."""

from __future__ import annotations

import pytest

from graph.roles import BUILTIN_IMPLEMENTATIONS, Role, is_builtin, role_of
from graph.spec import load_deployment


def calls(role: Role) -> tuple[str, ...]:
    """The role as the list of Seldon methods called, in executor order."""
    flags = (
        ("route", role.calls_route),
        ("aggregate", role.calls_aggregate),
        ("transform_output", role.calls_output),
        ("send_feedback", role.calls_feedback),
    )
    return (role.input_method,) * bool(role.input_method) + tuple(m for m, on in flags if on)


@pytest.mark.parametrize(
    ("ntype", "methods", "implementation", "expected"),
    [
        ("MODEL", (), "", ("predict", "send_feedback")),
        ("TRANSFORMER", (), "", ("transform_input",)),
        ("OUTPUT_TRANSFORMER", (), "", ("transform_output",)),
        ("ROUTER", (), "", ("route", "send_feedback")),
        ("COMBINER", (), "", ("aggregate",)),
        ("UNKNOWN_TYPE", (), "", ()),
        # transform-input wins over predict when a MODEL also lists it
        ("MODEL", ("TRANSFORM_INPUT",), "", ("transform_input", "send_feedback")),
        ("UNKNOWN_TYPE", ("ROUTE", "TRANSFORM_OUTPUT"), "", ("route", "transform_output")),
        ("UNKNOWN_TYPE", ("AGGREGATE", "SEND_FEEDBACK"), "", ("aggregate", "send_feedback")),
        # type ROUTER is checked before the built-in RANDOM_ABTEST (predictor_process.go):
        # the executor calls /route (and feedback) on it; it used to skip both
        ("ROUTER", (), "RANDOM_ABTEST", ("route", "send_feedback")),
        ("UNKNOWN_TYPE", (), "RANDOM_ABTEST", ()),
    ],
)
def test_each_type_and_methods_list_calls_what_seldons_executor_calls(
    ntype: str, methods: tuple[str, ...], implementation: str, expected: tuple[str, ...]
) -> None:
    role = role_of(ntype, methods, implementation)
    assert calls(role) == expected
    assert role.needs_client == bool(expected)


@pytest.mark.parametrize(
    ("ntype", "methods", "implementation", "routes", "merges"),
    [
        ("ROUTER", (), "", True, False),
        ("UNKNOWN_TYPE", ("ROUTE",), "", True, False),
        ("UNKNOWN_TYPE", (), "SIMPLE_ROUTER", True, False),
        ("UNKNOWN_TYPE", (), "RANDOM_ABTEST", True, False),
        ("COMBINER", (), "", False, True),
        ("UNKNOWN_TYPE", ("AGGREGATE",), "", False, True),
        ("UNKNOWN_TYPE", (), "AVERAGE_COMBINER", False, True),
        ("MODEL", (), "", False, False),
    ],
)
def test_routers_and_combiners_need_children(
    ntype: str, methods: tuple[str, ...], implementation: str, routes: bool, merges: bool
) -> None:
    role = role_of(ntype, methods, implementation)
    assert (role.routes, role.merges, role.needs_children) == (routes, merges, routes or merges)


def test_built_in_implementations_run_without_a_container() -> None:
    assert all(is_builtin(impl) for impl in BUILTIN_IMPLEMENTATIONS)
    assert not is_builtin("SKLEARN_SERVER") and not is_builtin("UNKNOWN_IMPLEMENTATION")


def test_a_typed_node_has_the_role_of_its_manifest_values() -> None:
    graph = {"name": "t", "type": "TRANSFORMER", "methods": ["TRANSFORM_OUTPUT"]}
    doc = {"metadata": {"name": "d"}, "spec": {"predictors": [{"name": "p", "graph": graph}]}}
    node = load_deployment(doc).predictors[0].graph
    assert node.role == role_of("TRANSFORMER", ["TRANSFORM_OUTPUT"], "")
    assert calls(node.role) == ("transform_input", "transform_output")
