"""``Cluster``: the SeldonDeployment calls ``seldon-graph apply`` makes (get, create,
replace, JSON patch, CRD discovery) over one ``kubernetes.client.ApiClient``, with
timeouts, ``dryRun=All`` on request, and failures raised as the project's errors
(graph/k8s/errors.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from graph.k8s.errors import GROUP, PLURAL, VERSION, api_error
from model.errors import Unavailable

JSON_PATCH = "application/json-patch+json"


class Cluster:
    """The calls this package makes, over one ``ApiClient``."""

    def __init__(
        self, api: client.ApiClient, request_timeout: tuple[float, float] = (5.0, 30.0)
    ) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.timeout = request_timeout

    @property
    def host(self) -> str:
        return str(self.api.configuration.host)

    def _call(self, verb: str, name: str, namespace: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ApiException as exc:
            raise api_error(exc, verb, name, namespace, self.host, self._crd_or_unknown) from exc
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise Unavailable(
                f"no Kubernetes API reachable at {self.host} ({reason}); check --context, "
                "--kubeconfig and that the cluster is up"
            ) from exc

    def _crd_or_unknown(self) -> bool:
        try:
            return self.crd_installed()
        except (ApiException, urllib3.exceptions.HTTPError):
            return True  # cannot tell: report the object as missing

    def crd_installed(self) -> bool:
        """Whether ``machinelearning.seldon.io/v1`` serves ``seldondeployments``."""
        try:
            resources = self.custom.get_api_resources(GROUP, VERSION, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return any(r.name == PLURAL for r in resources.resources or ())

    def get(self, name: str, namespace: str) -> dict[str, Any]:
        return dict(
            self._call(
                "get",
                name,
                namespace,
                lambda: self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, _request_timeout=self.timeout
                ),
            )
        )

    def create(self, body: dict[str, Any], namespace: str, dry_run: bool) -> dict[str, Any]:
        name = body["metadata"]["name"]
        kwargs = {"dry_run": "All"} if dry_run else {}
        return dict(
            self._call(
                "create",
                name,
                namespace,
                lambda: self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, body, _request_timeout=self.timeout, **kwargs
                ),
            )
        )

    def replace(self, body: dict[str, Any], namespace: str, dry_run: bool) -> dict[str, Any]:
        name = body["metadata"]["name"]
        kwargs = {"dry_run": "All"} if dry_run else {}
        return dict(
            self._call(
                "update",
                name,
                namespace,
                lambda: self.custom.replace_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    name,
                    body,
                    _request_timeout=self.timeout,
                    **kwargs,
                ),
            )
        )

    def json_patch(
        self, name: str, namespace: str, ops: list[dict[str, Any]], dry_run: bool
    ) -> dict[str, Any]:
        # The generated patch method sends merge-patch+json (kubernetes<36) or takes
        # _content_type (>=36): call the API client itself to send a JSON patch with either.
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{PLURAL}/{{name}}"
        return dict(
            self._call(
                "patch",
                name,
                namespace,
                lambda: self.custom.api_client.call_api(
                    path,
                    "PATCH",
                    {"namespace": namespace, "name": name},
                    [("dryRun", "All")] if dry_run else [],
                    {"Content-Type": JSON_PATCH, "Accept": "application/json"},
                    body=ops,
                    response_type="object",
                    auth_settings=["BearerToken"],
                    _return_http_data_only=True,
                    _request_timeout=self.timeout,
                ),
            )
        )
