"""The gateway's transport-free core: find the deployment, pick the predictor, call it.

REST and gRPC front ends both call :meth:`Gateway.call`. It picks the predictor with the
deployment's :class:`TrafficSplit`, answers at once with ``Unavailable`` (503) when a node
of that predictor is down or restarting (so no request waits on a dead process), mirrors
the request to the shadow predictor in the background, and records metrics.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from graph.gateway.metrics import GatewayMetrics
from graph.gateway.traffic import Mirror, TrafficSplit
from graph.payload import Payload
from graph.spec import DeploymentSpec
from model.errors import NotFound, SeldonGraphError, Unavailable, as_error

PREDICT = "predict"
FEEDBACK = "feedback"

# (deployment, predictor) -> names of its nodes that are not ready now
NotReady = Callable[[str, str], Sequence[str]]


Headers = Sequence[tuple[str, str]]  # the client's, forwarded to every node call


class PredictorExecutor(Protocol):
    async def predict(self, payload: Payload, puid: str, headers: Headers = ()) -> Payload: ...

    async def feedback(self, payload: Payload, puid: str, headers: Headers = ()) -> Payload: ...


@dataclass
class DeploymentRuntime:
    """One served deployment: its executors (one per predictor) and traffic."""

    spec: DeploymentSpec
    executors: Mapping[str, PredictorExecutor]
    split: TrafficSplit
    mirror: Mirror

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def namespace(self) -> str:
        return self.spec.namespace


@dataclass(frozen=True)
class Answer:
    payload: Payload
    predictor: str


class Gateway:
    """Dispatches requests to deployments; knows no transport."""

    def __init__(
        self,
        runtimes: Sequence[DeploymentRuntime],
        metrics: GatewayMetrics,
        not_ready: NotReady | None = None,
    ) -> None:
        self.runtimes = list(runtimes)
        self.metrics = metrics
        self._not_ready = not_ready
        self.draining = False

    def find(self, namespace: str | None, name: str | None) -> DeploymentRuntime:
        """The deployment by name (and namespace when given); with neither given, the
        only deployment served. Raises :class:`NotFound` otherwise."""
        if not name:
            if namespace is None and len(self.runtimes) == 1:
                return self.runtimes[0]
            if namespace is not None:
                matches = [r for r in self.runtimes if r.namespace == namespace]
                if len(matches) == 1:
                    return matches[0]
            raise NotFound(
                "no deployment named: pass it (REST path /seldon/<namespace>/<name>/..., gRPC "
                f"metadata 'seldon' and 'namespace'); serving {self.describe()}"
            )
        for runtime in self.runtimes:
            if runtime.name == name and (namespace is None or runtime.namespace == namespace):
                return runtime
        where = f"{namespace}/{name}" if namespace is not None else name
        raise NotFound(f"deployment {where} is not served here; serving {self.describe()}")

    def describe(self) -> str:
        return ", ".join(f"{r.namespace}/{r.name}" for r in self.runtimes) or "nothing"

    def ready(self) -> bool:
        """True when not draining and every node of every predictor is ready."""
        if self.draining:
            return False
        if self._not_ready is None:
            return True
        return not any(self._not_ready(r.name, p) for r in self.runtimes for p in r.executors)

    async def call(
        self,
        runtime: DeploymentRuntime,
        method: str,
        payload: Payload,
        puid: str,
        transport: str,
        headers: Headers = (),
    ) -> Answer:
        """Run ``predict`` or ``feedback`` on the predictor the split picks; ``headers``
        (REST headers or gRPC metadata) go to every node call."""
        route = runtime.split.choose()
        start = time.perf_counter()
        try:
            self._check_ready(runtime, route.predictor)
            if route.shadow is not None and route.shadow in runtime.executors:
                self._mirror(runtime, route.shadow, method, payload, puid, headers)
            executor = runtime.executors[route.predictor]
            call = executor.predict if method == PREDICT else executor.feedback
            reply = await call(payload, puid, headers)
        except Exception as exc:
            error = as_error(exc)
            self.metrics.request(
                runtime.name, route.predictor, transport, method,
                time.perf_counter() - start, error.status_code,
            )  # fmt: skip
            raise _with_predictor(error, route.predictor) from exc
        self.metrics.request(
            runtime.name, route.predictor, transport, method, time.perf_counter() - start
        )
        if method == PREDICT:  # the drift detector's verdict, for canary rollouts
            self.metrics.drift_tags(runtime.name, route.predictor, reply.tags())
        return Answer(reply, route.predictor)

    def _check_ready(self, runtime: DeploymentRuntime, predictor: str) -> None:
        if self._not_ready is None:
            return
        down = self._not_ready(runtime.name, predictor)
        if down:
            raise Unavailable(
                f"predictor {predictor}: node(s) {', '.join(down)} not ready (restarting)"
            )

    def _mirror(
        self,
        runtime: DeploymentRuntime,
        shadow: str,
        method: str,
        payload: Payload,
        puid: str,
        headers: Headers,
    ) -> None:
        if self._not_ready is not None and self._not_ready(runtime.name, shadow):
            return
        executor = runtime.executors[shadow]
        copy = payload.copy()  # before the live call can touch the payload
        call = executor.predict if method == PREDICT else executor.feedback
        if not runtime.mirror.submit(lambda: call(copy, puid, headers)):
            self.metrics.shadow_dropped.labels(runtime.name, shadow).inc()

    async def drain_shadows(self, timeout: float) -> None:
        for runtime in self.runtimes:
            await runtime.mirror.drain(timeout)


def new_puid() -> str:
    """A request id for a request that came without one (REST header or gRPC metadata):
    a hyphenated uuid4, as Seldon's executor makes (google/uuid ``New()``)."""
    return str(uuid.uuid4())


def _with_predictor(error: SeldonGraphError, predictor: str) -> SeldonGraphError:
    """Remember which predictor failed (front ends report it in a header/metadata)."""
    error.predictor = predictor
    return error


def predictor_of(error: BaseException) -> str | None:
    value: Any = getattr(error, "predictor", None)
    return value if isinstance(value, str) else None
