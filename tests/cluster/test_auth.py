"""Credentials and RBAC against the real API server (anonymous access is off there).

The client side is ``graph.k8s.client.connect`` and ``graph.k8s.apply.Cluster``, what
``seldon-graph apply`` uses. kubernetes 36.0.0 loaded the bearer token where its own
request code never looked (kubernetes-client/python#2584): every call here answered 401. The
project pins 35.0.0 (36.0.1 and later need PyYAML >= 6.0.3, which seldon-core 1.17.1 refuses).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.config.incluster_config import InClusterConfigLoader

from graph.k8s.apply import Cluster
from graph.k8s.client import ClusterSettings, connect
from tests.cluster.kube import MANIFEST, Kube, seldon_graph, traffic

NAME = "digits"

GROUP = "machinelearning.seldon.io"
ROLLOUT_RULES = [
    {"apiGroups": [GROUP], "resources": ["seldondeployments"], "verbs": ["get", "patch"]}
]


def cluster_for(kubeconfig: Path) -> Cluster:
    return Cluster(connect(ClusterSettings(kubeconfig=str(kubeconfig))).api)


def test_a_kubeconfig_bearer_token_reaches_the_server(kube: Kube) -> None:
    assert cluster_for(kube.kubeconfig).crd_installed()


def test_an_exec_plugin_token_reaches_the_server(kube: Kube, tmp_path: Path) -> None:
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": kube.cluster.admin_token},
    }
    config = json.loads(kube.kubeconfig.read_text())
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": ["-c", f"print({json.dumps(json.dumps(credential))})"],
            "interactiveMode": "Never",
        }
    }
    path = tmp_path / "exec-kubeconfig"
    path.write_text(json.dumps(config))
    assert kube.kubectl("get", "namespaces", kubeconfig=path).returncode == 0  # kubectl agrees
    assert cluster_for(path).crd_installed()


def test_an_in_cluster_service_account_token_reaches_the_server(
    kube: Kube, namespace: str, tmp_path: Path
) -> None:
    sa_config = kube.service_account_kubeconfig(namespace, "reader", ROLLOUT_RULES, tmp_path / "k")
    token = json.loads(sa_config.read_text())["users"][0]["user"]["token"]
    (tmp_path / "token").write_text(token)
    host, port = kube.cluster.url.removeprefix("https://").rsplit(":", 1)
    configuration = client.Configuration()
    InClusterConfigLoader(
        token_filename=str(tmp_path / "token"),
        cert_filename=str(kube.cluster.pki.ca_cert),
        environ={"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port},
    ).load_and_set(configuration)
    assert Cluster(client.ApiClient(configuration)).crd_installed()


def test_a_wrong_token_is_reported_as_unauthorized(kube: Kube, tmp_path: Path) -> None:
    bad = kube.cluster.write_kubeconfig(tmp_path / "bad", "nobody", "not-a-token")
    done = seldon_graph("apply", str(MANIFEST), "--dry-run", kubeconfig=bad)
    assert done.returncode == 1
    assert f"unauthorized at {kube.cluster.url}" in done.stderr


@pytest.fixture
def rollout_only(kube: Kube, namespace: str, tmp_path: Path) -> Path:
    """A kubeconfig for a ServiceAccount that may only get and patch SeldonDeployments in
    ``namespace``, where the project's deployment exists (created by the admin)."""
    done = seldon_graph("apply", str(MANIFEST), "-n", namespace, kubeconfig=kube.kubeconfig)
    assert done.returncode == 0, done.stderr
    return kube.service_account_kubeconfig(namespace, "rollout", ROLLOUT_RULES, tmp_path / "sa")


def test_a_rollout_only_service_account_can_change_weights(
    kube: Kube, namespace: str, rollout_only: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "sd.yaml"
    shutil.copy(MANIFEST, manifest)
    done = seldon_graph(
        "canary", "set", str(manifest), "main=60", "canary=40", "--apply", "-n", namespace,
        kubeconfig=rollout_only,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert traffic(kube.get_sdep(NAME, namespace)) == [60, 40]


def test_a_rollout_only_service_account_cannot_create_or_replace(
    kube: Kube, namespace: str, rollout_only: Path, tmp_path: Path
) -> None:
    doc = yaml.safe_load(MANIFEST.read_text())
    doc["metadata"]["name"] = "another"
    other = tmp_path / "another.yaml"
    other.write_text(yaml.safe_dump(doc))
    create = seldon_graph("apply", str(other), "-n", namespace, kubeconfig=rollout_only)
    assert create.returncode == 1
    assert (
        f"forbidden: you may not create seldondeployments.{GROUP} 'another' in namespace "
        f"'{namespace}' (RBAC: grant 'create' on 'seldondeployments' in API group '{GROUP}')"
    ) in create.stderr
    # The server's own words follow, naming the service account.
    assert f"system:serviceaccount:{namespace}:rollout" in create.stderr
    replace = seldon_graph("apply", str(MANIFEST), "-n", namespace, kubeconfig=rollout_only)
    assert replace.returncode == 1
    assert f"you may not update seldondeployments.{GROUP} '{NAME}'" in replace.stderr
    elsewhere = seldon_graph("apply", str(MANIFEST), "-n", "default", kubeconfig=rollout_only)
    assert elsewhere.returncode == 1
    assert "you may not get" in elsewhere.stderr and "'default'" in elsewhere.stderr


def test_a_refused_rollout_names_the_verb_and_leaves_the_file_unchanged(
    kube: Kube, namespace: str, tmp_path: Path
) -> None:
    done = seldon_graph("apply", str(MANIFEST), "-n", namespace, kubeconfig=kube.kubeconfig)
    assert done.returncode == 0, done.stderr
    read_only = [{"apiGroups": [GROUP], "resources": ["seldondeployments"], "verbs": ["get"]}]
    config = kube.service_account_kubeconfig(namespace, "reader", read_only, tmp_path / "sa")
    manifest = tmp_path / "sd.yaml"
    shutil.copy(MANIFEST, manifest)
    refused = seldon_graph(
        "canary", "rollback", str(manifest), "--apply", "-n", namespace, kubeconfig=config
    )
    assert refused.returncode == 1
    assert f"forbidden: you may not patch seldondeployments.{GROUP} '{NAME}'" in refused.stderr
    assert manifest.read_bytes() == MANIFEST.read_bytes()
    assert traffic(kube.get_sdep(NAME, namespace)) == [90, 10]
