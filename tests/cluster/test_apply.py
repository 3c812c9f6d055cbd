"""``seldon-graph apply`` and ``canary set --apply`` (the commands users run, as
subprocesses) against the real API server."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.kube import MANIFEST, SDEP_API, SDEP_PATH, Kube, seldon_graph, traffic

NAME = "digits"
# What the server itself changes on any write.
SERVER_OWNED = ("resourceVersion", "generation", "managedFields")


def without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for key in SERVER_OWNED:
        out["metadata"].pop(key, None)
    return out


def with_traffic(obj: dict[str, Any], weights: list[int]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    for pred, weight in zip(out["spec"]["predictors"], weights, strict=True):
        pred["traffic"] = weight
    return out


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "sd.yaml"
    shutil.copy(MANIFEST, path)
    return path


@pytest.fixture
def live(kube: Kube, namespace: str, manifest: Path) -> dict[str, Any]:
    """The project's deployment created in the test's namespace by ``seldon-graph apply``."""
    done = seldon_graph("apply", str(manifest), "-n", namespace, kubeconfig=kube.kubeconfig)
    assert done.returncode == 0, done.stderr
    assert f"seldondeployment {namespace}/{NAME} created" in done.stdout
    return kube.get_sdep(NAME, namespace)


def edit_by_someone_else(kube: Kube, namespace: str) -> dict[str, Any]:
    """Another writer labels the object and changes a predictor's replicas."""
    status, body = kube.cluster.request(
        "PATCH",
        f"{SDEP_PATH.format(api=SDEP_API, ns=namespace)}/{NAME}",
        [
            {"op": "add", "path": "/metadata/labels", "value": {"edited-by": "someone-else"}},
            {"op": "replace", "path": "/spec/predictors/0/replicas", "value": 3},
        ],
        content_type="application/json-patch+json",
    )
    assert status == 200, body
    return dict(body)


def test_apply_creates_then_replaces_and_a_dry_run_persists_nothing(
    kube: Kube, namespace: str, manifest: Path, live: dict[str, Any]
) -> None:
    assert live["spec"] == yaml.safe_load(MANIFEST.read_text())["spec"]
    again = seldon_graph("apply", str(manifest), "-n", namespace, kubeconfig=kube.kubeconfig)
    assert again.returncode == 0, again.stderr
    assert f"{namespace}/{NAME} replaced" in again.stdout
    other = kube.create_namespace()
    dry = seldon_graph("apply", str(manifest), "-n", other, "--dry-run", kubeconfig=kube.kubeconfig)
    assert dry.returncode == 0, dry.stderr
    assert "created" in dry.stdout and "server dry run: nothing persisted" in dry.stdout
    missing = kube.kubectl("get", "seldondeployment", NAME, "-n", other)
    assert "NotFound" in missing.stderr


def test_canary_set_apply_changes_only_the_traffic_fields(
    kube: Kube, namespace: str, manifest: Path, live: dict[str, Any]
) -> None:
    before = edit_by_someone_else(kube, namespace)
    done = seldon_graph(
        "canary", "set", str(manifest), "main=70", "canary=30", "--apply", "-n", namespace,
        kubeconfig=kube.kubeconfig,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{namespace}/{NAME} patched" in done.stdout
    after = kube.get_sdep(NAME, namespace)
    assert traffic(after) == [70, 30]
    # Everything else is as the other writer left it (its label and replicas stay).
    assert without_server_fields(after) == without_server_fields(with_traffic(before, [70, 30]))
    assert traffic(yaml.safe_load(manifest.read_text())) == [70, 30]


def test_traffic_only_sends_the_weights_and_nothing_else_of_an_edited_file(
    kube: Kube, namespace: str, manifest: Path, live: dict[str, Any]
) -> None:
    doc = yaml.safe_load(manifest.read_text())
    doc["spec"]["predictors"][0]["traffic"], doc["spec"]["predictors"][1]["traffic"] = 40, 60
    doc["spec"]["predictors"][1]["replicas"] = 5  # a local edit --traffic-only must not send
    manifest.write_text(yaml.safe_dump(doc))
    done = seldon_graph(
        "apply", str(manifest), "--traffic-only", "-n", namespace, kubeconfig=kube.kubeconfig
    )
    assert done.returncode == 0, done.stderr
    after = kube.get_sdep(NAME, namespace)
    assert without_server_fields(after) == without_server_fields(with_traffic(live, [40, 60]))
    same = seldon_graph(
        "apply", str(manifest), "--traffic-only", "-n", namespace, kubeconfig=kube.kubeconfig
    )
    assert same.returncode == 0 and "unchanged" in same.stdout, same.stderr
    assert (
        kube.get_sdep(NAME, namespace)["metadata"]["resourceVersion"]
        == (after["metadata"]["resourceVersion"])
    )


def test_canary_set_dry_run_apply_changes_neither_the_file_nor_the_cluster(
    kube: Kube, namespace: str, manifest: Path, live: dict[str, Any]
) -> None:
    done = seldon_graph(
        "canary", "set", str(manifest), "--canary", "50", "--apply", "--dry-run",
        "-n", namespace, kubeconfig=kube.kubeconfig,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "patched" in done.stdout and "server dry run" in done.stdout
    assert manifest.read_bytes() == MANIFEST.read_bytes()
    assert kube.get_sdep(NAME, namespace) == live


def test_traffic_only_on_a_missing_deployment_says_to_create_it(
    kube: Kube, namespace: str, manifest: Path
) -> None:
    done = seldon_graph(
        "apply", str(manifest), "--traffic-only", "-n", namespace, kubeconfig=kube.kubeconfig
    )
    assert done.returncode == 1
    assert f"{namespace}/{NAME} not found" in done.stderr
    assert "without --traffic-only" in done.stderr


def test_the_context_namespace_is_used_when_the_manifest_has_none(
    kube: Kube, namespace: str, tmp_path: Path
) -> None:
    doc = yaml.safe_load(MANIFEST.read_text())
    del doc["metadata"]["namespace"]
    path = tmp_path / "nons.yaml"
    path.write_text(yaml.safe_dump(doc))
    config = kube.cluster.write_kubeconfig(
        tmp_path / "ctx", "admin", kube.cluster.admin_token, namespace
    )
    done = seldon_graph("apply", str(path), kubeconfig=config)
    assert done.returncode == 0, done.stderr
    assert kube.get_sdep(NAME, namespace)["metadata"]["namespace"] == namespace
