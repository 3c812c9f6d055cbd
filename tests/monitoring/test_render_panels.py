"""``python -m graph.monitoring.render_panels`` draws the dashboard's main panels from a
real Prometheus (scraping executor and drift-node metrics endpoints) into a PNG."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from graph.monitoring import PrometheusClient, ScrapeTarget, monitoring_stack
from graph.monitoring.panels import MAIN_PANELS, legend, substitute
from graph.monitoring.render_panels import main as render_main
from tests.monitoring.conftest import PromTools
from tests.monitoring.servers import ExecutorMetrics, SeldonNodeMetrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_variables_and_legends_are_substituted_as_grafana_does() -> None:
    expr = 'x{deployment_name="$deployment", p=~"${predictor}"}[$__rate_interval]'
    values = {"deployment": "digits", "predictor": ".*", "__rate_interval": "15s"}
    assert substitute(expr, values) == 'x{deployment_name="digits", p=~".*"}[15s]'
    assert legend("p99 {{predictor_name}}", {"predictor_name": "canary"}) == "p99 canary"


@pytest.mark.slow
def test_the_main_panels_are_drawn_with_data_from_prometheus(
    prom_tools: PromTools,
    metric_endpoints: tuple[ExecutorMetrics, SeldonNodeMetrics],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    executor, drift = metric_endpoints
    labels = {"seldon_deployment_id": "digits"}
    targets = [
        ScrapeTarget("digits-executor", [executor.hostport], "/prometheus", labels),
        ScrapeTarget("digits-nodes", [drift.hostport], "/prometheus", labels),
    ]
    out = tmp_path / "panels.png"
    with monitoring_stack(targets) as stack:
        prom = PrometheusClient(stack.prometheus_url)
        deadline = time.monotonic() + 60
        while prom.scalar("count(up == 1)") != 2.0:
            assert time.monotonic() < deadline, prom.targets()
            time.sleep(0.2)
        for second in range(8):  # traffic for a few scrapes
            for _ in range(20):
                executor.rest("main", 0.02)
                executor.rest("canary", 0.2, code=500 if second % 2 else 200)
            drift.set_drift(second > 4, p_val=0.5 if second <= 4 else 0.001)
            time.sleep(1)
        code = render_main(["--prometheus-url", stack.prometheus_url, "--out", str(out),
                            "--minutes", "1", "--rate-interval", "4s"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 20_000
    for title in MAIN_PANELS[:4]:  # traffic, errors, latency, drift p-value: all have data
        assert f"  {title}: 0 series" not in printed and f"  {title}:" in printed, printed


def test_an_unreachable_prometheus_exits_1(tmp_path: Path) -> None:
    from tests.fixtures.processes import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert render_main(["--prometheus-url", url, "--out", str(tmp_path / "x.png")]) == 1
    assert not (tmp_path / "x.png").exists()
