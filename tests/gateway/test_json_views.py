"""The gateway's JSON: times in Vietnam time exactly as protobuf's own conversion gives them,
and responses byte for byte what the standard library would write."""

from __future__ import annotations

import json
import random
from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.responses import JSONResponse
from gateway.schemas import VIETNAM, ts


def test_times_match_protobufs_conversion_across_the_range_and_unset_is_none():
    rng = random.Random(7)
    for _ in range(5000):
        value = Timestamp(seconds=rng.randint(-2_000_000_000, 4_000_000_000), nanos=rng.randint(0, 999_999_999))
        assert ts(value) == value.ToDatetime(tzinfo=UTC).astimezone(VIETNAM).isoformat()
    assert ts(Timestamp()) is None
    assert ts(Timestamp(seconds=1_765_000_000)) == "2025-12-06T12:46:40+07:00"


def test_a_response_is_the_compact_utf8_json_of_the_standard_library():
    content = {"items": [{"code": "068.00.99.H29-261204-0006", "procedure_name": "Đăng ký khai sinh",
                          "due_at": None, "missing_items": ["Tờ khai", "Giấy chứng sinh"], "fees_due_vnd": 8000,
                          "read": False}], "next_page_token": "", "total": 1}
    body = JSONResponse(content).body
    assert body == json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(body) == content
