"""Call a node's Seldon REST endpoints with a shared, pooled aiohttp session.

Bodies are the JSON of ``JsonPayload`` (``model.fastjson``; encoded once, decoded once per
hop) posted as ``application/json`` with the ``Seldon-Puid`` header, as Seldon's executor does. A
failing reply keeps its HTTP status (4xx stays 4xx); a refused, reset or closed
connection is ``Unavailable`` at once (no retries); a slow node is ``Timeout``.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from graph.clients.base import NodeEndpoint, failure_error, node_error
from graph.payload import JSON_CONTENT_TYPE, PUID_HEADER, JsonPayload, Payload
from model import fastjson
from model.errors import InvalidInput, Timeout, Unavailable


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
        return await self._post("/predict", payload.json_bytes(), puid)

    async def transform_input(self, payload: Payload, puid: str) -> Payload:
        return await self._post("/transform-input", payload.json_bytes(), puid)

    async def transform_output(self, payload: Payload, puid: str) -> Payload:
        return await self._post("/transform-output", payload.json_bytes(), puid)

    async def route(self, payload: Payload, puid: str) -> Payload:
        return await self._post("/route", payload.json_bytes(), puid)

    async def aggregate(self, payloads: Sequence[Payload], puid: str) -> Payload:
        lenient = any(p.lenient for p in payloads)
        body = fastjson.dumps(JsonPayload.aggregate_body(payloads), lenient)
        return await self._post("/aggregate", body, puid)

    async def send_feedback(self, payload: Payload, puid: str) -> Payload:
        return await self._post("/send-feedback", payload.json_bytes(), puid)

    async def close(self) -> None:
        """Nothing to release: the session belongs to whoever built the clients."""

    async def _post(self, path: str, body: bytes, puid: str) -> JsonPayload:
        headers = {"Content-Type": JSON_CONTENT_TYPE, PUID_HEADER: puid}
        try:
            async with self._session.post(
                self._base + path, data=body, headers=headers, timeout=self._timeout
            ) as reply:
                raw = await reply.read()
                status = reply.status
        except TimeoutError as exc:
            raise Timeout(
                f"node {self.name} did not answer {path} within {self._timeout_s:g}s"
            ) from exc
        except (aiohttp.ClientConnectionError, ConnectionError) as exc:
            raise Unavailable(f"node {self.name} unavailable: {exc or type(exc).__name__}") from exc
        except aiohttp.ClientError as exc:
            raise Unavailable(f"node {self.name} unavailable: {exc}") from exc
        return self._reply(path, status, raw)

    def _reply(self, path: str, status: int, raw: bytes) -> JsonPayload:
        try:
            parsed = JsonPayload.from_bytes(raw)
        except InvalidInput:
            if status >= 400:
                raise node_error(self.name, status, raw[:300].decode(errors="replace")) from None
            raise node_error(
                self.name, 502, f"{path} replied with a body that is not a JSON object"
            ) from None
        failure = parsed.failure()
        if status >= 400:
            info = failure or {"info": raw[:300].decode(errors="replace")}
            # the HTTP status is the truth: Seldon's own exceptions put code -1 in the body
            raise failure_error(self.name, {**info, "code": status})
        if failure is not None:
            raise failure_error(self.name, failure)
        return parsed
