"""``seldon-graph apply`` and the traffic patch, through the real ``kubernetes`` client
against a fake API server on 127.0.0.1 (tests/graph/k8s/fake_apiserver.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.k8s.apply import Cluster, Conflict, patch_traffic
from graph.k8s.client import ClusterSettings, connect
from tests.graph.k8s.fake_apiserver import GROUP_VERSION, FakeApiServer, FakeState

ROOT = Path(__file__).resolve().parents[3]
CLI = str(Path(sys.executable).parent / "seldon-graph")
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
OBJ_PATH = f"{GROUP_VERSION}/namespaces/seldon/seldondeployments/digits"


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


def live_doc() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, check=False)


def requests_of(state: FakeState) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in state.log]


def test_apply_creates_a_missing_deployment(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    done = cli("apply", str(manifest), "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0, done.stderr
    assert "seldon/digits created" in done.stdout
    assert requests_of(fake.state) == [
        ("GET", OBJ_PATH),
        ("GET", GROUP_VERSION),
        ("POST", f"{GROUP_VERSION}/namespaces/seldon/seldondeployments"),
    ]
    stored = fake.state.objects[("seldon", "digits")]
    assert stored["spec"] == live_doc()["spec"]


def test_apply_replaces_with_the_live_resource_version(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    fake.state.put_object("seldon", live_doc())
    rv = fake.state.objects[("seldon", "digits")]["metadata"]["resourceVersion"]
    done = cli("apply", str(manifest), "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0, done.stderr
    put = fake.state.log[-1]
    assert (put.method, put.path) == ("PUT", OBJ_PATH)
    assert put.body["metadata"]["resourceVersion"] == rv


def test_dry_run_sends_dry_run_all_and_changes_nothing(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    done = cli("apply", str(manifest), "--dry-run", "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0, done.stderr
    assert fake.state.log[-1].query == {"dryRun": ["All"]}
    assert fake.state.objects == {}
    assert "dry run" in done.stdout


def test_traffic_only_sends_a_guarded_json_patch_of_traffic_only(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    fake.state.put_object("seldon", live_doc())
    rv = fake.state.objects[("seldon", "digits")]["metadata"]["resourceVersion"]
    done = cli(
        "canary",
        "set",
        str(manifest),
        "main=70",
        "canary=30",
        "--apply",
        "--kubeconfig",
        str(kubeconfig),
    )
    assert done.returncode == 0, done.stderr
    assert requests_of(fake.state) == [("GET", OBJ_PATH), ("PATCH", OBJ_PATH)]
    patch = fake.state.log[-1]
    assert patch.content_type == "application/json-patch+json"
    assert patch.query == {}
    assert patch.body == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "test", "path": "/spec/predictors/0/name", "value": "main"},
        {"op": "replace", "path": "/spec/predictors/0/traffic", "value": 70},
        {"op": "test", "path": "/spec/predictors/1/name", "value": "canary"},
        {"op": "replace", "path": "/spec/predictors/1/traffic", "value": 30},
    ]
    stored = fake.state.objects[("seldon", "digits")]
    assert [p["traffic"] for p in stored["spec"]["predictors"]] == [70, 30]
    expected = live_doc()
    expected["spec"]["predictors"][0]["traffic"], expected["spec"]["predictors"][1]["traffic"] = (
        70,
        30,
    )
    assert stored["spec"] == expected["spec"]


def test_a_concurrent_change_is_detected_and_the_patch_retried(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    fake.state.put_object("seldon", live_doc())
    fake.state.before_patch = lambda state: state.bump("seldon", "digits")
    done = cli("apply", str(manifest), "--traffic-only", "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0, done.stderr  # file says 90/10, live too: unchanged
    assert "unchanged" in done.stdout
    # Now a real change: the first PATCH meets a bumped object (422 test failed) and is redone.
    fake.state.log.clear()
    fake.state.before_patch = lambda state: state.bump("seldon", "digits")
    connection = connect(ClusterSettings(kubeconfig=str(kubeconfig)))
    doc = live_doc()
    doc["spec"]["predictors"][0]["traffic"], doc["spec"]["predictors"][1]["traffic"] = 50, 50
    sleeps: list[float] = []
    result = patch_traffic(doc, Cluster(connection.api), "seldon", sleep=sleeps.append)
    assert result.action == "patched" and result.tries == 2
    assert requests_of(fake.state) == [("GET", OBJ_PATH), ("PATCH", OBJ_PATH)] * 2
    first, second = fake.state.log[1].body[0]["value"], fake.state.log[3].body[0]["value"]
    assert int(second) > int(first)
    assert sleeps == [0.1]
    assert [
        p["traffic"] for p in fake.state.objects[("seldon", "digits")]["spec"]["predictors"]
    ] == [50, 50]


def test_conflicts_on_every_try_give_up_after_the_limit(
    fake: FakeApiServer, kubeconfig: Path
) -> None:
    fake.state.put_object("seldon", live_doc())

    def always_bump(state: FakeState) -> None:
        state.bump("seldon", "digits")
        state.before_patch = always_bump

    fake.state.before_patch = always_bump
    doc = live_doc()
    doc["spec"]["predictors"][0]["traffic"], doc["spec"]["predictors"][1]["traffic"] = 80, 20
    connection = connect(ClusterSettings(kubeconfig=str(kubeconfig)))
    with pytest.raises(Conflict, match="3 tries"):
        patch_traffic(doc, Cluster(connection.api), "seldon", tries=3, sleep=lambda s: None)
    assert [r.method for r in fake.state.log].count("PATCH") == 3


def test_traffic_only_on_a_missing_deployment_suggests_a_full_apply(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    done = cli("apply", str(manifest), "--traffic-only", "--kubeconfig", str(kubeconfig))
    assert done.returncode == 1
    assert "seldon/digits not found" in done.stderr and "without --traffic-only" in done.stderr


def test_missing_crd_is_reported(fake: FakeApiServer, kubeconfig: Path, manifest: Path) -> None:
    fake.state.crd_installed = False
    done = cli("apply", str(manifest), "--kubeconfig", str(kubeconfig))
    assert done.returncode == 1
    assert "CRD" in done.stderr and "not installed" in done.stderr


def test_rbac_forbidden_names_verb_and_resource(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    fake.state.put_object("seldon", live_doc())
    fake.state.forbidden = {"patch"}
    done = cli("canary", "rollback", str(manifest), "--apply", "--kubeconfig", str(kubeconfig))
    assert done.returncode == 1
    assert "forbidden: you may not patch seldondeployments.machinelearning.seldon.io" in done.stderr
    assert manifest.read_bytes() == MANIFEST.read_bytes()  # nothing written when apply fails


def test_namespace_flag_wins_over_the_manifest(
    fake: FakeApiServer, kubeconfig: Path, manifest: Path
) -> None:
    done = cli("apply", str(manifest), "-n", "other", "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0, done.stderr
    assert ("other", "digits") in fake.state.objects


def test_context_namespace_used_when_the_manifest_has_none(
    fake: FakeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    doc = live_doc()
    del doc["metadata"]["namespace"]
    path = tmp_path / "nons.yaml"
    path.write_text(yaml.safe_dump(doc))
    done = cli("apply", str(path), "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0, done.stderr
    assert ("ctx-ns", "digits") in fake.state.objects


def test_no_cluster_reachable_fails_fast(tmp_path: Path, manifest: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
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
    assert fake.state.log == []
