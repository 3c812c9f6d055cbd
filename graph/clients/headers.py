"""The client's headers (REST) or metadata (gRPC) that every node call of a request carries.

Seldon Core 1.17.1's executor copies every incoming request header except Content-Type onto
each node request (``executor/api/rest/client.go``; Go computes Host, Content-Length,
Transfer-Encoding and Trailer itself) and every incoming gRPC metadata pair onto each node
call (``executor/api/grpc/client.go``); the puid travels as ``Seldon-Puid``. The executor
sets them for the request (:func:`forwarding`, a context variable that the concurrent
child calls inherit); the clients read them (:func:`forwarded`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

Pairs = tuple[tuple[str, str], ...]

# what the HTTP client computes itself, or what belongs to one hop only
_REST_SKIP = frozenset(
    ("content-type", "host", "content-length", "transfer-encoding", "trailer", "connection",
     "keep-alive", "upgrade", "te", "proxy-connection")
)  # fmt: skip
_CURRENT: ContextVar[Pairs] = ContextVar("forwarded_headers", default=())


def rest_headers(headers: Iterable[tuple[str, str]]) -> Pairs:
    """The client's HTTP headers that go on to the nodes."""
    return tuple((k, v) for k, v in headers if k.lower() not in _REST_SKIP)


def grpc_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> Pairs:
    """The client's gRPC metadata that goes on to the nodes (grpc's reserved keys aside)."""
    return tuple(
        (k.lower(), v)  # type: ignore[misc]
        for k, v in metadata
        if not k.startswith((":", "grpc-")) and k.lower() not in ("content-type", "te")
    )


@contextlib.contextmanager
def forwarding(pairs: Pairs) -> Iterator[None]:
    """Within this block, node calls carry ``pairs``."""
    token = _CURRENT.set(pairs)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def forwarded(puid_key: str, puid: str) -> list[tuple[str, str]]:
    """The pairs for one node call: the client's, with the puid set once."""
    lowered = puid_key.lower()
    return [(k, v) for k, v in _CURRENT.get() if k.lower() != lowered] + [(puid_key, puid)]
