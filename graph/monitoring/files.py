"""Where the monitoring files live: one home, in the Helm chart's ``files/``.

The chart reads them with ``.Files.Get`` (the ``PrometheusRule`` and the dashboard
``ConfigMap``); the local stack and the tests read the same files from here.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_FILES = REPO_ROOT / "charts" / "seldon-graph" / "files"
# Recording and alerting rules (a Prometheus rule file: ``groups:``).
RULES_FILE = CHART_FILES / "prometheus-rules.yaml"
# The Grafana dashboard (dashboard JSON model, schemaVersion 39).
DASHBOARD_FILE = CHART_FILES / "grafana-dashboard.json"
