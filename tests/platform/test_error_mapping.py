"""How the shared interceptor turns an exception into a gRPC status."""

from __future__ import annotations

import asyncio

import grpc
from sqlalchemy.exc import DBAPIError

from services.platform.errors import Conflict, InvalidInput
from services.platform.grpc_server import _status_for


def _db_error(invalidated: bool) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, ConnectionError("server closed the connection"),
                      connection_invalidated=invalidated)


def test_service_errors_keep_their_code_and_message():
    assert _status_for(InvalidInput("Sai ngày sinh.")) == (grpc.StatusCode.INVALID_ARGUMENT, "Sai ngày sinh.")
    assert _status_for(Conflict("Hồ sơ đã thay đổi.")) == (grpc.StatusCode.ABORTED, "Hồ sơ đã thay đổi.")


def test_a_dropped_database_connection_is_worth_a_retry_and_other_database_errors_are_not():
    assert _status_for(_db_error(True))[0] == grpc.StatusCode.UNAVAILABLE
    assert _status_for(_db_error(False))[0] == grpc.StatusCode.INTERNAL


def test_a_timeout_and_an_unexpected_error():
    assert _status_for(asyncio.TimeoutError())[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    code, message = _status_for(KeyError("secret detail"))
    assert code == grpc.StatusCode.INTERNAL and "secret" not in message
