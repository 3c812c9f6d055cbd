"""model.fastjson: orjson speed, the standard library's accept/refuse behaviour."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from flask import Flask, jsonify, request

from model import fastjson
from model.seldon.json_provider import FastJSONProvider

DOCUMENTS: list[str] = [
    '{"data": {"tensor": {"shape": [1, 3], "values": [0.1, -2.5e-08, 3]}}}',
    '{"data": {"ndarray": [[0, 255, 17]]}, "meta": {"tags": {"a": "é"}}}',
    '{"binData": "iVBORw0KGgo=", "meta": {"puid": "x"}}',
    '{"strData": "\\u00e9\\n", "jsonData": {"nested": [true, false, null]}}',
    '{"data": {"ndarray": [NaN, Infinity, -Infinity]}}',
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_loads_agrees_with_the_standard_library(text: str) -> None:
    got, expected = fastjson.loads(text.encode()), json.loads(text)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize(
    ("text", "lenient"), [(DOCUMENTS[0], False), (DOCUMENTS[3], False), (DOCUMENTS[4], True)]
)
def test_loads_checked_says_when_only_the_fallback_could_parse(text: str, lenient: bool) -> None:
    assert fastjson.loads_checked(text)[1] is lenient


@pytest.mark.parametrize("text", ["{", '{"a": }', "[1, 2", '{"a": 1} x', "\udcff"])
def test_invalid_json_is_refused_like_the_standard_library(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        fastjson.loads(text)


def test_deep_nesting_fails_as_the_standard_library_does() -> None:
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(RecursionError):
        fastjson.loads(text)


def test_integers_beyond_64_bits_parse_as_floats() -> None:
    # the one documented difference from json.loads (no Seldon payload holds such numbers)
    big = fastjson.loads('{"big": 123456789012345678901234567890}')["big"]
    assert isinstance(big, float) and big == pytest.approx(1.2345678901234568e29)


def test_dumps_round_trips_numpy_and_falls_back_for_what_orjson_refuses() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    values = json.loads(fastjson.dumps({"values": array}))["values"]
    assert np.array_equal(np.asarray(values, dtype=np.float32), array)
    assert json.loads(fastjson.dumps({1: "int key"})) == {"1": "int key"}
    assert json.loads(fastjson.dumps({"big": 2**70})) == {"big": 2**70}


def test_lenient_documents_keep_their_non_finite_numbers() -> None:
    body, lenient = fastjson.loads_checked(DOCUMENTS[4])
    values = json.loads(fastjson.dumps(body, lenient))["data"]["ndarray"]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


def _app() -> Flask:
    app = Flask(__name__)
    app.json = FastJSONProvider(app)

    @app.post("/echo")
    def echo() -> Any:
        return jsonify(request.get_json())

    return app


@pytest.mark.parametrize("text", DOCUMENTS[:4])
def test_a_flask_app_with_the_provider_answers_what_the_default_would(text: str) -> None:
    fast = _app().test_client().post("/echo", data=text, content_type="application/json")
    default_app = Flask(__name__)
    with default_app.app_context():
        expected = default_app.json.response(json.loads(text))
    assert fast.status_code == 200 and fast.mimetype == expected.mimetype
    # same document and key order; orjson writes UTF-8 rather than \u escapes, 2.5e-8 not 2.5e-08
    assert list(json.loads(fast.get_data())) == list(json.loads(expected.get_data()))
    assert json.loads(fast.get_data()) == json.loads(expected.get_data())
    assert b", " not in fast.get_data() and b": " not in fast.get_data()  # compact, as Flask


def test_a_flask_app_with_the_provider_refuses_bad_json_with_400() -> None:
    reply = _app().test_client().post("/echo", data="{oops", content_type="application/json")
    assert reply.status_code == 400
