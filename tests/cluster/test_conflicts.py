"""Concurrent writers against the real API server: the guarded traffic patch and the
resourceVersion-carrying replace meet a newer object, and the retry behaves.

``graph.k8s.apply`` runs unchanged over the real client; the only addition is another
writer (the admin, over HTTP) that changes the object just before our write.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from graph.k8s.apply import Cluster, Conflict, apply_deployment, patch_traffic, traffic_patch
from graph.k8s.client import ClusterSettings, connect
from model.errors import SeldonGraphError
from tests.cluster.kube import MANIFEST, SDEP_API, SDEP_PATH, Kube, traffic

NAME = "digits"
WRITES = itertools.count(1)  # each race writes a new value, so it always changes the object


class RacedCluster(Cluster):
    """The real client; before each of its first ``races`` writes another writer labels
    the object, so the write carries a resourceVersion that is already old."""

    def __init__(self, kube: Kube, races: int) -> None:
        super().__init__(connect(ClusterSettings(kubeconfig=str(kube.kubeconfig))).api)
        self.kube, self.races, self.raced = kube, races, 0

    def _race(self, namespace: str) -> None:
        if self.raced < self.races:
            self.raced += 1
            status, body = self.kube.cluster.request(
                "PATCH",
                f"{SDEP_PATH.format(api=SDEP_API, ns=namespace)}/{NAME}",
                {"metadata": {"labels": {"other-writer": str(next(WRITES))}}},
                content_type="application/merge-patch+json",
            )
            assert status == 200, body

    def json_patch(self, name: str, namespace: str, ops: Any, dry_run: bool) -> dict[str, Any]:
        self._race(namespace)
        return super().json_patch(name, namespace, ops, dry_run)

    def replace(self, body: dict[str, Any], namespace: str, dry_run: bool) -> dict[str, Any]:
        self._race(namespace)
        return super().replace(body, namespace, dry_run)


@pytest.fixture
def doc(kube: Kube, namespace: str) -> dict[str, Any]:
    """The project's deployment, live in ``namespace``; returns the manifest document."""
    body = yaml.safe_load(MANIFEST.read_text())
    body["metadata"]["namespace"] = namespace
    status, created = kube.create_sdep(body, namespace)
    assert status == 201, created
    return body


def with_weights(doc: dict[str, Any], main: int, canary: int) -> dict[str, Any]:
    doc["spec"]["predictors"][0]["traffic"], doc["spec"]["predictors"][1]["traffic"] = main, canary
    return doc


def test_a_stale_guarded_patch_is_refused_with_a_bare_422(
    kube: Kube, namespace: str, doc: dict[str, Any]
) -> None:
    cluster = RacedCluster(kube, races=1)
    ops = traffic_patch(cluster.get(NAME, namespace), with_weights(doc, 50, 50))
    with pytest.raises(SeldonGraphError) as raised:
        cluster.json_patch(NAME, namespace, ops, dry_run=False)
    cause = raised.value.__cause__
    assert isinstance(cause, ApiException)
    # A 1.20 server drops the patch library's "testing value ... failed": the 422 alone
    # does not say that the object moved on; graph.k8s.apply reads it again to tell.
    assert cause.status == 422, cause.body
    assert traffic(kube.get_sdep(NAME, namespace)) == traffic(yaml.safe_load(MANIFEST.read_text()))


def test_a_concurrent_edit_makes_the_patch_retry_and_keeps_the_other_change(
    kube: Kube, namespace: str, doc: dict[str, Any]
) -> None:
    sleeps: list[float] = []
    result = patch_traffic(
        with_weights(doc, 50, 50), RacedCluster(kube, races=1), namespace, sleep=sleeps.append
    )
    assert (result.action, result.tries, sleeps) == ("patched", 2, [0.1])
    live = kube.get_sdep(NAME, namespace)
    assert traffic(live) == [50, 50]
    assert "other-writer" in live["metadata"]["labels"]


def test_a_patch_that_always_meets_a_newer_object_gives_up_with_a_conflict(
    kube: Kube, namespace: str, doc: dict[str, Any]
) -> None:
    cluster = RacedCluster(kube, races=99)
    with pytest.raises(Conflict, match="each of 3 tries"):
        patch_traffic(with_weights(doc, 80, 20), cluster, namespace, tries=3, sleep=lambda s: None)
    assert cluster.raced == 3
    assert traffic(kube.get_sdep(NAME, namespace)) == traffic(yaml.safe_load(MANIFEST.read_text()))


def test_a_replace_with_an_old_resource_version_gets_409_and_is_retried(
    kube: Kube, namespace: str, doc: dict[str, Any]
) -> None:
    stale = RacedCluster(kube, races=1)
    live = stale.get(NAME, namespace)
    with pytest.raises(SeldonGraphError) as raised:
        stale.replace(live, namespace, dry_run=False)
    assert isinstance(raised.value.__cause__, ApiException)
    assert raised.value.__cause__.status == 409
    cluster = RacedCluster(kube, races=1)
    doc["spec"]["predictors"][1]["replicas"] = 2
    result = apply_deployment(doc, cluster, namespace, sleep=lambda s: None)
    assert (result.action, result.tries) == ("replaced", 2)
    live = kube.get_sdep(NAME, namespace)
    assert live["spec"]["predictors"][1]["replicas"] == 2
    # A full replace sends the file's metadata: the other writer's label is gone.
    assert "other-writer" not in (live["metadata"].get("labels") or {})
