"""Tests of ``model/``: the components in process and as ``seldon-core-microservice``.

The session-wide fixtures (``artifacts_dir``, ``log_dir``) come from ``tests/conftest.py``."""
