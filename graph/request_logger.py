"""Post node requests and responses as CloudEvents, fire and forget.

Nodes with a ``logger {mode, url}`` get their messages posted (binary CloudEvents over
HTTP, like Seldon's executor: ``ce-type`` ``io.seldon.serving.inference.request`` /
``.response`` / ``io.seldon.serving.feedback``, ``ce-id``, ``ce-source``,
``ce-specversion``, ``ce-requestid`` (puid), ``ce-modelid`` (node), ``ce-inferenceservicename``
(deployment), ``ce-namespace``, ``ce-endpoint`` (predictor)). ``log()`` only puts the event
on a bounded queue; worker tasks send it with the shared aiohttp session. A full queue drops
the event; a failing sink fails it. Neither ever blocks or fails a request. Every event is
counted on the gateway's ``/metrics`` as ``seldon_graph_request_logger_events_total``
(labels ``deployment``, ``predictor``, ``outcome`` = ``sent`` / ``failed`` / ``dropped``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
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
# which logger modes log which kinds (feedback is logged with responses, as Seldon does)
_MODES: dict[str, tuple[str, ...]] = {
    "all": ("request", "response", "feedback"),
    "request": ("request",),
    "response": ("response", "feedback"),
}


def wants(mode: str, kind: Kind) -> bool:
    """Whether a node logger in ``mode`` logs messages of ``kind``."""
    return kind in _MODES.get(mode, ())


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
        queue_size: int = 1000,
        workers: int = 2,
        timeout_s: float = 5.0,
    ) -> None:
        if queue_size < 1 or workers < 1:
            raise ValueError("queue_size and workers must be at least 1")
        self._session = session
        self._static = {
            "ce-specversion": "1.0",
            "ce-source": source,
            "ce-inferenceservicename": deployment,
            "ce-namespace": namespace,
            "ce-endpoint": predictor,
            "ce-protocol": protocol,
        }
        self._queue: asyncio.Queue[_Event] = asyncio.Queue(queue_size)
        self._workers = workers
        self._tasks: list[asyncio.Task[None]] = []
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._metrics = metrics
        self._labels = (deployment, predictor)
        for outcome in LOGGER_OUTCOMES:  # exported at 0 before the first event
            metrics.logger_events.labels(deployment, predictor, outcome)

    def start(self) -> None:
        """Start the worker tasks (idempotent; needs a running event loop)."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    def log(self, url: str, kind: Kind, payload: Payload, puid: str, node: str) -> bool:
        """Queue one event; False (counted as ``dropped``) when the queue is full."""
        headers = {
            **self._static,
            "Content-Type": payload.content_type,
            "ce-id": str(uuid.uuid4()),
            "ce-type": CE_TYPES[kind],
            "ce-time": datetime.now(UTC).isoformat(),
            "ce-requestid": puid,
            "ce-modelid": node,
        }
        try:
            self._queue.put_nowait(_Event(url, headers, payload.to_bytes()))
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
