"""The one error table: classes, HTTP statuses, gRPC codes and reasons, read both ways."""

from __future__ import annotations

import copy
import pickle

import grpc
import pytest
from seldon_core.flask_utils import SeldonMicroserviceException

from model.errors import (
    ArtifactError,
    InternalError,
    InvalidInput,
    ManifestError,
    NotFound,
    PayloadTooLarge,
    SeldonGraphError,
    Timeout,
    Unavailable,
    as_error,
    error_for_grpc,
    error_for_http,
    grpc_status,
    http_for_grpc,
    http_status,
)

WIRE = [InvalidInput, NotFound, PayloadTooLarge, Unavailable, Timeout, InternalError]


@pytest.mark.parametrize("cls", WIRE)
def test_each_wire_class_reads_back_from_its_own_status_and_code(cls: type) -> None:
    by_http = error_for_http(cls.status_code, "m")
    by_grpc = error_for_grpc(cls.grpc_code, "m")
    for error in (by_http, by_grpc):
        assert type(error) is cls and error.status_code == cls.status_code
        assert error.reason == cls.reason and error.message == "m"
    assert http_for_grpc(cls.grpc_code) == cls.status_code


@pytest.mark.parametrize(
    ("code", "cls", "status"),
    [
        (422, InvalidInput, 422),
        (405, InvalidInput, 405),
        (502, InternalError, 502),
        (-1, InternalError, 500),
    ],
)
def test_other_statuses_keep_their_code_in_the_closest_class(
    code: int, cls: type, status: int
) -> None:
    error = error_for_http(code, "m", reason="WHY")
    assert type(error) is cls and error.status_code == status and error.reason == "WHY"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.OUT_OF_RANGE, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.UNKNOWN, 500),
    ],
)
def test_grpc_codes_without_a_class_read_as_grpcs_http_status(
    code: grpc.StatusCode, status: int
) -> None:
    assert http_for_grpc(code) == status and error_for_grpc(code, "m").status_code == status


def test_an_explicit_status_and_reason_do_not_change_the_grpc_code() -> None:
    error = InvalidInput("no", status_code=403, reason="FORBIDDEN")
    assert (error.status_code, error.reason, grpc_status(error)) == (
        403,
        "FORBIDDEN",
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert http_status(error) == 403 and error.to_dict()["status"]["code"] == 403


@pytest.mark.parametrize(
    "error",
    [
        Timeout("slow", status_code=599, reason="LATE"),
        ManifestError("bad", "spec.predictors[0]"),
        ArtifactError("gone"),
    ],
)
def test_with_message_keeps_class_status_reason_and_attributes(error: SeldonGraphError) -> None:
    renamed = error.with_message(f"node n: {error.message}")
    assert type(renamed) is type(error) and renamed is not error
    assert renamed.__dict__ == {**error.__dict__, "message": f"node n: {error.message}"}
    assert error.message != renamed.message  # the original is untouched
    assert pickle.loads(pickle.dumps(renamed)).__dict__ == renamed.__dict__
    assert copy.copy(error).__dict__ == error.__dict__


@pytest.mark.parametrize(
    ("status", "cls", "code", "grpc_code"),
    [
        (400, InvalidInput, 400, grpc.StatusCode.INVALID_ARGUMENT),
        (404, NotFound, 404, grpc.StatusCode.NOT_FOUND),
        (418, InvalidInput, 418, grpc.StatusCode.INVALID_ARGUMENT),
        (502, InternalError, 502, grpc.StatusCode.INTERNAL),
        (-1, InternalError, 500, grpc.StatusCode.INTERNAL),
    ],
)
def test_seldons_own_exceptions_read_as_their_rest_reply_would(
    status: int, cls: type, code: int, grpc_code: grpc.StatusCode
) -> None:
    seldon = SeldonMicroserviceException(
        "odd", status_code=status, reason="MICROSERVICE_BAD_METRIC"
    )
    error = as_error(seldon)
    assert type(error) is cls and (error.status_code, error.message) == (code, "odd")
    assert error.reason == "MICROSERVICE_BAD_METRIC" and grpc_status(seldon) == grpc_code
