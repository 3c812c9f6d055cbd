"""Tests of ``graph/``: one folder per package (validation, render, payload, clients,
gateway, runner, canary, k8s); the running graphs they share are session fixtures from
``tests/conftest.py`` (``toy_served``, ``digits_served``)."""
