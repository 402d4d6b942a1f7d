"""The public REST API's payloads (documented in the OpenAPI at /docs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field


VIETNAM = timezone(timedelta(hours=7))


EPOCH_IN_VIETNAM = datetime(1970, 1, 1, tzinfo=UTC).astimezone(VIETNAM)


def ts(value: Timestamp) -> str | None:
    """A protobuf time as ISO 8601 in Vietnam time; None when unset. (Arithmetic on the
    epoch gives what ``ToDatetime(tzinfo=UTC).astimezone(VIETNAM)`` gives, in a fifth of
    its time: a page of dossiers has a hundred of these.)"""
    seconds, nanos = value.seconds, value.nanos
    if seconds == 0 and nanos == 0:
        return None
    return (EPOCH_IN_VIETNAM + timedelta(seconds=seconds, microseconds=nanos // 1000)).isoformat()


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
    document_ids: list[str] = Field(default_factory=list, max_length=50,
                                    description="Tài liệu đã tải lên (POST /api/v1/documents) để nộp kèm")


class CounterSubmission(SubmitDossier):
    """A reception official files a dossier received at the counter or by post."""

    channel: Literal["in_person", "post"] = "in_person"
    applicant_id: str = Field(min_length=1, max_length=36, description="Tài khoản của người nộp")
    applicant_name: str = Field(default="", max_length=200)


class Action(Strict):
    note: str = Field(default="", max_length=2000, description="Nội dung, lý do (hiển thị cho người nộp)")
    expected_version: int = Field(default=0, ge=0, description="Phiên bản hồ sơ cán bộ đang xem (0: bỏ qua)")
    document_ids: list[str] = Field(default_factory=list, max_length=50,
                                    description="supplement, complete_step, message, result_ready: tài liệu kèm theo")
    missing_items: list[str] = Field(default_factory=list, max_length=50,
                                     description="request_supplement: mọi giấy tờ cần bổ sung (một lần)")
    assignee_id: str = Field(default="", max_length=36, description="assign: cán bộ xử lý")
    new_due_at: datetime | None = Field(default=None, description="extend: ngày hẹn trả mới")
    agency_code: str = Field(default="", max_length=35, description="redirect, forward: cơ quan nhận")
    result_document_id: str = Field(default="", max_length=64, description="result_ready: kết quả điện tử")
    fees_vnd: int = Field(default=0, ge=0, le=10**12, description="request_fees: số tiền (0: theo thủ tục)")
    return_method: Literal["", "download", "counter", "post"] = ""
    internal_note: str = Field(default="", max_length=2000, description="Ghi chú nội bộ (chỉ cán bộ xem)")
