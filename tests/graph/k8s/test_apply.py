"""``seldon-graph apply`` through the real ``kubernetes`` client against a fake API server
on 127.0.0.1 without the Seldon CRD (tests/graph/k8s/fake_apiserver.py), for the cases the
real server in tests/cluster does not cover: no Seldon CRD, no server at all, and proof
that an invalid manifest sends no request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graph.runner.ports import free_port
from tests.graph.k8s.conftest import MANIFEST, write_kubeconfig
from tests.graph.k8s.fake_apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[3]
CLI = str(Path(sys.executable).parent / "seldon-graph")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, check=False)


def test_missing_crd_is_reported(fake: FakeApiServer, kubeconfig: Path, manifest: Path) -> None:
    done = cli("apply", str(manifest), "--kubeconfig", str(kubeconfig))
    assert done.returncode == 1
    assert "CRD" in done.stderr and "not installed" in done.stderr
    assert ("GET", "/apis/machinelearning.seldon.io/v1") in fake.log  # it asked discovery


def test_no_cluster_reachable_fails_fast(tmp_path: Path, manifest: Path) -> None:
    port = free_port()  # nothing listens there
    config = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    done = cli("apply", str(manifest), "--kubeconfig", str(config))
    assert done.returncode == 1
    assert "no Kubernetes API reachable at http://127.0.0.1" in done.stderr


def test_invalid_manifest_never_reaches_the_cluster(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    manifest.write_text(MANIFEST.read_text().replace("traffic: 10", "traffic: 11"))
    done = cli("apply", str(manifest), "--kubeconfig", str(kubeconfig))
    assert done.returncode == 1
    assert "must sum to 100" in done.stderr
    assert fake.log == []
