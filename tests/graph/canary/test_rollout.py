"""The rollout's decision function and step loop, on synthetic numbers; its file edits."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from graph.canary.audit import AuditLog
from graph.canary.decision import Thresholds, decide
from graph.canary.health import PredictorHealth
from graph.canary.rollout import (
    Outcome,
    RolloutSettings,
    parse_duration,
    parse_steps,
    run_rollout,
)
from graph.canary.target import ManifestTarget
from graph.cli import main as cli
from graph.gateway.metrics import GatewayMetrics
from model.errors import ConfigError, Unavailable

MANIFEST = Path(__file__).resolve().parents[3] / "graph" / "seldondeployment.yaml"
T = Thresholds(error_margin=0.01, latency_ratio=1.5, min_requests=20, max_waits=2)
MAIN = PredictorHealth(requests=500, errors=5, p99=0.100, drift=False)


def h(requests: float = 100, errors: float = 0, p99: float | None = 0.1,
      drift: bool | None = False) -> PredictorHealth:  # fmt: skip
    return PredictorHealth(requests, errors, p99, drift)


# ---------------------------------------------------------------- decide (pure)
def test_a_healthy_canary_continues() -> None:
    d = decide(h(100, errors=1, p99=0.14), MAIN, T)
    assert d.verdict == "continue" and d.reference == "interval"


def test_errors_over_main_plus_margin_roll_back() -> None:
    assert decide(h(100, errors=2, p99=0.1), MAIN, T).verdict == "continue"  # 0.02 <= 0.01+0.01
    d = decide(h(100, errors=3, p99=0.1), MAIN, T)  # 0.03 > 0.02
    assert d.verdict == "rollback" and "error rate 0.0300 > main 0.0100" in d.reason


def test_p99_over_main_times_ratio_rolls_back() -> None:
    assert decide(h(p99=0.15), MAIN, T).verdict == "continue"
    d = decide(h(p99=0.151), MAIN, T)
    assert d.verdict == "rollback" and "p99 151.0 ms > main p99 100.0 ms x 1.5" in d.reason


def test_drift_rolls_back_even_with_few_requests() -> None:
    d = decide(h(requests=3, drift=True), MAIN, T)
    assert d.verdict == "rollback" and "drift" in d.reason


def test_too_few_canary_requests_wait_then_fail_safe() -> None:
    few = h(requests=19)
    assert decide(few, MAIN, T, waits=0).verdict == "wait"
    assert decide(few, MAIN, T, waits=1).verdict == "wait"
    d = decide(few, MAIN, T, waits=2)
    assert d.verdict == "rollback" and "not enough data" in d.reason


def test_idle_main_errors_come_from_the_baseline_and_latency_is_not_compared() -> None:
    idle_main = h(requests=0, p99=None)
    d = decide(h(errors=2, p99=0.9), idle_main, T, baseline=MAIN)  # 0.02 <= 0.01 + 0.01
    assert d.verdict == "continue" and d.reference == "baseline"
    assert "no current main p99" in d.reason  # a p99 under another load is not comparable
    d = decide(h(errors=3), idle_main, T, baseline=MAIN)
    assert d.verdict == "rollback" and d.reference == "baseline"
    d = decide(h(errors=1, p99=0.2), idle_main, T, baseline=None)  # no reference at all
    assert d.verdict == "continue" and d.reference == "none"
    assert decide(h(errors=2, p99=0.2), idle_main, T).verdict == "rollback"  # 0.02 > 0 + 0.01


@pytest.mark.parametrize(("text", "steps"), [("10,25,50,100", (10, 25, 50, 100)), ("5", (5,))])
def test_steps_parse(text: str, steps: tuple[int, ...]) -> None:
    assert parse_steps(text) == steps


@pytest.mark.parametrize("text", ["", "0,50", "50,25", "10,x", "10,101"])
def test_bad_steps_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_steps(text)


def test_durations() -> None:
    assert parse_duration("60s") == 60 and parse_duration("2m") == 120
    assert parse_duration("500ms") == 0.5 and parse_duration("3") == 3
    with pytest.raises(ConfigError):
        parse_duration("soon")


# ---------------------------------------------------------------- the loop (fakes)
class FakeTarget:
    canary, main = "canary", "main"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def set_canary(self, weight: int) -> dict[str, int]:
        self.calls.append(f"set {weight}")
        return {"main": 100 - weight, "canary": weight}

    def rollback(self) -> dict[str, int]:
        self.calls.append("rollback")
        return {"main": 100, "canary": 0}

    def promote(self) -> dict[str, int]:
        self.calls.append("promote")
        return {"main": 100}


class ScriptedSource:
    """Answers each read with the next scripted numbers (or raises them)."""

    def __init__(self, *answers: dict[str, PredictorHealth] | BaseException) -> None:
        self.answers = list(answers)

    def begin(self) -> None:
        return None

    def read(self, start: object, window_s: float) -> dict[str, PredictorHealth]:
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def details(self) -> dict[str, object]:
        return {}


def rollout(source: ScriptedSource, steps: tuple[int, ...] = (10, 50, 100), promote: bool = False,
            path: Path | None = None) -> tuple[Outcome, FakeTarget, AuditLog]:  # fmt: skip
    target, audit = FakeTarget(), AuditLog(path, "digits")
    settings = RolloutSettings(steps, 5.0, T, promote)
    outcome = run_rollout(settings, target, source, audit, sleep=lambda s: None)
    return outcome, target, audit


HEALTHY = {"main": MAIN, "canary": h()}


def test_healthy_steps_run_to_the_end_and_promote(
    tmp_path: Path, read_audit: Callable[[Path], list[dict]]
) -> None:
    outcome, target, _ = rollout(ScriptedSource(HEALTHY, HEALTHY, HEALTHY), promote=True,
                                     path=tmp_path / "audit.jsonl")  # fmt: skip
    assert outcome.status == "promoted"
    assert target.calls == ["set 10", "set 50", "set 100", "promote"]
    records = read_audit(tmp_path / "audit.jsonl")
    verdicts = [r["verdict"] for r in records if r["event"] == "decision"]
    assert verdicts == ["continue", "continue", "complete"]
    first = next(r for r in records if r["event"] == "decision")
    assert first["predictors"]["canary"]["requests"] == 100
    assert first["thresholds"] == {"error_margin": 0.01, "latency_ratio": 1.5,
                                   "min_requests": 20, "max_waits": 2}  # fmt: skip
    assert first["weights"] == {"main": 90, "canary": 10}


def test_a_failing_canary_is_rolled_back_at_the_step_it_fails() -> None:
    bad = {"main": MAIN, "canary": h(errors=50)}
    outcome, target, audit = rollout(ScriptedSource(HEALTHY, bad))
    assert outcome.status == "rolled_back" and outcome.step == 2
    assert target.calls == ["set 10", "set 50", "rollback"]
    assert audit.records[-1]["event"] == "rollback"
    assert audit.records[-1]["weights"] == {"main": 100, "canary": 0}


def test_waiting_for_data_then_continuing() -> None:
    few = {"main": MAIN, "canary": h(requests=5)}
    outcome, target, audit = rollout(ScriptedSource(few, HEALTHY), steps=(10,))
    assert outcome.status == "complete"
    assert [r["verdict"] for r in audit.records if r["event"] == "decision"] == ["wait", "complete"]
    assert target.calls == ["set 10"]


def test_no_data_at_all_fails_safe_after_the_waits() -> None:
    few = {"main": MAIN, "canary": h(requests=0, p99=None)}
    outcome, target, _ = rollout(ScriptedSource(few, few, few))
    assert outcome.status == "rolled_back" and "not enough data" in outcome.reason
    assert target.calls == ["set 10", "rollback"]


def test_unreadable_metrics_roll_back() -> None:
    outcome, target, _ = rollout(ScriptedSource(Unavailable("connection refused")))
    assert outcome.status == "rolled_back" and "metrics unavailable" in outcome.reason
    assert target.calls[-1] == "rollback"


def test_ctrl_c_rolls_back() -> None:
    outcome, target, _ = rollout(ScriptedSource(HEALTHY, KeyboardInterrupt()))
    assert outcome.status == "interrupted" and target.calls[-1] == "rollback"


# ---------------------------------------------------------------- file edits and the CLI
@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "sd.yaml"
    shutil.copy(MANIFEST, path)
    return path


def traffic(path: Path) -> dict[str, int]:
    doc = yaml.safe_load(path.read_text())
    return {p["name"]: p["traffic"] for p in doc["spec"]["predictors"]}


def test_manifest_target_changes_only_the_traffic_lines(manifest: Path) -> None:
    target = ManifestTarget(manifest)
    assert (target.main, target.canary, target.deployment) == ("main", "canary", "digits")
    before = manifest.read_text().splitlines()
    assert target.set_canary(25) == {"main": 75, "canary": 25}
    after = manifest.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [("      traffic: 90", "      traffic: 75"),
                       ("      traffic: 10", "      traffic: 25")]  # fmt: skip
    assert target.rollback() == {"main": 100, "canary": 0}
    assert traffic(manifest) == {"main": 100, "canary": 0}


@pytest.fixture
def fake_gateway() -> Iterator[tuple[str, GatewayMetrics]]:
    """An HTTP server exposing a GatewayMetrics registry the test fills in."""
    metrics = GatewayMetrics()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = metrics.exposition()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics", metrics
    finally:
        server.shutdown()
        server.server_close()


def test_cli_rolls_back_a_canary_whose_requests_fail(
    manifest: Path,
    tmp_path: Path,
    fake_gateway: tuple[str, GatewayMetrics],
    read_audit: Callable[[Path], list[dict]],
) -> None:
    url, metrics = fake_gateway
    stop = threading.Event()

    def traffic_with_failing_canary() -> None:
        while not stop.is_set():
            metrics.request("digits", "main", "rest", "predict", 0.01)
            metrics.request("digits", "canary", "rest", "predict", 0.01, 503)
            stop.wait(0.005)

    thread = threading.Thread(target=traffic_with_failing_canary)
    thread.start()
    audit = tmp_path / "audit.jsonl"
    try:
        code = cli([
            "canary", "run", str(manifest), "--steps", "10,50,100", "--interval", "0.3s",
            "--min-requests", "5", "--metrics-url", url, "--audit", str(audit),
        ])  # fmt: skip
    finally:
        stop.set()
        thread.join()
    assert code == 1
    assert traffic(manifest) == {"main": 100, "canary": 0}
    records = read_audit(audit)
    decision = next(r for r in records if r["event"] == "decision")
    assert decision["verdict"] == "rollback" and decision["step"] == 1
    assert decision["predictors"]["canary"]["error_rate"] == 1.0
    assert [r["event"] for r in records] == ["step", "decision", "rollback"]


def test_cli_usage_errors_exit_2(manifest: Path) -> None:
    assert cli(["canary", "run", str(manifest), "--steps", "50,10"]) == 2
    assert cli(["canary", "run", str(manifest), "--interval", "0s"]) == 2
    assert traffic(manifest) == {"main": 90, "canary": 10}
