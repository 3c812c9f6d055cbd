"""Our offline API-server checks (graph/render/checks) against the real 1.20 server, object
by object: every rendered object of the shipped manifest and of every fixture that renders,
and one broken variant per rule (tests/cluster/broken_objects.py). Both sides give the set
of refused field paths; every difference is listed in KNOWN_DIFFERENCES with its reason,
and the test fails on any other, or when a listed one no longer occurs."""

from __future__ import annotations

import sys

import pytest
import yaml

from tests.cluster.broken_objects import MUTATIONS
from tests.cluster.kube import Kube
from tests.cluster.verdicts import (
    MANIFEST,
    compare,
    fixture_documents,
    mutated,
    rendered_bodies,
)

C0 = "spec.template.spec.containers[0]"
# case -> (paths only our checks refuse, paths only the server refuses), with the reason.
KNOWN_DIFFERENCES: dict[str, tuple[set[str], set[str]]] = {
    # Notation: both refuse, the server names the map, our checks the key in it.
    "annotation-key-invalid": ({"metadata.annotations[bad key!]"}, {"metadata.annotations"}),
    "label-value-invalid": ({"metadata.labels[app]"}, {"metadata.labels"}),
    "requests-above-limits": ({f"{C0}.resources.requests[cpu]"}, {f"{C0}.resources.requests"}),
    "gpu-requests-not-limits": (
        {f"{C0}.resources.requests[nvidia.com/gpu]"},
        {f"{C0}.resources.requests"},
    ),
    # Both refuse; the server cannot decode the quantity and answers 400 naming no field.
    "quantity-malformed": ({f"{C0}.resources.limits[memory]"}, {"<HTTP 400, no field named>"}),
    # Our schema check is strict (kubernetes-validate); a 1.20 server drops unknown fields
    # without a word (field validation came in 1.25, strict by default in kubectl 1.27).
    "container-unknown-field": ({C0}, set()),
    # Our checks have no schema for Istio's kinds: only the server (with Istio's CRDs) refuses.
    "virtualservice-weight-not-integer": (set(), {"spec.http.route.weight"}),
    "destinationrule-subsets-not-a-list": (set(), {"spec.subsets"}),
}


@pytest.fixture(scope="module")
def shipped(ingress: Kube) -> dict[str, dict]:
    """The shipped manifest's rendered objects by ``Kind/name``, in a fresh namespace."""
    objects = rendered_bodies(yaml.safe_load(MANIFEST.read_text()), ingress.create_namespace())
    assert objects is not None
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def test_every_rendered_fixture_object_gets_the_same_verdict_on_both_sides(
    ingress: Kube, namespace: str
) -> None:
    compared, differences, unrendered = 0, [], []
    for label, doc in fixture_documents():
        for option in ("istio", "ambassador"):
            bodies = rendered_bodies(doc, namespace, option)
            if bodies is None:
                unrendered.append(label)
                break
            count, found = compare(ingress, f"{label} ({option})", bodies, namespace)
            compared, differences = compared + count, differences + found
    print(f"{compared} objects compared; not rendered: {sorted(set(unrendered))}", file=sys.stderr)
    assert compared > 100
    # The one known difference, from the test server's build and not from Kubernetes:
    # gRPC Mappings (``rewrite: ""``), see ``empty_rewrite`` in test_rendered.py.
    empty_rewrite = [d for d in differences if d.server_only == {"spec.rewrite"}]
    assert empty_rewrite, "the empty rewrite of gRPC Mappings is now accepted"
    assert all(d.ref.endswith("-grpc") and not d.offline_only for d in empty_rewrite)
    print(f"{len(empty_rewrite)} gRPC Mappings refused at spec.rewrite", file=sys.stderr)
    assert [str(d) for d in differences if d not in empty_rewrite] == []


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_a_broken_object_gets_the_same_verdict_on_both_sides(
    ingress: Kube, shipped: dict[str, dict], case: str
) -> None:
    target, mutation = MUTATIONS[case]
    body = mutated(shipped[target], mutation)
    namespace = body["metadata"]["namespace"]
    _, differences = compare(ingress, case, [body], namespace)
    found = {d.case: (set(d.offline_only), set(d.server_only)) for d in differences}
    assert found.get(case) == KNOWN_DIFFERENCES.get(case), [str(d) for d in differences]
