"""Post node requests and responses as CloudEvents, fire and forget.

Nodes with a ``logger {mode, url}`` get their messages posted as binary-mode CloudEvents
1.0, header for header as Seldon's 1.17.1 executor sends them (``executor/logger/
worker.go``): ``Ce-Specversion``, ``Ce-Id`` (a fresh uuid4), ``Ce-Type``
(``io.seldon.serving.inference.request`` / ``.response`` / ``io.seldon.serving.feedback``),
``Ce-Source``, ``Ce-Time``, ``Ce-Modelid`` (node), ``Ce-Requestid`` (puid),
``Ce-Inferenceservicename`` (deployment), ``Ce-Namespace``, ``Ce-Endpoint`` (predictor),
``Ce-Protocol`` and the payload's ``Content-Type``; the body is the payload's bytes. A node
logger without ``url`` posts to the default endpoint (the executor's
``REQUEST_LOGGER_DEFAULT_ENDPOINT``, ``http://default-broker`` as the operator sets it). A
request whose ``Seldon-Skip-Logging`` header (gRPC metadata) is ``true``/``on``/``1``
logs nothing (``executor/api/payload/metadata.go``): the front ends mark it with
:func:`skip_logging`, for the whole call, shadows included. ``log()`` only puts the event
on a bounded queue; worker tasks send it with the shared aiohttp session. A full queue drops
the event; a failing sink fails it. Neither ever blocks or fails a request. Every event is
counted on the gateway's ``/metrics`` as ``seldon_graph_request_logger_events_total``
(labels ``deployment``, ``predictor``, ``outcome`` = ``sent`` / ``failed`` / ``dropped``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import aiohttp

from graph.gateway.metrics import LOGGER_OUTCOMES, GatewayMetrics
from graph.payload import Payload

log = logging.getLogger(__name__)

Kind = Literal["request", "response", "feedback"]
CE_TYPES: dict[str, str] = {
    "request": "io.seldon.serving.inference.request",
    "response": "io.seldon.serving.inference.response",
    "feedback": "io.seldon.serving.feedback",
}
DEFAULT_ENDPOINT = "http://default-broker"  # the operator's executor env default
ENDPOINT_ENV = "REQUEST_LOGGER_DEFAULT_ENDPOINT"  # read once by ``seldon-graph serve``
SKIP_LOGGING_HEADER = "Seldon-Skip-Logging"
_SKIP_VALUES = ("true", "on", "1")
_skipping: contextvars.ContextVar[bool] = contextvars.ContextVar("skip_logging", default=False)
# which logger modes log which kinds (feedback is logged with responses, as Seldon does)
_MODES: dict[str, tuple[str, ...]] = {
    "all": ("request", "response", "feedback"),
    "request": ("request",),
    "response": ("response", "feedback"),
}


def wants(mode: str, kind: Kind) -> bool:
    """Whether a node logger in ``mode`` logs messages of ``kind``."""
    return kind in _MODES.get(mode, ())


def skip_requested(values: Iterable[str]) -> bool:
    """Whether any ``Seldon-Skip-Logging`` value is true, on or 1 (any case)."""
    return any(str(v).strip().lower() in _SKIP_VALUES for v in values)


def skip_logging(values: Iterable[str]) -> None:
    """Mark the current request (its task and the tasks it starts) per its
    ``Seldon-Skip-Logging`` values; the front ends call it before the executor runs."""
    _skipping.set(skip_requested(values))


def ce_time(now: datetime | None = None) -> str:
    """RFC 3339 in UTC with a ``Z``, as Go's cloudevents SDK writes ``Ce-Time``."""
    return (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class _Event:
    url: str
    headers: dict[str, str]
    body: bytes


class RequestLogger:
    """Bounded queue + worker tasks posting CloudEvents; start() inside the event loop."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        metrics: GatewayMetrics,
        *,
        deployment: str,
        namespace: str,
        predictor: str,
        source: str = "http://localhost:8000/",
        protocol: str = "seldon",
        default_url: str = DEFAULT_ENDPOINT,
        queue_size: int = 1000,
        workers: int = 2,
        timeout_s: float = 5.0,
    ) -> None:
        if queue_size < 1 or workers < 1:
            raise ValueError("queue_size and workers must be at least 1")
        self._session = session
        self._default_url = default_url
        self._static = {
            "Ce-Specversion": "1.0",
            "Ce-Source": source,
            "Ce-Inferenceservicename": deployment,
            "Ce-Namespace": namespace,
            "Ce-Endpoint": predictor,
            "Ce-Protocol": protocol,
        }
        self._queue: asyncio.Queue[_Event] = asyncio.Queue(queue_size)
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._metrics = metrics
        self._labels = (deployment, predictor)
        for outcome in LOGGER_OUTCOMES:  # exported at 0 before the first event
            metrics.logger_events.labels(deployment, predictor, outcome)

    def set_source(self, source: str) -> None:
        """The ``Ce-Source`` of later events (the gateway's URL once its port is bound)."""
        self._static["Ce-Source"] = source

    def start(self) -> None:
        """Start the worker tasks (idempotent; needs a running event loop)."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    def log(self, url: str, kind: Kind, payload: Payload, puid: str, node: str) -> bool:
        """Queue one event to ``url`` (empty: the default endpoint); False when the request
        asked to skip logging or the queue is full (counted as ``dropped``)."""
        if _skipping.get():
            return False
        headers = {
            **self._static,
            "Ce-Id": str(uuid.uuid4()),
            "Ce-Type": CE_TYPES[kind],
            "Ce-Time": ce_time(),
            "Ce-Requestid": puid,
            "Ce-Modelid": node,
        }
        if payload.content_type:  # omitted when empty, as the SDK does
            headers["Content-Type"] = payload.content_type
        try:
            self._queue.put_nowait(_Event(url or self._default_url, headers, payload.to_bytes()))
        except asyncio.QueueFull:
            self._count("dropped")
            return False
        return True

    def _count(self, outcome: str) -> None:
        self._metrics.logger_event(*self._labels, outcome)

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Send what is queued (up to ``drain_timeout`` seconds), then stop the workers."""
        if self._tasks:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_timeout)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _work(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._send(event)
            finally:
                self._queue.task_done()

    async def _send(self, event: _Event) -> None:
        try:
            async with self._session.post(
                event.url, data=event.body, headers=event.headers, timeout=self._timeout
            ) as reply:
                await reply.read()
                if reply.status >= 400:
                    raise aiohttp.ClientResponseError(
                        reply.request_info, (), status=reply.status, message=reply.reason or ""
                    )
            self._count("sent")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self._count("failed")
            log.warning("request logger: posting to %s failed: %s", event.url, exc)
