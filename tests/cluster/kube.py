"""Helpers over the session's real API server: kubectl, applying YAML or objects,
namespaces and service-account kubeconfigs."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.kube_apiserver import LocalCluster

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "seldon-graph"
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
SDEP_PATH = "/apis/{api}/namespaces/{ns}/seldondeployments"
SDEP_API = "machinelearning.seldon.io/v1"
_names = itertools.count(1)


def seldon_graph(*args: str, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    """The ``seldon-graph`` command users run, with ``--kubeconfig``; never raises."""
    return subprocess.run(
        [str(CLI), *args, "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def traffic(obj: Mapping[str, Any]) -> list[int]:
    return [p.get("traffic", 0) for p in obj["spec"]["predictors"]]


@dataclass
class Kube:
    cluster: LocalCluster
    kubectl_bin: Path

    @property
    def kubeconfig(self) -> Path:
        return self.cluster.kubeconfig

    def kubectl(
        self, *args: str, stdin: str | None = None, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl ARGS`` as the admin (or with ``kubeconfig``); never raises on failure."""
        config = kubeconfig or self.kubeconfig
        return subprocess.run(
            [str(self.kubectl_bin), f"--kubeconfig={config}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def apply_yaml(
        self, text: str, namespace: str = "default", server_dry_run: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl apply -f -`` of any YAML (one or more documents, e.g. ``helm template``
        or ``seldon-graph render`` output)."""
        args = ["apply", "-n", namespace, "-f", "-", "-o", "name"]
        if server_dry_run:
            args.append("--dry-run=server")
        return self.kubectl(*args, stdin=text)

    def apply_objects(
        self, objects: Iterable[Mapping[str, Any]], namespace: str = "default", **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """``apply_yaml`` for Python objects."""
        return self.apply_yaml(yaml.safe_dump_all([dict(o) for o in objects]), namespace, **kwargs)

    def create_namespace(self, prefix: str = "t") -> str:
        """A new namespace with a unique name (namespaces are never deleted: without a
        controller manager a deleted namespace would stay Terminating)."""
        name = f"{prefix}-{next(_names)}"
        status, body = self.cluster.request(
            "POST", "/api/v1/namespaces", {"metadata": {"name": name}}
        )
        assert status == 201, body
        return name

    def get_sdep(self, name: str, namespace: str) -> dict[str, Any]:
        status, body = self.cluster.request(
            "GET", f"{SDEP_PATH.format(api=SDEP_API, ns=namespace)}/{name}"
        )
        assert status == 200, body
        return dict(body)

    def create_sdep(self, doc: Mapping[str, Any], namespace: str, dry_run: bool = False):
        """POST a SeldonDeployment to its apiVersion; returns (HTTP status, body) unjudged."""
        api = str(doc.get("apiVersion") or SDEP_API)
        query = "?dryRun=All" if dry_run else ""
        return self.cluster.request(
            "POST", SDEP_PATH.format(api=api, ns=namespace) + query, dict(doc)
        )

    def service_account_kubeconfig(
        self, namespace: str, name: str, rules: list[dict[str, Any]], path: Path
    ) -> Path:
        """A ServiceAccount bound to a Role with ``rules`` in ``namespace``, and a kubeconfig
        with a token the server itself issued for it (TokenRequest, signed with the
        service-account key the server was started with)."""
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role"}
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
        objects: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
            {**role, "metadata": {"name": name}, "rules": rules},
            binding,
        ]
        done = self.apply_objects(objects, namespace)
        assert done.returncode == 0, done.stderr
        status, body = self.cluster.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
        )
        assert status == 201, json.dumps(body)
        token = body["status"]["token"]
        return self.cluster.write_kubeconfig(path, name, token, namespace)

    def install_crds(self, path: Path, timeout_s: float = 60.0) -> list[str]:
        """Create every CustomResourceDefinition in the YAML file ``path`` (plain POSTs:
        the objects are too large for a client-side apply's annotation) and wait until
        each is Established and its resource served; returns their names."""
        crds = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for crd in crds:  # to the version it is written in (1.20 serves v1 and v1beta1)
            path = f"/apis/{crd['apiVersion']}/customresourcedefinitions"
            status, body = self.cluster.request("POST", path, crd)
            assert status in (201, 409), body
        deadline = time.monotonic() + timeout_s
        for crd in crds:
            spec = crd["spec"]
            version = next(v["name"] for v in spec["versions"] if v.get("storage"))
            api = f"{spec['group']}/{version}"
            while self.resource_path(api, spec["names"]["kind"]) is None:
                assert time.monotonic() < deadline, f"{crd['metadata']['name']} not served"
                time.sleep(0.2)
        return [crd["metadata"]["name"] for crd in crds]

    def resource_path(self, api_version: str, kind: str, namespace: str = "") -> str | None:
        """The REST path of ``kind`` in ``api_version`` as the server's discovery lists it
        (namespaced under ``namespace`` when given), or None when the server does not
        serve that kind in that version."""
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        status, body = self.cluster.request("GET", base)
        if status != 200:
            return None
        for resource in body.get("resources") or ():
            if resource["kind"] == kind and "/" not in resource["name"]:
                where = f"/namespaces/{namespace}" if namespace and resource["namespaced"] else ""
                return f"{base}{where}/{resource['name']}"
        return None

    def create(self, obj: Mapping[str, Any], namespace: str, dry_run: bool = False):
        """POST any object to its kind's path in ``namespace``; returns (HTTP status, body)
        unjudged, or (404, reason) when the server does not serve the kind."""
        api, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        path = self.resource_path(api, kind, namespace)
        if path is None:
            return 404, f"the server does not serve {kind} in {api}"
        body = json.loads(json.dumps(obj))
        body.setdefault("metadata", {})["namespace"] = namespace
        return self.cluster.request("POST", path + ("?dryRun=All" if dry_run else ""), body)
