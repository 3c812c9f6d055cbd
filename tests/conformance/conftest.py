"""Conformance tests: behaviours pinned to Seldon Core 1.17.1 sources (one file per area);
they use the session fixtures of tests/conftest.py (running graphs)."""
