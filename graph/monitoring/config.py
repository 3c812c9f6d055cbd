"""Settings of the local monitoring stack and the two configuration files it writes.

Pure functions: :func:`prometheus_config` and :func:`alertmanager_config` turn the scrape
targets and :class:`MonitoringSettings` into the dicts written as ``prometheus.yml`` and
``alertmanager.yml``; :mod:`graph.monitoring.stack` starts the binaries on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.monitoring.files import RULES_FILE
from model.errors import ConfigError

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d))+$")
_JOB = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_HOSTPORT = re.compile(r"^[^\s/:]+:[0-9]{1,5}$")


def check_duration(value: str, name: str) -> str:
    """``value`` when it is a Prometheus duration such as ``1s`` or ``1m30s``."""
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ConfigError(f"{name}: {value!r} is not a Prometheus duration (e.g. 1s, 5m)")
    return value


@dataclass(frozen=True)
class ScrapeTarget:
    """One scrape job: ``host:port`` targets, their metrics path and extra labels.

    Seldon's executor serves its metrics at ``/prometheus`` on its HTTP port, each node's
    Python wrapper at ``/prometheus`` on its metrics port (when the operator sets
    ``PREDICTIVE_UNIT_METRICS_ENDPOINT``; ``/metrics`` otherwise); the local gateway at
    ``/metrics``. ``labels`` are attached to every series scraped (e.g.
    ``{"seldon_deployment_id": "digits"}``, the label the node-down rule selects on).
    """

    job: str
    targets: Sequence[str]
    metrics_path: str = "/metrics"
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _JOB.match(self.job):
            raise ConfigError(f"scrape job {self.job!r}: letters, digits, _ and - only")
        if not self.targets:
            raise ConfigError(f"scrape job {self.job!r}: no targets")
        for target in self.targets:
            if not _HOSTPORT.match(target):
                raise ConfigError(f"scrape job {self.job!r}: target {target!r} is not host:port")
        if not self.metrics_path.startswith("/"):
            raise ConfigError(f"scrape job {self.job!r}: metrics_path must start with /")
        for name in self.labels:
            if not _LABEL.match(name):
                raise ConfigError(f"scrape job {self.job!r}: bad label name {name!r}")


@dataclass(frozen=True)
class MonitoringSettings:
    """How the local Prometheus and Alertmanager run.

    Defaults suit a laptop: scrape and evaluate every second, Alertmanager groups for a
    second before it notifies. ``webhook_url`` (None: no receiver) gets every alert
    notification, resolved ones included. ``rule_files`` default to the rules shipped in
    the chart (the same file the ``PrometheusRule`` carries).
    """

    scrape_interval: str = "1s"
    evaluation_interval: str = "1s"
    rule_files: Sequence[Path] = (RULES_FILE,)
    webhook_url: str | None = None
    group_wait: str = "1s"
    group_interval: str = "1s"
    repeat_interval: str = "1h"
    retention: str = "1d"
    startup_timeout_s: float = 30.0
    # Also wait until Prometheus lists every scrape target: its discovery hands targets
    # to the scrapers about 5 s after start.
    wait_for_targets: bool = False

    def __post_init__(self) -> None:
        for name in ("scrape_interval", "evaluation_interval", "group_wait", "group_interval"):
            check_duration(getattr(self, name), name)
        check_duration(self.repeat_interval, "repeat_interval")
        check_duration(self.retention, "retention")
        for path in self.rule_files:
            if not Path(path).is_file():
                raise ConfigError(f"rule file {path} does not exist")
        if self.webhook_url is not None and not re.match(r"^https?://", self.webhook_url):
            raise ConfigError(f"webhook_url {self.webhook_url!r} is not an http(s) URL")
        if self.startup_timeout_s <= 0:
            raise ConfigError("startup_timeout_s must be positive")


def prometheus_config(
    targets: Sequence[ScrapeTarget], settings: MonitoringSettings, alertmanager: str
) -> dict[str, Any]:
    """``prometheus.yml``: the scrape jobs, the rule files and the Alertmanager at
    ``alertmanager`` (``host:port``)."""
    jobs = [t.job for t in targets]
    duplicated = sorted({job for job in jobs if jobs.count(job) > 1})
    if duplicated:
        raise ConfigError(f"scrape jobs named twice: {', '.join(duplicated)}")
    scrape_configs = []
    for target in targets:
        static: dict[str, Any] = {"targets": list(target.targets)}
        if target.labels:
            static["labels"] = dict(target.labels)
        scrape_configs.append(
            {
                "job_name": target.job,
                "metrics_path": target.metrics_path,
                "static_configs": [static],
            }
        )
    return {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.evaluation_interval,
        },
        "rule_files": [str(Path(path).resolve()) for path in settings.rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": scrape_configs,
    }


def alertmanager_config(settings: MonitoringSettings) -> dict[str, Any]:
    """``alertmanager.yml``: one route grouped per alert, deployment and predictor, to
    the webhook (or to a receiver without notifications when there is none)."""
    receiver: dict[str, Any] = {"name": "default"}
    if settings.webhook_url:
        receiver["webhook_configs"] = [{"url": settings.webhook_url, "send_resolved": True}]
    return {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "deployment_name", "predictor_name"],
            "group_wait": settings.group_wait,
            "group_interval": settings.group_interval,
            "repeat_interval": settings.repeat_interval,
        },
        "receivers": [receiver],
    }
