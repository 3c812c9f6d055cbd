"""Call a node's Seldon REST endpoints with a shared, pooled aiohttp session.

As Seldon Core 1.17.1's executor does (``executor/api/rest/client.go``): the body is the
payload's bytes, posted with the payload's Content-Type (the client's for the first hop,
possibly empty; the previous node's after that), with the client's headers and the
``Seldon-Puid`` header (:mod:`graph.clients.headers`); the reply is the node's bytes and
Content-Type, unparsed. A non-200 reply is a :class:`NodeStatusError` (status and body
kept for the client); a refused, reset or closed connection or a timeout is an
:class:`ExecutorError` (500) naming the URL and the cause as Go's ``url.Error`` does, at
once (no retries).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

import aiohttp

from graph.clients.base import NodeEndpoint
from graph.clients.errors import ExecutorError, NodeStatusError
from graph.clients.headers import forwarded
from graph.payload import PUID_HEADER, Payload
from graph.payload.raw import RawPayload


class RestNodeClient:
    """One node over REST. The session is shared and owned by the caller."""

    def __init__(
        self, name: str, endpoint: NodeEndpoint, session: aiohttp.ClientSession, timeout: float
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self._session = session
        self._base = endpoint.http_url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_s = timeout

    async def predict(self, payload: Payload, puid: str) -> Payload:
        return await self._post("/predict", payload, puid)

    async def transform_input(self, payload: Payload, puid: str) -> Payload:
        return await self._post("/transform-input", payload, puid)

    async def transform_output(self, payload: Payload, puid: str) -> Payload:
        return await self._post("/transform-output", payload, puid)

    async def route(self, payload: Payload, puid: str) -> Payload:
        """A failed ``/route`` is the executor's error with the node's status
        (``executor/api/rest/client.go``, ``errors.go``): the node's body is dropped."""
        try:
            return await self._post("/route", payload, puid)
        except NodeStatusError as exc:
            url = self._base + "/route"
            raise ExecutorError(
                f"Internal service call from executor failed calling {url} "
                f"status code {exc.status_code}",
                exc.status_code,
            ) from exc

    async def aggregate(self, payloads: Sequence[Payload], puid: str) -> Payload:
        return await self._post("/aggregate", RawPayload.aggregate_body(payloads), puid)

    async def send_feedback(self, payload: Payload, puid: str) -> Payload:
        return await self._post("/send-feedback", payload, puid)

    async def close(self) -> None:
        """Nothing to release: the session belongs to whoever built the clients."""

    async def _post(self, path: str, payload: Payload, puid: str) -> RawPayload:
        url = self._base + path
        headers = [*forwarded(PUID_HEADER, puid), ("Content-Type", payload.content_type)]
        try:
            async with self._session.post(
                url, data=payload.to_bytes(), headers=headers, timeout=self._timeout
            ) as reply:
                raw = await reply.read()
                status = reply.status
                content_type = reply.headers.get("Content-Type", "")
        except TimeoutError as exc:
            raise ExecutorError(
                f'Post "{url}": context deadline exceeded '
                "(Client.Timeout exceeded while awaiting headers)"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise ExecutorError(f'Post "{url}": {_dial_error(exc)}') from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise ExecutorError(f'Post "{url}": EOF') from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise ExecutorError(f'Post "{url}": {exc or type(exc).__name__}') from exc
        if status != 200:
            raise NodeStatusError(self.name, status, raw, content_type)
        return RawPayload(raw, content_type)


def _dial_error(exc: aiohttp.ClientConnectorError) -> str:
    """Go's text for a failed dial (``dial tcp host:port: connect: ...``)."""
    where = f"dial tcp {exc.host}:{exc.port}"
    if exc.os_error.errno == errno.ECONNREFUSED:
        return f"{where}: connect: connection refused"
    return f"{where}: {exc.os_error.strerror or exc.os_error}"
