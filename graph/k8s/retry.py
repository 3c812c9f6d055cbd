"""Optimistic concurrency for ``seldon-graph apply``: which failures mean "the object
changed under us", and the loop that retries them with exponential back-off before
giving up with :class:`~graph.k8s.errors.Conflict`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from kubernetes.client.exceptions import ApiException

from graph.k8s.cluster import Cluster
from graph.k8s.errors import Conflict, StaleObject, status_message
from model.errors import SeldonGraphError

T = TypeVar("T")


def is_conflict(exc: BaseException) -> bool:
    """A stale guarded write: our own StaleObject, a 409, or a 422 on a failed ``test``."""
    if isinstance(exc, StaleObject):
        return True
    cause = exc.__cause__
    if not isinstance(cause, ApiException):
        return False
    if cause.status == 409:
        return True
    return cause.status == 422 and "test" in status_message(cause).lower()


def moved_on(exc: SeldonGraphError, cluster: Cluster, name: str, namespace: str, rv: str) -> bool:
    """Whether a 422 on a guarded patch came from its resourceVersion test: the live
    object is newer than the ``rv`` the patch tested."""
    cause = exc.__cause__
    if not isinstance(cause, ApiException) or cause.status != 422:
        return False
    return str(cluster.get(name, namespace)["metadata"].get("resourceVersion", "")) != rv


def retrying(
    tries: int,
    sleep: Callable[[float], None],
    backoff_s: float,
    attempt: Callable[[int], T],
) -> T:
    """``attempt(n)`` for n = 1..tries until it does not meet a conflict."""
    for n in range(1, tries + 1):
        try:
            return attempt(n)
        except SeldonGraphError as exc:
            if not is_conflict(exc) or n == tries:
                if is_conflict(exc):
                    raise Conflict(
                        f"the deployment changed on the server during each of {tries} tries; "
                        "try again"
                    ) from exc
                raise
            sleep(backoff_s * 2 ** (n - 1))
    raise AssertionError("unreachable")
