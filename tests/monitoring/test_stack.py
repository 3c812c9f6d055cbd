"""The local stack: its generated configs pass promtool/amtool, it binds loopback only,
its rules load healthy, and stop() ends both processes."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from graph.monitoring import (
    MonitoringSettings,
    PrometheusClient,
    ScrapeTarget,
    local_scrape_targets,
    start_monitoring,
)
from graph.monitoring.config import alertmanager_config, prometheus_config
from model.errors import ConfigError, InvalidInput
from tests.monitoring.conftest import PromTools

TARGET = ScrapeTarget("digits-executor", ["127.0.0.1:8000"], "/prometheus", {"x": "y"})


def _listening_ports(pid: int) -> set[tuple[str, int]]:
    """(address, port) of the LISTEN sockets the process holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        link = str(fd.readlink()) if fd.is_symlink() else ""
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                found.add((socket.inet_ntoa(bytes.fromhex(address)[::-1]), int(port, 16)))
    return found


def test_scrape_targets_are_checked() -> None:
    with pytest.raises(ConfigError, match="host:port"):
        ScrapeTarget("job", ["http://127.0.0.1:1/"])
    with pytest.raises(ConfigError, match="no targets"):
        ScrapeTarget("job", [])
    with pytest.raises(ConfigError, match="label"):
        ScrapeTarget("job", ["127.0.0.1:1"], labels={"bad-label": "x"})
    with pytest.raises(ConfigError, match="duration"):
        MonitoringSettings(scrape_interval="1 second")
    with pytest.raises(ConfigError, match="named twice"):
        prometheus_config([TARGET, TARGET], MonitoringSettings(), "127.0.0.1:1")


def test_generated_configs_pass_promtool_and_amtool(prom_tools: PromTools, tmp_path: Path) -> None:
    settings = MonitoringSettings(webhook_url="http://127.0.0.1:1/hook")

    prom = tmp_path / "prometheus.yml"
    prom.write_text(yaml.safe_dump(prometheus_config([TARGET], settings, "127.0.0.1:9")))
    am = tmp_path / "alertmanager.yml"
    am.write_text(yaml.safe_dump(alertmanager_config(settings)))
    done = prom_tools.promtool_run("check", "config", str(prom))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout and "rules found" in done.stdout  # the rules were read

    checked = subprocess.run(
        [prom_tools.amtool, "check-config", str(am)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_stack_listens_on_loopback_only_loads_the_rules_and_stops(
    prom_tools: PromTools, tmp_path: Path
) -> None:
    settings = MonitoringSettings(wait_for_targets=True)
    stack = start_monitoring([TARGET], tmp_path / "run", settings)
    try:
        for name, pid in stack.pids.items():
            listening = _listening_ports(pid)
            assert listening, f"{name} listens nowhere"
            assert {address for address, _ in listening} == {"127.0.0.1"}, (name, listening)
        assert len(_listening_ports(stack.pids["alertmanager"])) == 1  # no cluster port
        prom = PrometheusClient(stack.prometheus_url)
        rules = [rule for group in prom.rule_groups() for rule in group["rules"]]
        assert rules and all(rule["health"] != "err" for rule in rules)
        assert {t["labels"]["job"] for t in prom.targets()} == {"digits-executor"}
        with pytest.raises(InvalidInput):
            prom.query("sum(")
        assert (tmp_path / "run" / "prometheus-data").is_dir()
        # The files the stack wrote and runs on pass the tools' own checks.
        done = prom_tools.promtool_run("check", "config", str(tmp_path / "run" / "prometheus.yml"))
        assert done.returncode == 0, done.stdout + done.stderr
        checked = subprocess.run(
            [prom_tools.amtool, "check-config", str(tmp_path / "run" / "alertmanager.yml")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        pids = stack.pids
        stack.stop()
    assert stack.pids == {}
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists()


def test_local_targets_scrape_the_gateway_and_every_node_per_deployment(tmp_path: Path) -> None:
    state = {
        "digits/main/classifier": {"metrics_port": 6001},
        "digits/canary/classifier": {"metrics_port": 6002},
        "toy/main/model": {"metrics_port": 6003},
    }
    (tmp_path / "nodes.json").write_text(json.dumps(state))
    targets = local_scrape_targets("127.0.0.1:8000", tmp_path / "nodes.json")
    by_job = {t.job: t for t in targets}
    assert set(by_job) == {"executor", "gateway", "digits-nodes", "toy-nodes"}
    assert by_job["executor"].metrics_path == "/prometheus"
    assert by_job["gateway"].metrics_path == "/metrics"
    assert list(by_job["digits-nodes"].targets) == ["127.0.0.1:6001", "127.0.0.1:6002"]
    assert by_job["digits-nodes"].metrics_path == "/prometheus"
    assert by_job["toy-nodes"].labels == {"seldon_deployment_id": "toy"}
    (tmp_path / "nodes.json").write_text(json.dumps({"digits/main/x": {}}))
    with pytest.raises(ConfigError, match="metrics_port"):
        local_scrape_targets("127.0.0.1:8000", tmp_path / "nodes.json")
