"""The shipped rule file: valid for promtool, every rule unit-tested, every rule covered."""

from __future__ import annotations

from pathlib import Path

import yaml

from graph.monitoring import RULES_FILE
from tests.monitoring.conftest import HERE, PromTools

RULES_TEST = HERE / "rules_test.yaml"


def _rule_names() -> set[str]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return {rule.get("alert") or rule["record"] for group in groups for rule in group["rules"]}


def test_promtool_accepts_the_rule_file(prom_tools: PromTools) -> None:
    done = prom_tools.promtool_run("check", "rules", str(RULES_FILE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rule_names())} rules found" in done.stdout


def test_promtool_unit_tests_of_the_rules_pass(prom_tools: PromTools) -> None:
    done = prom_tools.promtool_run("test", "rules", RULES_TEST.name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_unit_test() -> None:
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    alerts = {name for name in _rule_names() if not name.startswith("deployment_predictor:")}
    assert alerts and alerts <= tested, f"alerts without a test: {sorted(alerts - tested)}"


def test_every_recording_rule_is_checked_in_a_unit_test() -> None:
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    text = " ".join(case["expr"] for test in tests for case in test.get("promql_expr_test", []))
    recorded = {name for name in _rule_names() if name.startswith("deployment_predictor:")}
    # The 5m/1h/6h slow-request ratios are exercised through the burn-rate alerts.
    unchecked = {name for name in recorded if name not in text and "slow_requests" not in name}
    assert not unchecked, f"recording rules without an expression test: {sorted(unchecked)}"


def test_a_wrong_expectation_fails_the_unit_tests(prom_tools: PromTools, tmp_path: Path) -> None:
    # The unit tests can fail: flip one expected value and promtool must say FAILED.
    text = RULES_TEST.read_text().replace("value: 49750", "value: 49751", 1)
    text = text.replace("../../charts", str(RULES_FILE.parents[2]), 1)
    broken = tmp_path / "rules_test.yaml"
    broken.write_text(text)
    done = prom_tools.promtool_run("test", "rules", str(broken))
    assert done.returncode != 0 and "FAILED" in done.stdout + done.stderr
