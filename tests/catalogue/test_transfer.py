"""Import and export of the catalogue (JSON and Excel) and of agency reorganisations, on both
backends: round trips, every bad row reported by row and field, nothing half-imported."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from services.catalogue.app import admin, agencies, queries, transfer
from services.catalogue.app.index import build
from services.catalogue.app.messages import procedure_message
from services.catalogue.store.models import Agency, AuditEntry, Procedure, outbox
from services.platform.errors import InvalidInput, PermissionDenied
from tests.catalogue.conftest import ADMIN, RECEPTION


async def tx(sessions, fn, *args, **kw):
    async with sessions() as s, s.begin():
        return await fn(s, *args, **kw)


async def counts(sessions) -> tuple[int, int, int, int]:
    async with sessions() as s:
        return (await s.scalar(select(func.count()).select_from(Procedure)),
                await s.scalar(select(func.count()).select_from(AuditEntry)),
                await s.scalar(select(func.count()).select_from(outbox)),
                await s.scalar(select(func.count()).select_from(Agency)))


async def export(sessions, fmt: str, **kw) -> bytes:
    async with sessions() as s:
        content, content_type, filename = await transfer.export_catalogue(s, ADMIN, fmt, **kw)
    assert filename.endswith(f".{fmt}") and content_type in transfer.CONTENT_TYPES.values()
    return content


@pytest.mark.parametrize("fmt", ["json", "xlsx"])
async def test_an_export_imports_back_unchanged(sessions, fmt):
    content = await export(sessions, fmt)
    before = await counts(sessions)
    result = await tx(sessions, transfer.import_catalogue, ADMIN, content, fmt)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 43)
    assert await counts(sessions) == before


async def test_the_json_export_keeps_sources_demo_flags_and_versions(sessions):
    body = json.loads(await export(sessions, "json"))
    assert body["format"] == transfer.FORMAT and len(body["procedures"]) == 43
    birth = next(p for p in body["procedures"] if p["code"] == "1.001193")
    assert birth["version"] == 1 and birth["status"] == "published" and birth["sources"]
    assert "workflow" in birth["demo_fields"] and birth["eform_schema"]["type"] == "object"


async def test_the_xlsx_export_has_a_row_per_procedure_and_per_document(sessions):
    book = load_workbook(io.BytesIO(await export(sessions, "xlsx")))
    assert book.sheetnames == ["procedures", "documents", "fees", "workflow"]
    assert book["procedures"].max_row == 1 + 43
    async with sessions() as s:
        documents = sum(len(p.data["documents"]) for p in await s.scalars(select(Procedure)))
    assert book["documents"].max_row == 1 + documents


@pytest.mark.parametrize("fmt", ["json", "xlsx"])
async def test_a_changed_procedure_imports_as_a_new_draft_version_and_publishes_on_request(sessions, fmt):
    content = await export(sessions, fmt)
    if fmt == "json":
        body = json.loads(content)
        birth = next(p for p in body["procedures"] if p["code"] == "1.001193")
        birth["fees"][0]["exemption"] = "Miễn lệ phí đăng ký khai sinh đúng hạn"
        content = json.dumps(body).encode()
    else:
        book = load_workbook(io.BytesIO(content))
        fees = book["fees"]
        header = [c.value for c in fees[1]]
        row = next(r for r in fees.iter_rows(min_row=2) if r[0].value == "1.001193")
        row[header.index("exemption")].value = "Miễn lệ phí đăng ký khai sinh đúng hạn"
        out = io.BytesIO()
        book.save(out)
        content = out.getvalue()
    result = await tx(sessions, transfer.import_catalogue, ADMIN, content, fmt)
    assert (result.created, result.updated, result.unchanged, result.codes) == (0, 1, 42, ["1.001193"])
    async with sessions() as s:
        draft = await queries.get_procedure(s, "1.001193", 2)
        assert draft.status == "draft" and draft.data["fees"][0]["exemption"].startswith("Miễn lệ phí")
        assert (await queries.get_procedure(s, "1.001193")).version == 1
    # The whole file cannot be published: 1.014199 is an incomplete draft (named by its row).
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, transfer.import_catalogue, ADMIN, content, fmt, publish=True)
    assert any(key.endswith(": documents") for key in err.value.fields)
    # Just that procedure, with publish=true: its open draft is published.
    single = json.loads(await export(sessions, "json", all_versions=True))
    single["procedures"] = [p for p in single["procedures"] if p["code"] == "1.001193" and p["version"] == 2]
    result = await tx(sessions, transfer.import_catalogue, ADMIN, json.dumps(single).encode(), "json", publish=True)
    assert result.codes == ["1.001193"]
    async with sessions() as s:
        assert (await queries.get_procedure(s, "1.001193")).version == 2
        trail = list(await s.scalars(select(AuditEntry.action).where(AuditEntry.entity_key == "1.001193")
                                     .order_by(AuditEntry.id)))
    assert trail[-4:] == ["import", "import", "supersede", "publish"]


async def test_invalid_json_rows_are_all_reported_by_row_and_field_and_nothing_is_written(sessions):
    good = {"code": "1.999001", "name": "Thủ tục mới", "level": "commune", "online": "full",
            "documents": [{"name": "Tờ khai"}], "workflow": [{"name": "Tiếp nhận", "role": "reception",
                                                              "budget_hours": 4}]}
    rows = [
        good,
        {**good, "code": "1.999002", "fees": [{"name": "Lệ phí", "amount_vnd": -1}]},
        {**good, "code": "1.999003", "agency_code": "999.99.99.H29"},
        {**good, "code": "1.999001"},
        {**good, "code": "1.999004", "eform_schema": {"type": "object", "properties": {"a": {"type": "nope"}}}},
        {**good, "code": "1.999005", "processing_time": {"value": -2, "unit": "working_day"}},
        "not an object",
    ]
    before = await counts(sessions)
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, transfer.import_catalogue, ADMIN, json.dumps(rows).encode(), "json")
    assert set(err.value.fields) == {"row 2: fees[0].amount_vnd", "row 3: agency_code", "row 4: code",
                                     "row 5: eform_schema", "row 6: processing_time.value", "row 7"}
    assert "row 1" in err.value.fields["row 4: code"]  # the duplicate names the first row
    assert await counts(sessions) == before


async def test_publishing_on_import_needs_documents_and_workflow_row_by_row(sessions):
    rows = [{"code": "1.999001", "name": "Thủ tục mới", "level": "commune", "online": "full"}]
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, transfer.import_catalogue, ADMIN, json.dumps(rows).encode(), "json", publish=True)
    assert set(err.value.fields) == {"row 1: documents", "row 1: workflow"}
    result = await tx(sessions, transfer.import_catalogue, ADMIN, json.dumps(rows).encode(), "json")
    assert result.created == 1


async def test_invalid_xlsx_rows_name_the_sheet_and_row_and_nothing_is_written(sessions):
    book = load_workbook(io.BytesIO(await export(sessions, "xlsx")))
    docs = book["documents"]
    header = [c.value for c in docs[1]]
    docs.cell(row=5, column=header.index("kind") + 1, value="photocopy")
    docs.cell(row=9, column=header.index("copies") + 1, value=-2)
    wf = book["workflow"]
    wf_header = [c.value for c in wf[1]]
    wf.cell(row=3, column=wf_header.index("budget_hours") + 1, value="nhiều")
    procs = book["procedures"]
    p_header = [c.value for c in procs[1]]
    procs.cell(row=4, column=p_header.index("level") + 1, value="district")
    docs.append(["9.999999", "d1", "Orphan"])
    out = io.BytesIO()
    book.save(out)
    before = await counts(sessions)
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, transfer.import_catalogue, ADMIN, out.getvalue(), "xlsx")
    assert set(err.value.fields) == {"documents row 5: kind", "documents row 9: copies",
                                     "workflow row 3: budget_hours", "procedures row 4: level",
                                     f"documents row {docs.max_row}: code"}
    assert await counts(sessions) == before


@pytest.mark.parametrize("content,fmt", [(b"", "json"), (b"{not json", "json"), (b"not a zip", "xlsx"),
                                         (b'{"procedures": 5}', "json"), (b"[]", "csv")])
async def test_unreadable_files_are_refused(sessions, content, fmt):
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, transfer.import_catalogue, ADMIN, content, fmt)
    assert err.value.fields


async def test_only_a_city_admin_imports_or_exports(sessions):
    with pytest.raises(PermissionDenied):
        await tx(sessions, transfer.import_catalogue, RECEPTION, b"[]", "json")
    async with sessions() as s:
        with pytest.raises(PermissionDenied):
            await transfer.export_catalogue(s, RECEPTION, "json")


async def test_a_reorganisation_keeps_old_agencies_with_a_successor_and_end_date(sessions):
    async with sessions() as s:
        communes = await queries.list_agencies(s, kind="commune")
    a, b = communes[0], communes[1]
    merged = "169.00.99.H29"
    plan = {"agencies": [
        {"code": merged, "name": f"Phường mới ({a.name} + {b.name})", "kind": "commune",
         "parent_code": "000.00.00.H29", "valid_from": "2026-01-01"},
        {"code": a.code, "name": a.name, "kind": "commune", "parent_code": "000.00.00.H29",
         "successor_code": merged, "valid_to": "2026-01-01"},
        {"code": b.code, "name": b.name, "kind": "commune", "parent_code": "000.00.00.H29",
         "successor_code": merged, "valid_to": "2026-01-01"},
        {"code": "068.00.99.H29.001", "name": "Tổ Một cửa Phường Sài Gòn", "kind": "team", "parent_code": "068.00.99.H29"},
    ]}
    result = await tx(sessions, agencies.import_agencies, ADMIN, json.dumps(plan).encode(), "json")
    assert (result.created, result.updated) == (2, 2)
    async with sessions() as s:
        active = {x.code for x in await queries.list_agencies(s, kind="commune")}
        everything = {x.code for x in await queries.list_agencies(s, kind="commune", include_inactive=True)}
        old = await queries.get_agency(s, a.code)  # old dossiers still resolve it
        trail = list(await s.scalars(select(AuditEntry).where(AuditEntry.entity == "agency")))
    assert merged in active and a.code not in active and b.code not in active
    assert {a.code, b.code, merged} <= everything
    assert old.successor_code == merged and old.valid_to is not None
    assert {e.entity_key for e in trail} == {merged, a.code, b.code, "068.00.99.H29.001"}
    # The merged agency's commune-level procedures are filed at the new one.
    names = [h.entry.name for h in (await build(sessions)).search("khai sinh", agency_code=merged)[0]]
    assert "Thủ tục đăng ký khai sinh" in names
    # The same plan again changes nothing.
    again = await tx(sessions, agencies.import_agencies, ADMIN, json.dumps(plan).encode(), "json")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


async def test_a_bad_reorganisation_is_reported_row_by_row_and_nothing_changes(sessions):
    plan = [
        {"code": "bad code", "name": "X", "kind": "commune", "parent_code": "000.00.00.H29"},
        {"code": "170.00.99.H29", "name": "Y", "kind": "commune", "parent_code": "999.99.99.H29"},
        {"code": "171.00.99.H29", "name": "Z", "kind": "district", "parent_code": "000.00.00.H29"},
        {"code": "001.00.99.H29", "name": "W", "kind": "commune", "parent_code": "000.00.00.H29",
         "successor_code": "172.00.99.H29"},
        {"code": "173.00.99.H29", "name": "A", "kind": "team", "parent_code": "174.00.99.H29"},
        {"code": "174.00.99.H29", "name": "B", "kind": "team", "parent_code": "173.00.99.H29"},
        {"code": "175.00.99.H29", "name": "C", "kind": "team", "parent_code": "000.00.00.H29",
         "valid_from": "hôm qua"},
    ]
    before = await counts(sessions)
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, agencies.import_agencies, ADMIN, json.dumps(plan).encode(), "json")
    assert set(err.value.fields) == {"row 1: code", "row 2: parent_code", "row 3: kind", "row 4: successor_code",
                                     "row 4: valid_to", "row 5: parent_code", "row 6: parent_code",
                                     "row 7: valid_from"}
    assert await counts(sessions) == before


GOOD = {"code": "1.999001", "name": "Thủ tục mới", "level": "commune", "online": "full",
        "documents": [{"name": "Tờ khai"}], "workflow": [{"name": "Tiếp nhận", "role": "reception", "budget_hours": 4}]}


async def test_bad_numbers_and_long_texts_are_refused_by_row_and_field_on_both_databases(sessions):
    rows = [
        {**GOOD, "code": "1.999001", "fees": [{"name": "Lệ phí", "amount_vnd": float("nan")}]},  # JSON NaN
        {**GOOD, "code": "1.999002", "fees": [{"name": "Lệ phí", "amount_vnd": "inf"}]},
        {**GOOD, "code": "1.999003", "documents": [{"name": "Tờ khai", "copies": 3_000_000_000}]},
        {**GOOD, "code": "1.999004", "fees": [{"name": "Lệ phí", "amount_vnd": 1e20}]},
        {**GOOD, "code": "1.999005", "workflow": [{"name": "Tiếp nhận", "role": "reception", "budget_hours": "nan"}]},
        {**GOOD, "code": "1.999006", "sector": "x" * 300},
        {**GOOD, "code": "1.999007", "fees": [{"name": "Lệ phí", "amount_vnd": "50.5"}]},
        {**GOOD, "code": "1.999008", "min_verification_level": 3},
    ]
    content = json.dumps(rows).encode()
    assert b"NaN" in content
    before = await counts(sessions)
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, transfer.import_catalogue, ADMIN, content, "json", publish=True)
    assert set(err.value.fields) == {
        "row 1: fees[0].amount_vnd", "row 2: fees[0].amount_vnd", "row 3: documents[0].copies",
        "row 4: fees[0].amount_vnd", "row 5: workflow[0].budget_hours", "row 6: sector",
        "row 7: fees[0].amount_vnd", "row 8: min_verification_level"}
    assert "50.000" in err.value.fields["row 7: fees[0].amount_vnd"]
    assert await counts(sessions) == before


async def test_the_largest_allowed_values_are_stored_and_read_back_on_both_databases(sessions):
    row = {**GOOD, "sector": "x" * 200, "fees": [{"name": "Lệ phí", "amount_vnd": 10**12}],
           "documents": [{"name": "Tờ khai", "copies": 1000}],
           "workflow": [{"name": "Tiếp nhận", "role": "reception", "budget_hours": 10_000}]}
    await tx(sessions, transfer.import_catalogue, ADMIN, json.dumps([row]).encode(), "json", publish=True)
    async with sessions() as s:
        message = procedure_message(await queries.get_procedure(s, GOOD["code"]))
    assert (message.fees[0].amount_vnd, message.documents[0].copies, message.workflow[0].budget_hours) == (
        10**12, 1000, 10_000)


async def test_a_fee_written_with_thousands_separators_is_imported_as_thousands(sessions):
    rows = [{**GOOD, "fees": [{"name": "Lệ phí", "amount_vnd": "50.000"}, {"name": "Phí", "amount_vnd": "1,250,000"}]}]
    await tx(sessions, transfer.import_catalogue, ADMIN, json.dumps(rows).encode(), "json")
    async with sessions() as s:
        draft = await queries.get_procedure(s, GOOD["code"], 1)
    assert [f["amount_vnd"] for f in draft.data["fees"]] == [50_000, 1_250_000]


async def test_publishing_on_import_audits_the_dates_as_publishing_by_hand_does(sessions):
    await tx(sessions, transfer.import_catalogue, ADMIN, json.dumps([GOOD]).encode(), "json", publish=True)
    async with sessions() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.entity_key == GOOD["code"],
                                                        AuditEntry.action == "publish"))
        row = await queries.get_procedure(s, GOOD["code"])
    changed = {c["field"]: json.loads(c["new"]) for c in entry.changes}
    assert changed["status"] == "published" and changed["effective_from"] == row.effective_from.isoformat()


async def test_an_agency_name_longer_than_its_column_is_refused_by_row(sessions):
    plan = [{"code": "176.00.99.H29", "name": "P" * 301, "kind": "commune", "parent_code": "000.00.00.H29"},
            {"code": "177.00.99.H29", "name": "P" * 300, "kind": "commune", "parent_code": "000.00.00.H29"}]
    before = await counts(sessions)
    with pytest.raises(InvalidInput) as err:
        await tx(sessions, agencies.import_agencies, ADMIN, json.dumps(plan).encode(), "json")
    assert set(err.value.fields) == {"row 1: name"}
    assert await counts(sessions) == before
    result = await tx(sessions, agencies.import_agencies, ADMIN, json.dumps(plan[1:]).encode(), "json")
    assert result.created == 1


async def test_a_merged_agency_s_procedures_get_drafts_naming_the_successor(sessions):
    async with sessions() as s:
        live = [p for p in await s.scalars(select(Procedure).where(Procedure.status == "published"))
                if p.agency_code]
        department = await queries.get_agency(s, live[0].agency_code)
    named = sorted(p.code for p in live if p.agency_code == department.code)
    opened = named[0]  # one already has an open draft: that draft is revised, no second draft
    await tx(sessions, admin.create_draft, ADMIN, {"code": opened}, copy_from_latest=True)
    successor = "000.00.98.H29"
    plan = [{"code": successor, "name": "Sở mới sau sáp nhập", "kind": department.kind,
             "parent_code": department.parent_code},
            {"code": department.code, "name": department.name, "kind": department.kind,
             "parent_code": department.parent_code, "successor_code": successor, "valid_to": "2099-01-01"}]
    result = await tx(sessions, agencies.import_agencies, ADMIN, json.dumps(plan).encode(), "json")
    assert sorted(result.drafts) == named
    async with sessions() as s:
        for code in named:
            versions = await queries.versions_of(s, code)
            assert [v.status for v in versions] == ["published", "draft"]  # still in force as published
            assert versions[0].agency_code == department.code and versions[1].agency_code == successor
            assert (await queries.get_procedure(s, code)).version == 1
        trail = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "agency_merge")))
    assert sorted(e.entity_key for e in trail) == named
    assert {"field": "agency_code", "old": json.dumps(department.code), "new": json.dumps(successor)} in trail[0].changes
    again = await tx(sessions, agencies.import_agencies, ADMIN, json.dumps(plan).encode(), "json")
    assert again.drafts == [] and again.unchanged == 2
