"""Fixtures of the ``graph/k8s`` tests that need no real API server: a fake one on
127.0.0.1 without the Seldon CRD (``fake_apiserver.py``), a kubeconfig pointing at it and a
copy of the shipped manifest. The real server's tests are in ``tests/cluster``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.graph.k8s.fake_apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"


def write_kubeconfig(path: Path, server: str, namespace: str = "ctx-ns") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "tester", "user": {"token": "t0ken"}}],
                "contexts": [
                    {
                        "name": "fake",
                        "context": {"cluster": "fake", "user": "tester", "namespace": namespace},
                    }
                ],
                "current-context": "fake",
            }
        )
    )
    return path


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubeconfig(tmp_path: Path, fake: FakeApiServer) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", fake.url)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "sd.yaml"
    shutil.copy(MANIFEST, path)
    return path
