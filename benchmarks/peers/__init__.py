"""Peer serving systems benchmarked next to the classifier, one folder each.

Each ``<peer>/peer.py`` runs in the benchmark process (venv, server command, request
bodies, settings for the report); the rest of a peer's folder runs inside the peer's own
venv (``benchmarks/.work/<peer>-venv``) and imports only ``benchmarks.peers.digits``.
"""
