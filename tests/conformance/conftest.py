"""Conformance tests use the session fixtures of tests/conftest.py (running graphs)."""
