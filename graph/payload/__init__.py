"""The message that travels between graph nodes, whatever the transport.

``RawPayload`` (:mod:`~graph.payload.raw`) is a REST body as bytes and Content-Type,
passed on unparsed as Seldon's executor does; ``JsonPayload`` (:mod:`~graph.payload.json`)
wraps a parsed REST body (in-process nodes); ``ProtoPayload``
(:mod:`~graph.payload.proto`) wraps a gRPC ``SeldonMessage`` or ``Feedback``. Both give
the executor the same view (:class:`~graph.payload.base.Payload`) of ``meta``, the
failure ``status``, the route a router replied with and the aggregate request body
(``{"seldonMessages": [...]}`` / ``SeldonMessageList``).
"""

from graph.payload.base import (
    JSON_CONTENT_TYPE,
    PROTO_CONTENT_TYPE,
    PUID_HEADER,
    PUID_METADATA,
    Payload,
)
from graph.payload.json import JsonPayload
from graph.payload.proto import ProtoPayload, feedback_proto, message_proto
from graph.payload.raw import RawPayload

__all__ = [
    "JSON_CONTENT_TYPE",
    "PROTO_CONTENT_TYPE",
    "PUID_HEADER",
    "PUID_METADATA",
    "JsonPayload",
    "Payload",
    "ProtoPayload",
    "RawPayload",
    "feedback_proto",
    "message_proto",
]
