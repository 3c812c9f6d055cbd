"""Node clients: how the executor calls a graph node (REST, gRPC or in process)."""

from graph.clients.base import NodeClient, NodeEndpoint, Timeouts

__all__ = ["NodeClient", "NodeEndpoint", "Timeouts"]
