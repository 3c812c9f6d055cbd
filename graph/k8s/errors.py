"""The errors of sending a SeldonDeployment, and how an ``ApiException`` of the
``kubernetes`` client becomes one of the project's errors (model/errors.py): RBAC
refusals name the verb and resource, a 404 tells a missing CRD from a missing object."""

from __future__ import annotations

import json
from collections.abc import Callable

from kubernetes.client.exceptions import ApiException

from model.errors import ConfigError, NotFound, SeldonGraphError

GROUP = "machinelearning.seldon.io"
VERSION = "v1"
PLURAL = "seldondeployments"
RESOURCE = f"{PLURAL}.{GROUP}"


class CrdMissing(NotFound):
    """The cluster does not serve machinelearning.seldon.io/v1 seldondeployments."""


class StaleObject(SeldonGraphError):
    """A guarded write met a newer object; the retry loop reads it again."""


class Conflict(SeldonGraphError):
    """The object kept changing under us: every try met a newer resourceVersion."""

    status_code = 409
    reason = "CONFLICT"


def status_message(exc: ApiException) -> str:
    """The ``message`` of the API server's Status body, else the HTTP reason."""
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.body or exc.reason or "").strip()


def api_error(
    exc: ApiException,
    verb: str,
    name: str,
    namespace: str,
    host: str,
    crd_installed: Callable[[], bool],
) -> Exception:
    """The project's error for ``exc``, met on ``verb`` of ``namespace/name`` at ``host``;
    ``crd_installed`` is asked only on a 404 (True when it cannot tell)."""
    message = status_message(exc)
    if exc.status == 403:
        return ConfigError(
            f"forbidden: you may not {verb} {RESOURCE} {name!r} in namespace "
            f"{namespace!r} (RBAC: grant '{verb}' on '{PLURAL}' in API group '{GROUP}'): "
            f"{message}"
        )
    if exc.status == 404:
        if not crd_installed():
            return CrdMissing(
                f"the SeldonDeployment CRD ({RESOURCE}/{VERSION}) is not installed in the "
                f"cluster at {host}: install Seldon Core v1 first"
            )
        return NotFound(
            f"seldondeployment {namespace}/{name} not found: create it first with "
            "`seldon-graph apply FILE` (without --traffic-only)"
        )
    if exc.status == 401:
        return ConfigError(f"unauthorized at {host}: check your credentials ({message})")
    if exc.status in (400, 422):
        return ConfigError(f"the API server refused the {verb}: {message}")
    return SeldonGraphError(
        f"{verb} {RESOURCE} {namespace}/{name} failed: HTTP {exc.status} {message}"
    )
