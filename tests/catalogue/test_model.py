"""Procedure content rules, without a database: what is refused and why, what publishing needs."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from services.catalogue.domain import demo, versions
from services.catalogue.domain.model import MAX_VERIFICATION_LEVEL, normalise
from services.catalogue.domain.validation import AMOUNT_FORMAT, publish_problems, validate
from services.platform.errors import FailedPrecondition, InvalidInput

AGENCIES = {"000.00.00.H29", "000.00.04.H29", "068.00.99.H29"}


def valid() -> dict:
    return {
        "code": "1.999001", "name": "Thủ tục thử nghiệm", "sector": "Hộ tịch", "level": "commune",
        "online": "full", "channels": ["Trực tuyến", "Trực tiếp", "Trực tuyến"],
        "processing_time": {"value": 3, "unit": "working_day"},
        "fees": [{"name": "Lệ phí", "amount_vnd": 8000, "condition": "", "exemption": "Hộ nghèo"}],
        "documents": [{"name": "Tờ khai", "copies": 1, "kind": "original", "mandatory": True}],
        "workflow": demo.workflow(24),
        "eform_schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        "applicant_types": ["citizen"], "min_verification_level": 2,
    }


def problems(**changes) -> dict:
    content = valid()
    content.update(changes)
    return validate(normalise(content), agencies=AGENCIES)


def test_a_complete_procedure_is_valid_and_publishable():
    content = normalise(valid())
    assert validate(content, agencies=AGENCIES) == {}
    assert publish_problems(content) == {}
    # Channels as published on the portal become codes, once each; documents get stable ids.
    assert content["channels"] == ["online", "in_person"]
    assert content["documents"][0]["id"] == "d1" and content["workflow"][0]["id"] == "s1"


@pytest.mark.parametrize("changes,field", [
    ({"code": "ABC"}, "code"),
    ({"name": ""}, "name"),
    ({"level": "district"}, "level"),
    ({"online": "sometimes"}, "online"),
    ({"channels": ["fax"]}, "channels[0]"),
    ({"applicant_types": ["alien"]}, "applicant_types[0]"),
    ({"agency_code": "999.99.99.H29"}, "agency_code"),
    ({"processing_agency_code": "999.99.99.H29"}, "processing_agency_code"),
    ({"processing_time": {"value": -1, "unit": "working_day"}}, "processing_time.value"),
    ({"processing_time": {"value": 2, "unit": "week"}}, "processing_time.unit"),
    ({"processing_time": {"value": "two", "unit": "working_day"}}, "processing_time.value"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": -5000}]}, "fees[0].amount_vnd"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": 10.5}]}, "fees[0].amount_vnd"),
    ({"documents": [{"name": ""}]}, "documents[0].name"),
    ({"documents": [{"name": "A", "copies": -1}]}, "documents[0].copies"),
    ({"documents": [{"name": "A", "kind": "photocopy"}]}, "documents[0].kind"),
    ({"documents": [{"id": "x", "name": "A"}, {"id": "x", "name": "B"}]}, "documents[1].id"),
    ({"workflow": [{"name": "Tiếp nhận", "role": "janitor", "budget_hours": 1}]}, "workflow[0].role"),
    ({"workflow": [{"name": "Tiếp nhận", "role": "reception", "budget_hours": -1}]}, "workflow[0].budget_hours"),
    ({"workflow": [{"name": "Tiếp nhận", "role": "reception"}]}, "workflow[0].budget_hours"),
    ({"workflow": [{"name": "Liên thông", "role": "processing", "budget_hours": 4, "inter_agency": True}]},
     "workflow[0].agency_code"),
    ({"workflow": [{"name": "B", "role": "processing", "budget_hours": 4, "agency_code": "1.2.3.H99"}]},
     "workflow[0].agency_code"),
    ({"min_verification_level": 7}, "min_verification_level"),
    ({"min_verification_level": 3}, "min_verification_level"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": float("nan")}]}, "fees[0].amount_vnd"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": "nan"}]}, "fees[0].amount_vnd"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": "inf"}]}, "fees[0].amount_vnd"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": float("inf")}]}, "fees[0].amount_vnd"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": 1e20}]}, "fees[0].amount_vnd"),
    ({"fees": [{"name": "Lệ phí", "amount_vnd": 10**12 + 1}]}, "fees[0].amount_vnd"),
    ({"fees": [{"name": "x" * 5001}]}, "fees[0].name"),
    ({"documents": [{"name": "A", "copies": 3_000_000_000}]}, "documents[0].copies"),
    ({"documents": [{"name": "A", "copies": "nan"}]}, "documents[0].copies"),
    ({"documents": [{"name": "A", "form": "x" * 1001}]}, "documents[0].form"),
    ({"workflow": [{"name": "T", "role": "reception", "budget_hours": "nan"}]}, "workflow[0].budget_hours"),
    ({"workflow": [{"name": "T", "role": "reception", "budget_hours": "inf"}]}, "workflow[0].budget_hours"),
    ({"workflow": [{"name": "T", "role": "reception", "budget_hours": 10_001}]}, "workflow[0].budget_hours"),
    ({"workflow": [{"name": "x" * 301, "role": "reception", "budget_hours": 1}]}, "workflow[0].name"),
    ({"processing_time": {"value": "nan", "unit": "working_day"}}, "processing_time.value"),
    ({"processing_time": {"value": 1e300, "unit": "working_day"}}, "processing_time.value"),
    ({"sector": "x" * 201}, "sector"),
    ({"name": "x" * 1001}, "name"),
    ({"result": "x" * 2001}, "result"),
    ({"legal_basis": ["x" * 1001]}, "legal_basis[0]"),
    ({"sources": [f"nguồn {i}" for i in range(201)]}, "sources"),
    ({"eform_schema": {"type": "object", "properties": {"a": {"type": "number", "maximum": float("nan")}}}},
     "eform_schema"),
    ({"eform_schema": {"type": "object", "properties": {"a": {"type": "strin"}}}}, "eform_schema"),
    ({"eform_schema": {"type": "object", "required": "a"}}, "eform_schema"),
    ({"eform_schema": {"type": "array"}}, "eform_schema"),
    ({"eform_schema": "{not json"}, "eform_schema"),
])
def test_bad_content_is_refused_naming_the_field(changes, field):
    found = problems(**changes)
    assert field in found, found
    assert found[field]


def test_numbers_from_a_spreadsheet_are_read_but_never_guessed():
    content = normalise({**valid(), "fees": [{"name": "Lệ phí", "amount_vnd": "8000"}],
                         "documents": [{"name": "A", "copies": "2", "mandatory": "x"}]})
    assert content["fees"][0]["amount_vnd"] == 8000
    assert content["documents"][0]["copies"] == 2 and content["documents"][0]["mandatory"] is True
    assert validate(normalise({**valid(), "fees": [{"name": "L", "amount_vnd": "tám nghìn"}]}),
                    agencies=AGENCIES) == {"fees[0].amount_vnd": AMOUNT_FORMAT}


@pytest.mark.parametrize("written,amount", [
    ("50.000", 50_000), ("50,000", 50_000), ("1.250.000", 1_250_000), ("1,250,000", 1_250_000),
    ("8000", 8000), (" 50.000 ", 50_000), (8000.0, 8000),
])
def test_a_fee_is_read_with_vietnamese_thousands_separators(written, amount):
    content = normalise({**valid(), "fees": [{"name": "Lệ phí", "amount_vnd": written}]})
    assert content["fees"][0]["amount_vnd"] == amount
    assert validate(content, agencies=AGENCIES) == {}


@pytest.mark.parametrize("written", ["50.5", "50,5", "50.00", "1.25.000", "1.250,000", "50.000đ"])
def test_an_ambiguous_fee_is_refused_with_the_format_to_use(written):
    assert problems(fees=[{"name": "Lệ phí", "amount_vnd": written}]) == {"fees[0].amount_vnd": AMOUNT_FORMAT}


def test_verification_levels_are_those_identity_issues():
    assert MAX_VERIFICATION_LEVEL == 2
    assert problems(min_verification_level=2) == {}


def test_a_null_fee_amount_is_not_published_so_it_stays_null():
    content = normalise({**valid(), "fees": [{"name": "Lệ phí", "amount_vnd": None, "condition": "theo tỉnh"}]})
    assert content["fees"][0]["amount_vnd"] is None
    assert validate(content, agencies=AGENCIES) == {}


def test_publishing_needs_documents_workflow_level_and_online_mode():
    content = normalise({**valid(), "documents": [], "workflow": [], "level": "", "online": ""})
    assert validate(content, agencies=AGENCIES) == {}  # a fine draft
    assert set(publish_problems(content)) == {"documents", "workflow", "level", "online"}


def test_the_demo_workflow_receives_processes_and_approves_within_the_legal_time():
    steps = demo.workflow(8)
    assert [s["role"] for s in steps] == ["reception", "processing", "approval"]
    assert sum(s["budget_hours"] for s in steps) == 8
    assert all(s["agency_code"] == "" for s in steps)
    inter = demo.workflow(27 * 8, ("000.00.07.H29", "Văn phòng đăng ký đất đai xác nhận"))
    assert [s["role"] for s in inter] == ["reception", "processing", "processing", "approval"]
    assert [s["inter_agency"] for s in inter] == [False, False, True, False]
    assert inter[2]["agency_code"] == "000.00.07.H29"
    assert sum(s["budget_hours"] for s in inter) == 27 * 8


def test_demo_settings_are_listed_and_real_facts_are_untouched():
    record = {"code": "1.001193", "name": "Thủ tục đăng ký khai sinh", "level": "commune", "online": None,
              "channels": ["Trực tuyến"], "processing_time": {"value": 1, "unit": None},
              "documents": [{"name": "Giấy chứng sinh; ...", "quantity_published": "1 bản chính"},
                            {"name": "Văn bản ủy quyền", "quantity_published": "1 bản sao chứng thực"}],
              "sources": ["https://dichvucong.gov.vn/x"]}
    before = copy.deepcopy(record)
    filled = demo.fill(record, {})
    assert record == before
    assert set(filled["demo_fields"]) == {"online", "processing_time.unit", "applicant_types",
                                          "documents.mandatory", "workflow", "eform_schema"}
    assert [d["mandatory"] for d in filled["documents"]] == [True, False]
    assert [d["kind"] for d in filled["documents"]] == ["original", "certified_copy"]  # read from the portal
    assert filled["sources"] == record["sources"]


NOW = datetime(2026, 3, 6, 9, tzinfo=UTC)


def test_publishing_a_new_version_retires_the_one_in_force():
    v1 = versions.VersionState(1, "published", NOW - timedelta(days=30))
    v2 = versions.VersionState(2, "draft")
    changed = versions.publish([v1, v2], 2, NOW, NOW)
    assert changed == [v1] and v1.status == "retired" and v1.effective_to == NOW
    assert v2.status == "published" and versions.current([v1, v2], NOW) is v2


def test_a_future_dated_version_takes_over_at_its_date():
    v1 = versions.VersionState(1, "published", NOW - timedelta(days=30))
    v2 = versions.VersionState(2, "draft")
    later = NOW + timedelta(days=10)
    versions.publish([v1, v2], 2, later, NOW)
    assert v1.status == "published" and v1.effective_to == later
    assert versions.current([v1, v2], NOW) is v1
    assert versions.current([v1, v2], later) is v2


def test_only_drafts_are_edited_or_published_and_only_published_versions_retired():
    published = versions.VersionState(1, "published", NOW)
    with pytest.raises(FailedPrecondition):
        versions.check_editable(published)
    with pytest.raises(FailedPrecondition):
        versions.publish([published], 1, NOW, NOW)
    with pytest.raises(FailedPrecondition):
        versions.retire(versions.VersionState(2, "draft"), NOW, NOW)
    with pytest.raises(FailedPrecondition):
        versions.check_no_open_draft([published, versions.VersionState(2, "draft")])
    versions.retire(published, NOW, NOW)
    assert published.status == "retired" and versions.current([published], NOW) is None


def test_a_version_is_never_put_in_force_in_the_past_or_before_the_one_in_force():
    v1 = versions.VersionState(1, "published", NOW + timedelta(days=5))
    with pytest.raises(InvalidInput) as err:
        versions.publish([v1, versions.VersionState(2, "draft")], 2, NOW - timedelta(hours=1), NOW)
    assert set(err.value.fields) == {"effective_from"}
    with pytest.raises(InvalidInput) as err:  # would close version 1 before it starts
        versions.publish([v1, versions.VersionState(2, "draft")], 2, NOW + timedelta(days=4), NOW)
    assert set(err.value.fields) == {"effective_from"}
    late = versions.VersionState(2, "draft")
    versions.publish([v1, late], 2, NOW + timedelta(days=5, minutes=2), NOW)
    assert late.status == "published" and v1.effective_to == late.effective_from
    versions.publish([versions.VersionState(3, "draft")], 3, NOW - timedelta(minutes=2), NOW)  # clock skew


def test_a_version_is_not_retired_before_it_starts_or_in_the_past():
    scheduled = versions.VersionState(1, "published", NOW + timedelta(days=10))
    with pytest.raises(InvalidInput) as err:
        versions.retire(scheduled, NOW + timedelta(days=9), NOW)
    assert set(err.value.fields) == {"effective_to"}
    with pytest.raises(InvalidInput) as err:
        versions.retire(versions.VersionState(2, "published", NOW - timedelta(days=10)), NOW - timedelta(days=1), NOW)
    assert set(err.value.fields) == {"effective_to"}
    versions.retire(scheduled, NOW + timedelta(days=10), NOW)
    assert scheduled.effective_to == NOW + timedelta(days=10) and scheduled.status == "published"
