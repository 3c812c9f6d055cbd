"""Unit tests of the benchmark arithmetic: percentiles, wrk output, median rounds, ratios."""

from __future__ import annotations

import math

import pytest

from benchmarks import loadgen, plot, report


def row(name: str, transport: str, concurrency: int, rps: float, p50: float = 10.0,
        payload: str = "tensor", round_index: int = 0, **extra: object) -> dict:  # fmt: skip
    return {"name": name, "target": extra.pop("target", name), "transport": transport,
            "payload": payload, "concurrency": concurrency, "throughput_rps": rps,
            "p50_ms": p50, "p90_ms": p50 * 1.5, "p99_ms": p50 * 2, "errors": 0,
            "round": round_index, **extra}  # fmt: skip


# ----- percentiles and load results -----
def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert loadgen.percentile(values, 50) == pytest.approx(50.5)
    assert loadgen.percentile(values, 99) == pytest.approx(99.01)
    assert loadgen.percentile(values, 0) == 1.0
    assert loadgen.percentile(values, 100) == 100.0


def test_percentile_ignores_input_order() -> None:
    assert loadgen.percentile([5.0, 1.0, 3.0], 50) == 3.0


def test_percentile_of_nothing_is_nan_and_bad_q_is_refused() -> None:
    assert math.isnan(loadgen.percentile([], 50))
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        loadgen.percentile([1.0], 101)


def test_summarise_converts_seconds_to_milliseconds() -> None:
    result = loadgen.summarise([0.001, 0.002, 0.003], errors=1, duration_s=2.0)
    assert result.requests == 3
    assert result.p50_ms == pytest.approx(2.0)
    assert result.throughput_rps == pytest.approx(1.0)  # (3 - 1) / 2 s


def test_raw_throughput_counts_images_not_calls() -> None:
    result = loadgen.LoadResult(10, 0, 2.0, 1.0, 1.0, 1.0, items_per_request=32)
    assert result.throughput_rps == pytest.approx(160.0)


def test_throughput_is_never_negative() -> None:
    assert loadgen.LoadResult(2, 5, 1.0, 1.0, 1.0, 1.0).throughput_rps == 0.0


def test_time_forward_runs_back_to_back_and_reports_images() -> None:
    calls: list[int] = []
    result = loadgen.time_forward(lambda: calls.append(1), 4, duration_s=0.05, warmup_s=0.0)
    assert result.requests == len(calls) - 1  # one untimed warm-up call
    assert result.throughput_rps == pytest.approx(4 * result.requests / result.duration_s)


# ----- wrk -----
def test_parse_wrk_output_reads_the_done_hook_line() -> None:
    stdout = (
        "Running 2s test @ http://127.0.0.1:1/x\n"
        'WRK_JSON {"requests": 200, "duration_us": 2000000, "non2xx": 3, '
        '"socket_errors": 1, "p50_us": 1500, "p90_us": 2500, "p99_us": 9000, "mean_us": 1.0}\n'
    )
    result = loadgen.parse_wrk_output(stdout)
    assert (result.requests, result.errors) == (200, 4)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (1.5, 2.5, 9.0)
    assert result.throughput_rps == pytest.approx(98.0)
    assert dict(result.error_kinds) == {"non-2xx": 3, "socket": 1}


def test_parse_wrk_output_without_result_line_is_an_error() -> None:
    with pytest.raises(loadgen.LoadError, match="no result line"):
        loadgen.parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.parametrize(("concurrency", "threads"), [(1, 1), (8, 2), (64, 2)])
def test_wrk_uses_one_thread_for_one_client_else_two(concurrency: int, threads: int) -> None:
    assert loadgen.wrk_threads(concurrency) == threads


def test_load_generators_refuse_non_loopback_targets() -> None:
    with pytest.raises(loadgen.LoadError, match="non-loopback"):
        loadgen.run_grpc("example.com:443", "/a/B", b"", concurrency=1, duration_s=1,
                         warmup_s=0)  # fmt: skip


# ----- median rounds, ratios, targets -----
def test_median_round_keeps_the_whole_median_row() -> None:
    runs = [(300.0, 30.0), (100.0, 90.0), (200.0, 50.0)]
    rows = [row("batched", "rest", 32, rps, p50=p50, round_index=i)
            for i, (rps, p50) in enumerate(runs)]  # fmt: skip
    [median] = report.median_rounds(rows)
    assert (median["throughput_rps"], median["p50_ms"]) == (200.0, 50.0)
    assert median["rounds"] == 3
    assert sorted(median["throughput_rps_rounds"]) == [100.0, 200.0, 300.0]
    assert "round" not in median


def test_median_of_two_rounds_is_the_lower_one() -> None:
    rows = [row("graph", "grpc", 1, 10.0, round_index=0), row("graph", "grpc", 1, 20.0, 1)]
    assert report.median_rounds(rows)[0]["throughput_rps"] == 10.0


def test_median_rounds_keeps_cases_apart() -> None:
    rows = [row("payload", "rest", 1, 5.0, payload="ndarray", target="graph"),
            row("payload", "rest", 1, 7.0, payload="ndarray", target="batched"),
            row("payload", "rest", 1, 9.0, payload="tensor", target="graph")]  # fmt: skip
    assert len(report.median_rounds(rows)) == 3


def _full_rows() -> list[dict]:
    return [
        row("baseline", "rest", 32, 100.0), row("baseline", "grpc", 32, 120.0),
        row("batched", "rest", 32, 250.0), row("batched", "grpc", 32, 300.0),
        row("mlserver", "rest", 32, 200.0),
        row("graph", "rest", 32, 150.0), row("graph", "grpc", 32, 240.0),
        row("baseline", "rest", 1, 50.0), row("baseline", "grpc", 1, 60.0),
        row("batched", "rest", 1, 49.0, p50=10.0), row("graph", "rest", 1, 20.0, p50=19.0),
        row("batched", "grpc", 1, 60.0, p50=8.0), row("graph", "grpc", 1, 30.0, p50=14.0),
        row("graph_nodrift", "rest", 1, 25.0, p50=18.8),
        row("graph_nodrift", "grpc", 1, 35.0, p50=12.0),
        row("raw", "inprocess", 1, 1000.0, payload="batch-formed", batch_size=16),
    ]  # fmt: skip


def test_ratios_compare_the_right_rows() -> None:
    values = report.ratios(report.median_rounds(_full_rows()))
    assert values["batched/baseline throughput @32 rest"] == 2.5
    assert values["batched/baseline throughput @32 grpc"] == 2.5
    assert values["batched/mlserver throughput @32 rest"] == 1.25
    assert values["graph/baseline throughput @32 grpc"] == 2.0
    assert values["batched/baseline throughput @1 rest"] == 0.98
    assert values["graph-batched p50 ms @1 rest"] == 9.0
    assert values["graph-batched p50 ms per hop @1 rest"] == 3.0
    assert values["graph-batched p50 ms per hop @1 grpc"] == 2.0
    assert values["batched@32/raw@formed throughput grpc"] == 0.3
    assert values["drift added p50 ms @1 rest"] == pytest.approx(0.2)
    assert values["drift added p50 ms @1 grpc"] == 2.0


def test_ratios_leave_out_what_did_not_run() -> None:
    values = report.ratios([row("batched", "rest", 32, 250.0)])
    assert values == {}


def test_targets_pass_miss_and_not_available() -> None:
    values = report.ratios(report.median_rounds(_full_rows()))
    verdicts = {t["target"]: t["result"] for t in report.targets(values)}
    assert verdicts["batched >= mlserver @32 (REST)"] == "PASS"
    assert verdicts["batched >= 50% raw @formed batch (gRPC)"] == "MISS"  # 0.3
    assert verdicts["batched >= 0.95x baseline @1 (REST)"] == "PASS"  # 0.98
    assert verdicts["graph >= 2x baseline @32 (gRPC)"] == "PASS"  # exactly 2.0
    assert verdicts["graph added p50 <= 2 ms/hop @1 (gRPC)"] == "PASS"  # exactly 2.0
    assert verdicts["drift node adds <= 0.5 ms p50 @1 (gRPC)"] == "MISS"
    assert report.targets({})[0]["result"] == "n/a"


def test_build_and_markdown_report_rows_ratios_and_targets() -> None:
    machine = {"cpu": "Test CPU", "cores": 2, "date": "today", "git_commit": "abc"}
    doc = report.build(_full_rows(), machine, {"quick": True})
    assert {"machine", "scenarios", "ratios", "targets", "client"} <= doc.keys()
    text = report.markdown(doc)
    assert "| batched | batched | rest | tensor | 32 | 250.0 |" in text
    assert "| raw | raw | inprocess | batch-formed (16) | 1 | 1000.0 |" in text
    assert "| graph >= 2x baseline @32 (gRPC) | 2.000 | >= 2.0 | PASS |" in text
    assert "Test CPU" in text and "wrk" in text


def test_plot_series_skips_single_points_and_in_process_rows() -> None:
    rows = [row("batched", "rest", 1, 50.0), row("batched", "rest", 32, 250.0),
            row("graph_nodrift", "rest", 1, 25.0),
            row("raw", "inprocess", 1, 1000.0, payload="batch-1")]  # fmt: skip
    lines = plot.series(rows)
    assert list(lines) == ["batched rest"]
    assert [p[0] for p in lines["batched rest"]] == [1, 32]


def test_plot_writes_a_png(tmp_path) -> None:
    doc = report.build(_full_rows(), {"cpu": "x", "cores": 2}, {})
    path = plot.plot(doc, tmp_path / "out.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_wrk_run_without_replies_has_no_latency() -> None:
    stdout = (
        'WRK_JSON {"requests": 0, "duration_us": 3000000, "non2xx": 0, '
        '"socket_errors": 0, "p50_us": 0, "p90_us": 0, "p99_us": 0, "mean_us": 0}\n'
    )
    result = loadgen.parse_wrk_output(stdout)
    assert math.isnan(result.p50_ms) and math.isnan(result.p99_ms)
    assert result.throughput_rps == 0.0


def test_json_report_is_strict_json_with_null_for_missing_latency() -> None:
    doc = report.build([row("baseline", "rest", 32, 0.0, p50=math.nan)], {}, {})
    assert '"p50_ms": null' in report.to_json(doc)
