"""Peer serving systems benchmarked next to the classifier and the graph, one folder each.

``registry.py`` lists every peer (name, venv, server, request, settings, whether it is
a three-node composition or a single model); ``scenarios.py`` and ``report.py`` read only
from it. Each ``<peer>/peer.py`` runs in the benchmark process (venv, server command,
settings for the report); the rest of a peer's folder runs inside the peer's own venv
(``benchmarks.peer_env``): the single-model runtimes import only ``digits.py``; the
BentoML and Ray Serve graphs also run the project's transformer and drift worker
(``components.py``), the drift window test in a helper process of the project's venv
(``window_test.py``).
"""
