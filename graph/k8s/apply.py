"""Send a SeldonDeployment to the cluster through ``CustomObjectsApi``.

- ``apply_deployment``: create the object, or replace it (PUT carrying the live
  ``metadata.resourceVersion``, so a concurrent change answers 409 and is retried).
- ``patch_traffic``: GET the live object, match predictors by name, and send a JSON patch
  (``application/json-patch+json``)::

      [{"op": "test", "path": "/metadata/resourceVersion", "value": "<live>"},
       {"op": "test", "path": "/spec/predictors/<i>/name", "value": "<name>"},
       {"op": "replace", "path": "/spec/predictors/<i>/traffic", "value": <weight>}, ...]

  Only traffic fields change. When the object changed in between, the API server fails
  the ``test`` op with a 422 that need not say why (a 1.20 server answers only "the server
  rejected our request due to an error in our request"), or reports a 409: the object is
  read again and, when its resourceVersion moved on, the patch is rebuilt, up to ``tries``
  times with exponential back-off.

``dry_run=True`` sends ``dryRun=All`` (the server validates, admits and persists nothing).
Failures become the project's errors with a message naming the cause: no cluster
reachable (``Unavailable``), the Seldon CRD not installed or the deployment missing
(``NotFound``), RBAC refusal (``ConfigError`` naming the verb and resource).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from model.errors import ConfigError, NotFound, SeldonGraphError, Unavailable

GROUP = "machinelearning.seldon.io"
VERSION = "v1"
PLURAL = "seldondeployments"
RESOURCE = f"{PLURAL}.{GROUP}"
JSON_PATCH = "application/json-patch+json"


class CrdMissing(NotFound):
    """The cluster does not serve machinelearning.seldon.io/v1 seldondeployments."""


class StaleObject(SeldonGraphError):
    """A guarded write met a newer object; the retry loop reads it again."""


class Conflict(SeldonGraphError):
    """The object kept changing under us: every try met a newer resourceVersion."""

    status_code = 409
    reason = "CONFLICT"


@dataclass(frozen=True)
class ApplyResult:
    action: str  # created | replaced | patched | unchanged
    name: str
    namespace: str
    resource_version: str = ""
    dry_run: bool = False
    tries: int = 1
    patch: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        suffix = " (server dry run: nothing persisted)" if self.dry_run else ""
        rv = f" at resourceVersion {self.resource_version}" if self.resource_version else ""
        return f"seldondeployment {self.namespace}/{self.name} {self.action}{rv}{suffix}"


class Cluster:
    """The calls this module makes, over one ``ApiClient``."""

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
            raise self._error(exc, verb, name, namespace) from exc
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise Unavailable(
                f"no Kubernetes API reachable at {self.host} ({reason}); check --context, "
                "--kubeconfig and that the cluster is up"
            ) from exc

    def _error(self, exc: ApiException, verb: str, name: str, namespace: str) -> Exception:
        message = _status_message(exc)
        if exc.status == 403:
            return ConfigError(
                f"forbidden: you may not {verb} {RESOURCE} {name!r} in namespace "
                f"{namespace!r} (RBAC: grant '{verb}' on '{PLURAL}' in API group '{GROUP}'): "
                f"{message}"
            )
        if exc.status == 404:
            try:
                installed = self.crd_installed()
            except (ApiException, urllib3.exceptions.HTTPError):
                installed = True  # cannot tell: report the object as missing
            if not installed:
                return CrdMissing(
                    f"the SeldonDeployment CRD ({RESOURCE}/{VERSION}) is not installed in the "
                    f"cluster at {self.host}: install Seldon Core v1 first"
                )
            return NotFound(
                f"seldondeployment {namespace}/{name} not found: create it first with "
                "`seldon-graph apply FILE` (without --traffic-only)"
            )
        if exc.status == 401:
            return ConfigError(f"unauthorized at {self.host}: check your credentials ({message})")
        if exc.status in (400, 422):
            return ConfigError(f"the API server refused the {verb}: {message}")
        return SeldonGraphError(
            f"{verb} {RESOURCE} {namespace}/{name} failed: HTTP {exc.status} {message}"
        )

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


def _status_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.body or exc.reason or "").strip()


def _is_conflict(exc: BaseException) -> bool:
    if isinstance(exc, StaleObject):
        return True
    cause = exc.__cause__
    if not isinstance(cause, ApiException):
        return False
    if cause.status == 409:
        return True
    return cause.status == 422 and "test" in _status_message(cause).lower()


def _moved_on(exc: SeldonGraphError, cluster: Cluster, name: str, namespace: str, rv: str) -> bool:
    """Whether a 422 on a guarded patch came from its resourceVersion test: the live
    object is newer than the ``rv`` the patch tested."""
    cause = exc.__cause__
    if not isinstance(cause, ApiException) or cause.status != 422:
        return False
    return str(cluster.get(name, namespace)["metadata"].get("resourceVersion", "")) != rv


def _identity(doc: Mapping[str, Any], namespace: str) -> tuple[str, dict[str, Any]]:
    body = copy.deepcopy(dict(doc))
    metadata = body.setdefault("metadata", {})
    name = metadata.get("name")
    if not name:
        raise ConfigError("the SeldonDeployment has no metadata.name")
    metadata["namespace"] = namespace
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        metadata.pop(key, None)
    body.pop("status", None)
    return str(name), body


def _retrying(
    tries: int,
    sleep: Callable[[float], None],
    backoff_s: float,
    attempt: Callable[[int], ApplyResult],
) -> ApplyResult:
    for n in range(1, tries + 1):
        try:
            return attempt(n)
        except SeldonGraphError as exc:
            if not _is_conflict(exc) or n == tries:
                if _is_conflict(exc):
                    raise Conflict(
                        f"the deployment changed on the server during each of {tries} tries; "
                        "try again"
                    ) from exc
                raise
            sleep(backoff_s * 2 ** (n - 1))
    raise AssertionError("unreachable")


def apply_deployment(
    doc: Mapping[str, Any],
    cluster: Cluster,
    namespace: str,
    dry_run: bool = False,
    tries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    backoff_s: float = 0.1,
) -> ApplyResult:
    """Create the SeldonDeployment, or replace the live one."""
    name, body = _identity(doc, namespace)

    def attempt(n: int) -> ApplyResult:
        try:
            live = cluster.get(name, namespace)
        except CrdMissing:
            raise
        except NotFound:
            created = cluster.create(body, namespace, dry_run)
            rv = str(created.get("metadata", {}).get("resourceVersion", ""))
            return ApplyResult("created", name, namespace, rv, dry_run, n)
        sent = copy.deepcopy(body)
        sent["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        replaced = cluster.replace(sent, namespace, dry_run)
        rv = str(replaced.get("metadata", {}).get("resourceVersion", ""))
        return ApplyResult("replaced", name, namespace, rv, dry_run, n)

    return _retrying(tries, sleep, backoff_s, attempt)


def traffic_patch(live: Mapping[str, Any], doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch that gives ``live`` the traffic weights of ``doc`` (predictors
    matched by name), or [] when they already agree."""
    wanted = {str(p["name"]): p.get("traffic", 0) for p in doc["spec"]["predictors"]}
    live_preds = list((live.get("spec") or {}).get("predictors") or [])
    live_names = [str(p.get("name")) for p in live_preds]
    missing = sorted(set(wanted) - set(live_names))
    extra = sorted(set(live_names) - set(wanted))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"not in the cluster: {', '.join(missing)}")
        if extra:
            parts.append(f"only in the cluster: {', '.join(extra)}")
        raise ConfigError(
            f"the predictors differ ({'; '.join(parts)}): a traffic-only patch cannot add or "
            "remove predictors; run `seldon-graph apply FILE` without --traffic-only"
        )
    ops: list[dict[str, Any]] = []
    for i, pred in enumerate(live_preds):
        name = str(pred.get("name"))
        if pred.get("traffic", 0) == wanted[name] and "traffic" in pred:
            continue
        if not ops:
            rv = str(live["metadata"]["resourceVersion"])
            ops.append({"op": "test", "path": "/metadata/resourceVersion", "value": rv})
        ops.append({"op": "test", "path": f"/spec/predictors/{i}/name", "value": name})
        op = "replace" if "traffic" in pred else "add"
        ops.append({"op": op, "path": f"/spec/predictors/{i}/traffic", "value": wanted[name]})
    return ops


def patch_traffic(
    doc: Mapping[str, Any],
    cluster: Cluster,
    namespace: str,
    dry_run: bool = False,
    tries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    backoff_s: float = 0.1,
) -> ApplyResult:
    """Change only the live deployment's traffic weights to those of ``doc``."""
    name, _ = _identity(doc, namespace)

    def attempt(n: int) -> ApplyResult:
        live = cluster.get(name, namespace)
        ops = traffic_patch(live, doc)
        rv = str(live["metadata"].get("resourceVersion", ""))
        if not ops:
            return ApplyResult("unchanged", name, namespace, rv, dry_run, n)
        try:
            patched = cluster.json_patch(name, namespace, ops, dry_run)
        except SeldonGraphError as exc:
            if _moved_on(exc, cluster, name, namespace, rv):
                raise StaleObject(f"{namespace}/{name} changed after resourceVersion {rv}") from exc
            raise
        rv = str(patched.get("metadata", {}).get("resourceVersion", ""))
        return ApplyResult("patched", name, namespace, rv, dry_run, n, ops)

    return _retrying(tries, sleep, backoff_s, attempt)
