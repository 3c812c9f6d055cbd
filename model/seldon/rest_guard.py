"""Guards on the Seldon wrapper's REST server (Flask, port 9000) of every component.

seldon-core 1.17.1 answers 500 for several bad requests: JSON nested too deeply to
decode (``RecursionError``), an invalid ``json`` form field, and even an unknown path or
method (its catch-all ``Exception`` handler turns werkzeug's 404/405 into 500); and its
Flask app has no body limit. The wrapper registers a component's ``model_error_handler``
blueprint on its app, so each component sets ``model_error_handler = blueprint()`` and
this module, through that documented hook, sets ``MAX_CONTENT_LENGTH`` (413 above it),
gives those errors their 4xx status and a Seldon ``status`` body naming the problem, and
swaps in the orjson JSON provider (``json_provider``) (same documents, a fraction of the CPU).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from model.errors import InvalidInput, SeldonGraphError, error_for_http, status_dict
from model.seldon.json_provider import FastJSONProvider

logger = logging.getLogger(__name__)
DEFAULT_MAX_BODY = 64 * 1024 * 1024  # above the gateway's 32 MiB: the gateway refuses first


def _reply(error: SeldonGraphError) -> tuple[Response, int]:
    logger.warning("refused request: %s", error.message)
    return jsonify(status_dict(error.message, error.reason, error.status_code)), error.status_code


def blueprint(max_body_bytes: int = DEFAULT_MAX_BODY) -> Blueprint:
    """A blueprint (no routes) that configures and guards the app it is registered on."""
    guard = Blueprint("seldon_graph_guard", __name__)

    @guard.record_once
    def _configure(state: BlueprintSetupState) -> None:
        state.app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
        state.app.json = FastJSONProvider(state.app)

    @guard.app_errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        code = exc.code or 400
        if code == 413:
            message = f"request body is over the limit of {max_body_bytes} bytes"
        else:
            message = f"{exc.name}: {exc.description}"
        return _reply(error_for_http(code, message))

    @guard.app_errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Any:
        return _reply(InvalidInput("request JSON is nested too deeply to decode"))

    @guard.app_errorhandler(json.JSONDecodeError)
    def _bad_json(exc: json.JSONDecodeError) -> Any:
        return _reply(InvalidInput(f"request holds invalid JSON: {exc}"))

    return guard
