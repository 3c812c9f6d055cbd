"""A real kube-apiserver (v1.20.2, with etcd) for the whole session, and helpers.

The binary is built by ``scripts/kube_apiserver`` when it is not cached yet (minutes, once
per machine; ``make cluster`` does it ahead). The server is started once per session and
always stopped, with the SeldonDeployment CRD made from the schema ``seldon-graph
validate`` uses.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.validation.schema import find_schema
from scripts.kube_apiserver import LocalCluster, binary_path, start
from tests.charts.conftest import k8s_tools
from tests.cluster.kube import Kube

__all__ = ["apiserver", "ingress", "k8s_tools", "kube", "namespace"]

HERE = Path(__file__).resolve().parent
# Istio 1.17.8 (VirtualService, DestinationRule) and Ambassador 1.14.4 (Mapping) CRDs.
INGRESS_CRDS = [HERE / "crds" / "istio-networking.yaml", HERE / "crds" / "ambassador-mapping.yaml"]
# Building the binary takes 3-5 minutes on 2 cores: more than the suite's per-test timeout.
BUILD_TIMEOUT_S = 1800


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here starts real processes (``slow``). When the binary is not cached yet
    (``make cluster`` not run), the first one builds it: let them run long enough."""
    build_first = not binary_path().is_file()
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.slow)
            if build_first:
                item.add_marker(pytest.mark.timeout(BUILD_TIMEOUT_S))


@pytest.fixture(scope="session")
def apiserver() -> Iterator[LocalCluster]:
    schema = find_schema()
    if schema is None:
        pytest.skip("the SeldonDeployment CRD schema is not beside the repository")
    started = time.monotonic()
    cluster = start(schema=schema, log=lambda line: print(line, file=sys.stderr))
    print(f"kube-apiserver ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kube(apiserver: LocalCluster, k8s_tools) -> Kube:
    return Kube(apiserver, k8s_tools.kubectl)


@pytest.fixture
def namespace(kube: Kube) -> str:
    """A fresh namespace for one test."""
    return kube.create_namespace()


@pytest.fixture(scope="session")
def ingress(kube: Kube) -> Kube:
    """The session's server with the ingress CRDs the operator's objects need: Istio's
    VirtualService and DestinationRule, Ambassador's Mapping (tests/cluster/crds/)."""
    for path in INGRESS_CRDS:
        kube.install_crds(path)
    return kube
