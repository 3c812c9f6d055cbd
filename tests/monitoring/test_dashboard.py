"""The shipped Grafana dashboard: typed against Grafana's published schema
(@grafana/schema + tsc), every panel query parses (promtool), and it is filtered by the
deployment and predictor template variables."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.monitoring import DASHBOARD_FILE
from tests.monitoring.conftest import HERE, PromTools

# Installed with npm into a cache outside the work tree, pinned.
NPM_CACHE = Path.home() / ".cache" / "seldon-graph" / "npm"
NPM_PACKAGES = ("@grafana/schema@11.6.16", "typescript@5.9.3")
TYPES_TS = HERE / "dashboard_types.ts"
TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "module": "esnext",
        "moduleResolution": "bundler",
        "target": "es2022",
        "skipLibCheck": True,
        "types": [],
        "allowImportingTsExtensions": True,
    },
    "files": ["check.ts"],
}
# Values for Grafana's variables, so that each query is plain PromQL.
VARIABLES = {
    "$__rate_interval": "5m",
    "$deployment": "digits",
    "$predictor": ".*",
    "$node": ".*",
}


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_FILE.read_text()))


def _targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target


@pytest.fixture(scope="session")
def tsc() -> Path:
    """tsc with @grafana/schema beside it, installed once into the npm cache."""
    binary = NPM_CACHE / "node_modules" / ".bin" / "tsc"
    installed = NPM_CACHE / "package.json"
    wanted = {spec.rsplit("@", 1)[0]: spec.rsplit("@", 1)[1] for spec in NPM_PACKAGES}
    current = json.loads(installed.read_text()) if installed.exists() else {}
    if binary.exists() and current.get("dependencies") == wanted:
        return binary
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the dashboard's type check needs node and npm")
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    installed.write_text(json.dumps({"private": True}))
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact",
         *NPM_PACKAGES],
        cwd=NPM_CACHE, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return binary


def _type_check(tsc: Path, dashboard: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """tsc on dashboard_types.ts + ``const dashboard: SeldonGraphDashboard = <JSON>``."""
    work = Path(tempfile.mkdtemp(prefix="check-", dir=NPM_CACHE))
    try:
        body = json.dumps(dashboard, indent=2)
        source = f"{TYPES_TS.read_text()}\nexport const dashboard: SeldonGraphDashboard = {body};\n"
        (work / "check.ts").write_text(source)
        (work / "tsconfig.json").write_text(json.dumps(TSCONFIG))
        return subprocess.run(
            [str(tsc), "-p", str(work / "tsconfig.json")],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        shutil.rmtree(work)


def test_dashboard_has_the_grafana_dashboard_types(tsc: Path) -> None:
    done = _type_check(tsc, _dashboard())
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_type_check_rejects_a_misspelt_panel_field(tsc: Path) -> None:
    dashboard = _dashboard()
    dashboard["panels"][1]["fieldConfig"]["defaults"]["unitt"] = "s"
    done = _type_check(tsc, dashboard)
    assert done.returncode != 0 and "unitt" in done.stdout


def test_every_panel_query_parses(prom_tools: PromTools, tmp_path: Path) -> None:
    rules = []
    for index, (title, target) in enumerate(_targets(_dashboard())):
        expr = target["expr"]
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{title}: unknown variable in {expr}"
        rules.append({"record": f"dashboard:panel_query:{index}", "expr": expr})
    assert len(rules) >= 20
    rule_file = tmp_path / "dashboard-queries.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = prom_tools.promtool_run("check", "rules", str(rule_file))
    assert done.returncode == 0, done.stdout + done.stderr


def test_panels_are_filtered_by_deployment_and_predictor() -> None:
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"datasource", "deployment", "predictor"} <= set(variables)
    assert variables["predictor"]["multi"] and variables["predictor"]["allValue"] == ".*"
    for title, target in _targets(dashboard):
        assert "$deployment" in target["expr"], title
        seldon_metric = re.search(
            r"\b(seldon_api_executor|seldon_metric|drift_|batch_size)", target["expr"]
        )
        if seldon_metric:
            assert 'predictor_name=~"$predictor"' in target["expr"], title
        assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, title


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in _dashboard()["panels"]:
        pos = panel["gridPos"]
        cells = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
