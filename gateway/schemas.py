"""The public REST API's payloads (documented in the OpenAPI at /docs)."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field


VIETNAM = timezone(timedelta(hours=7))


def ts(value: Timestamp) -> str | None:
    """A protobuf time as ISO 8601 in Vietnam time; None when unset."""
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC).astimezone(VIETNAM).isoformat()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegisterCitizen(Strict):
    identity_number: str = Field(min_length=1, max_length=20, description="Số định danh cá nhân (CCCD), 12 chữ số")
    full_name: str = Field(min_length=1, max_length=200)
    date_of_birth: str = Field(min_length=10, max_length=10, description="YYYY-MM-DD")
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=20)
    password: str = Field(min_length=1, max_length=128)


class TokenRequest(Strict):
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)


class SubmitDossier(Strict):
    procedure_code: str = Field(min_length=1, max_length=40, examples=["1.001193"])
    agency_code: str = Field(default="", max_length=35, description="Đơn vị cấp xã nơi nộp (thủ tục cấp xã)")
    form_data: dict[str, Any] = Field(default_factory=dict, description="Dữ liệu tờ khai điện tử")


class Action(Strict):
    note: str = Field(default="", max_length=2000)
    expected_version: int = Field(default=0, ge=0, description="Phiên bản hồ sơ cán bộ đang xem (0: bỏ qua)")
