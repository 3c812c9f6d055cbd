"""Monitoring: a local Prometheus + Alertmanager, PromQL clients, and the shipped rules
and dashboard (in the chart's ``files/``, see :mod:`graph.monitoring.files`).

``start_monitoring(targets, run_dir)`` starts the stack for ``seldon-graph serve
--monitoring`` and returns a :class:`MonitoringStack` (URLs, ``stop()``);
``local_scrape_targets(gateway, run_dir / "nodes.json")`` lists what to scrape there.
"""

from graph.monitoring.config import MonitoringSettings, ScrapeTarget
from graph.monitoring.files import DASHBOARD_FILE, RULES_FILE
from graph.monitoring.query import AlertmanagerClient, PrometheusClient
from graph.monitoring.stack import MonitoringStack, monitoring_stack, start_monitoring
from graph.monitoring.targets import local_scrape_targets

__all__ = [
    "DASHBOARD_FILE",
    "RULES_FILE",
    "AlertmanagerClient",
    "MonitoringSettings",
    "MonitoringStack",
    "PrometheusClient",
    "ScrapeTarget",
    "local_scrape_targets",
    "monitoring_stack",
    "start_monitoring",
]
