"""Malformed REST requests to the gateway and to each node get a 4xx naming the problem.

Hypothesis sends bodies with one defect each (invalid JSON, wrong content types, wrong
shapes and dtypes, strings for numbers, huge or negative dimensions, NaN/Infinity
literals, empty payloads, deeply nested lists, undecodable image bytes) to the gateway of
the served digits graph and to the REST port of each of its main predictor's node
processes. Every reply must be a 4xx with a Seldon ``status`` whose ``info`` names the
problem, and each process still serves afterwards.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.graphs import Served
from tests.hardening.conftest import (
    FUZZ,
    SENT,
    Node,
    assert_rejected,
    assert_still_serves,
    good_rest_body,
)

pytestmark = pytest.mark.slow
TARGETS = ("gateway", "transformer", "drift-detector", "classifier")
CONTENT_TYPES = (
    "application/json",
    "text/plain",
    "application/xml",
    "image/png",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/json; charset=utf-16",
)

# ------------------------------------------------------------------ strategies
small_ints = st.integers(-3, 300)
finite = st.one_of(small_ints, st.floats(-2.0, 2.0, allow_nan=False))
not_a_number: st.SearchStrategy[Any] = st.one_of(
    st.text(max_size=6),
    st.none(),
    st.dictionaries(st.text(max_size=3), small_ints, max_size=2),
    st.just([]),
)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
shapes = st.lists(st.integers(-4, 40), min_size=0, max_size=6)


def _text(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()  # NaN/Infinity literals included


@st.composite
def mismatched_tensor(draw: st.DrawFn) -> bytes:
    """``data.tensor`` whose values do not fill its shape (or a negative dimension)."""
    shape = draw(shapes)
    values = draw(st.lists(finite, max_size=64))
    if len(values) == math.prod(shape) and all(n >= 0 for n in shape):
        values.append(0)
    return _text({"data": {"tensor": {"shape": shape, "values": values}}})


@st.composite
def absurd_shape(draw: st.DrawFn) -> bytes:
    """Huge, negative, non-integer or too many dimensions in ``tensor.shape``."""
    dim = st.one_of(
        st.integers(10**6, 2**70),
        st.integers(-(2**40), -1),
        st.floats(0.5, 3.5),
        st.text(max_size=2),
    )
    shape = draw(st.lists(st.one_of(st.integers(1, 4), dim), min_size=1, max_size=6))
    if all(isinstance(n, int) and 1 <= n <= 4 for n in shape):
        shape = draw(st.lists(st.integers(1, 2), min_size=33, max_size=60))  # too many dims
    return _text({"data": {"tensor": {"shape": shape, "values": [1, 2, 3]}}})


@st.composite
def poisoned_array(draw: st.DrawFn, target: str) -> bytes:
    """An array of the shape the target accepts with a NaN/Inf, string, null or object."""
    if target in ("gateway", "transformer"):
        h, w = draw(st.integers(2, 8)), draw(st.integers(2, 8))
        flat: list[Any] = [draw(st.integers(0, 255)) for _ in range(h * w)]
        shape = [h, w]
    else:
        flat = [0.1] * 3072
        shape = [1, 3, 32, 32]
    bad = draw(st.one_of(non_finite, not_a_number))
    flat[draw(st.integers(0, len(flat) - 1))] = bad
    if draw(st.booleans()):
        return _text({"data": {"tensor": {"shape": shape, "values": flat}}})
    rows: Any = flat
    for n in reversed(shape[1:]):
        rows = [rows[i : i + n] for i in range(0, len(rows), n)]
    return _text({"data": {"ndarray": rows}})


@st.composite
def wrong_layout(draw: st.DrawFn) -> bytes:
    """Arrays of a rank or size no component accepts: 1-D, 5-D and more, ragged."""
    kind = draw(st.sampled_from(["flat", "deep_rank", "ragged", "empty"]))
    if kind == "flat":
        return _text({"data": {"ndarray": draw(st.lists(finite, min_size=1, max_size=20))}})
    if kind == "deep_rank":
        value: Any = draw(st.lists(finite, min_size=1, max_size=3))
        for _ in range(draw(st.integers(4, 8))):
            value = [value]
        return _text({"data": {"ndarray": value}})
    if kind == "ragged":
        rows = draw(st.lists(st.lists(finite, min_size=1, max_size=5), min_size=2, max_size=5))
        if len({len(r) for r in rows}) == 1:
            rows[0] = [*rows[0], 1]
        return _text({"data": {"ndarray": rows}})
    return _text({"data": {"ndarray": draw(st.sampled_from([[], [[]], [[[]]]]))}})


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    """Lists nested thousands deep, bare or inside ``data.ndarray``."""
    n = draw(st.integers(500, 20000))
    deep = "[" * n + "]" * n
    return (deep if draw(st.booleans()) else f'{{"data": {{"ndarray": {deep}}}}}').encode()


wrong_kind = st.one_of(
    st.builds(lambda t: {"strData": t}, st.text(max_size=20)),
    st.builds(lambda v: {"jsonData": v}, st.recursive(small_ints | st.text(max_size=4), st.lists)),
    st.just({}),
    st.just({"data": {}}),
    st.builds(lambda v: {"data": v}, not_a_number | small_ints),
    st.builds(lambda v: {"binData": v}, small_ints | st.none() | st.lists(small_ints)),
    st.just({"data": {"tensor": {"shape": [1], "values": [1]}, "ndarray": [[1]]}}),
    st.just({"data": {"tensor": [1, 2]}}),
    st.just({"data": {"tftensor": {"dtype": "DT_STRING", "tensorShape": {"dim": [{"size": 1}]}}}}),
    st.just({"binData": "aGk=", "strData": "both"}),
    st.lists(small_ints, max_size=3),
    small_ints,
    st.none(),
).map(_text)


@st.composite
def undecodable_image(draw: st.DrawFn, png: bytes) -> bytes:
    """``binData`` that is not base64, or base64 of bytes that are no PNG/JPEG image."""
    kind = draw(st.sampled_from(["random", "truncated", "not_base64", "empty"]))
    if kind == "random":
        raw = draw(st.binary(min_size=1, max_size=256).filter(lambda b: b[:2] != b"\xff\xd8"))
        raw = raw if not raw.startswith(b"\x89PNG") else b"x" + raw
    elif kind == "truncated":
        raw = png[: draw(st.integers(1, len(png) - 20))]
    elif kind == "not_base64":
        return _text({"binData": draw(st.text(alphabet="!@#$%^&*()~`", min_size=1, max_size=20))})
    else:
        raw = b""
    return _text({"binData": base64.b64encode(raw).decode()})


invalid_json = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda t: ("{" + t).encode(), st.text(max_size=40)),
    st.builds(lambda t: ('{"data": {"ndarray": [[1, 2]]' + t).encode(), st.text(max_size=5)),
    st.sampled_from(
        [b"", b" ", b"{", b"null", b'{"data": NaN}', b"[1, 2", b"{'a': 1}", b"\xff\xfe"]
    ),
)


def malformed(target: str, png: bytes) -> st.SearchStrategy[tuple[bytes, str]]:
    bodies = st.one_of(
        mismatched_tensor(),
        absurd_shape(),
        poisoned_array(target),
        wrong_layout(),
        deep_nesting(),
        wrong_kind,
        undecodable_image(png),
        invalid_json,
    )
    return st.tuples(bodies, st.sampled_from(CONTENT_TYPES))


# ------------------------------------------------------------------ tests
def endpoint(target: str, served: Served, nodes: dict[str, Node]) -> tuple[str, str, str]:
    """(base url, request path, health path) of a target."""
    if target == "gateway":
        return served.url, "/api/v1.0/predictions", "/health/ready"
    node = nodes[target]
    return node.url, node.rest_path, "/health/status"


@pytest.mark.parametrize("target", TARGETS)
def test_malformed_rest_requests_get_a_4xx_naming_the_problem(
    target: str, digits_served: Served, digits_nodes: dict[str, Node], example_png: bytes
) -> None:
    url, path, health = endpoint(target, digits_served, digits_nodes)
    session = requests.Session()

    @FUZZ
    @given(case=malformed(target, example_png))
    def fuzz(case: tuple[bytes, str]) -> None:
        body, ctype = case
        SENT[f"rest:{target}"] += 1
        reply = session.post(f"{url}{path}", data=body, headers={"Content-Type": ctype}, timeout=60)
        assert_rejected(reply.status_code, reply.content, f"{ctype} {body[:120]!r}")

    try:
        fuzz()
    finally:
        session.close()
    assert_still_serves(url, path, good_rest_body(target, example_png), health)


@pytest.mark.parametrize("target", TARGETS)
def test_a_body_over_the_limit_is_413(
    target: str, digits_served: Served, digits_nodes: dict[str, Node], example_png: bytes
) -> None:
    url, path, health = endpoint(target, digits_served, digits_nodes)
    limit_mb = 32 if target == "gateway" else 64  # --max-body-mb default; rest_guard default
    body = b'{"binData": "' + b"A" * (limit_mb * 2**20) + b'"}'
    SENT[f"rest:{target}"] += 1
    try:
        reply = requests.post(
            f"{url}{path}", data=body, headers={"Content-Type": "application/json"}, timeout=60
        )
    except requests.ConnectionError:
        pytest.fail(f"{target} dropped the connection instead of answering 413")
    assert reply.status_code == 413, reply.text[:300]
    assert "limit" in reply.json()["status"]["info"]
    assert_still_serves(url, path, good_rest_body(target, example_png), health)


@pytest.mark.parametrize("target", ("transformer", "drift-detector", "classifier"))
def test_unknown_paths_and_methods_are_4xx_not_500(
    target: str, digits_nodes: dict[str, Node]
) -> None:
    node = digits_nodes[target]
    SENT[f"rest:{target}"] += 2
    missing = requests.get(f"{node.url}/no-such-path", timeout=30)
    assert_rejected(missing.status_code, missing.content, "unknown path")
    assert missing.status_code == 404
    wrong = requests.delete(f"{node.url}{node.rest_path}", timeout=30)
    assert_rejected(wrong.status_code, wrong.content, "wrong method")
    assert wrong.status_code == 405


def test_a_form_field_json_that_is_not_json_is_400(digits_nodes: dict[str, Node]) -> None:
    node = digits_nodes["transformer"]
    SENT["rest:transformer"] += 1
    reply = requests.post(f"{node.url}{node.rest_path}", data={"json": "{not json"}, timeout=30)
    assert reply.status_code == 400, reply.text[:300]
    assert "JSON" in reply.json()["status"]["info"]
