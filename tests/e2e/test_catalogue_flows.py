"""The catalogue through the gateway: citizens search and read procedures; a city
administrator drafts, publishes, imports and exports, and everyone else is refused."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from tests.e2e.portal import Portal

pytestmark = pytest.mark.system

CITY_ADMIN = "quantri.thanhpho"
ADMIN = "/api/v1/admin/catalogue"
NEW_CODE = "1.999101"


@pytest.fixture(scope="module")
def portal(system):
    return Portal(system.gateway_url)


@pytest.fixture(scope="module")
def admin(portal):
    return portal.bearer(portal.token(CITY_ADMIN))


def _problem(reply, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["status"] == status and body["detail"]
    return body


def test_citizens_search_without_accents_with_a_typo_with_filters_and_pages(portal):
    for q in ("dang ky ket hon", "đăng ký kết hông"):
        reply = portal.http.get("/api/v1/procedures", params={"q": q})
        assert reply.status_code == 200, reply.text
        assert reply.json()["items"][0]["name"] == "Thủ tục đăng ký kết hôn"
    province = portal.http.get("/api/v1/procedures", params={"level": "province", "page_size": 100}).json()
    assert province["total"] > 0 and {p["level"] for p in province["items"]} == {"province"}
    first = portal.http.get("/api/v1/procedures", params={"q": "dang ky", "page_size": 5}).json()
    second = portal.http.get("/api/v1/procedures", params={"q": "dang ky", "page_size": 5,
                                                           "page_token": first["next_page_token"]}).json()
    assert first["total"] == second["total"] > 5
    assert not {p["code"] for p in first["items"]} & {p["code"] for p in second["items"]}
    _problem(portal.http.get("/api/v1/procedures", params={"level": "district"}), 422)
    _problem(portal.http.get("/api/v1/procedures", params={"online": "maybe"}), 422)


def test_a_procedure_shows_its_workflow_eform_and_mandatory_documents_as_demo_settings(portal):
    birth = portal.http.get("/api/v1/procedures/1.001193").json()
    assert birth["demo_settings"] is True and birth["status"] == "published"
    assert [s["role"] for s in birth["workflow"]] == ["reception", "processing", "approval"]
    assert birth["eform_schema"]["type"] == "object" and "child_full_name" in birth["eform_schema"]["required"]
    assert [d["id"] for d in birth["documents"] if d["mandatory"]] == ["d4"]
    page = portal.http.get("/thu-tuc/1.001193")
    assert page.status_code == 200 and "minh họa" in page.text and "Quy trình xử lý" in page.text
    saigon = portal.commune_code()
    assert portal.http.get(f"/api/v1/agencies/{saigon}").json()["active"] is True


def test_only_a_city_admin_reaches_the_admin_routes(portal):
    _problem(portal.http.get(f"{ADMIN}/audit"), 401)
    official = portal.bearer(portal.token("tiepnhan.saigon"))
    _problem(portal.http.get(f"{ADMIN}/audit", headers=official), 403)
    _problem(portal.http.post(f"{ADMIN}/procedures", headers=official, json={"code": NEW_CODE}), 403)
    _problem(portal.http.get(f"{ADMIN}/export", headers=official), 403)


def test_a_city_admin_drafts_fixes_publishes_and_the_change_is_audited(portal, admin):
    new = {"code": NEW_CODE, "name": "Thủ tục xác nhận thử nghiệm liên thông", "sector": "Hộ tịch",
           "level": "commune", "online_mode": "full", "channels": ["online"],
           "fees": [{"name": "Lệ phí", "amount_vnd": -1000}],
           "documents": [{"name": "Tờ khai", "mandatory": True}],
           "eform_schema": {"type": "object", "properties": {"ho_ten": {"type": "string"}}, "required": ["ho_ten"]}}
    bad = _problem(portal.http.post(f"{ADMIN}/procedures", headers=admin, json=new), 422)
    assert "fees[0].amount_vnd" in bad["errors"]
    _problem(portal.http.post(f"{ADMIN}/procedures", headers=admin, json={**new, "surprise": 1}), 422)
    new["fees"][0]["amount_vnd"] = 1000
    created = portal.http.post(f"{ADMIN}/procedures", headers=admin, json=new)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft" and created.json()["version"] == 1
    # Drafts are not public.
    _problem(portal.http.get(f"/api/v1/procedures/{NEW_CODE}"), 404)
    _problem(portal.http.get(f"/api/v1/procedures/{NEW_CODE}", params={"version": 1}), 404)
    # No workflow yet: publishing is refused with the reason.
    refused = _problem(portal.http.post(f"{ADMIN}/procedures/{NEW_CODE}/versions/1/publish", headers=admin), 422)
    assert "workflow" in refused["errors"]
    new["workflow"] = [{"name": "Tiếp nhận", "role": "reception", "budget_hours": 2},
                       {"name": "Xử lý", "role": "processing", "budget_hours": 10},
                       {"name": "Phê duyệt", "role": "approval", "budget_hours": 4}]
    assert portal.http.put(f"{ADMIN}/procedures/{NEW_CODE}/versions/1", headers=admin, json=new).status_code == 200
    published = portal.http.post(f"{ADMIN}/procedures/{NEW_CODE}/versions/1/publish", headers=admin)
    assert published.status_code == 200, published.text
    found = portal.http.get("/api/v1/procedures", params={"q": "xac nhan thu nghiem lien thong"}).json()
    assert found["items"][0]["code"] == NEW_CODE
    assert portal.http.get(f"/api/v1/procedures/{NEW_CODE}").json()["eform_schema"]["required"] == ["ho_ten"]
    _problem(portal.http.put(f"{ADMIN}/procedures/{NEW_CODE}/versions/1", headers=admin, json=new), 409)
    audit = portal.http.get(f"{ADMIN}/audit", headers=admin, params={"entity": "procedure", "key": NEW_CODE}).json()
    assert [e["action"] for e in audit["items"]] == ["publish", "update_draft", "create_draft"]
    assert audit["items"][0]["actor_id"] and audit["items"][1]["changes"][0]["field"] == "workflow"
    versions = portal.http.get(f"{ADMIN}/procedures/{NEW_CODE}/versions", headers=admin).json()
    assert [(v["version"], v["status"]) for v in versions["versions"]] == [(1, "published")]


def test_a_city_admin_exports_xlsx_and_a_broken_upload_is_refused_row_by_row(portal, admin):
    reply = portal.http.get(f"{ADMIN}/export", headers=admin, params={"format": "xlsx"})
    assert reply.status_code == 200 and "spreadsheetml" in reply.headers["content-type"]
    assert "attachment" in reply.headers["content-disposition"]
    book = load_workbook(io.BytesIO(reply.content))
    procs = book["procedures"]
    header = [c.value for c in procs[1]]
    procs.cell(row=2, column=header.index("online") + 1, value="sometimes")
    out = io.BytesIO()
    book.save(out)
    files = {"file": ("danh-muc.xlsx", out.getvalue(), "application/octet-stream")}
    bad = _problem(portal.http.post(f"{ADMIN}/import", headers=admin, files=files), 422)
    assert bad["errors"] == {"procedures row 2: online": bad["errors"]["procedures row 2: online"]}
    good = portal.http.get(f"{ADMIN}/export", headers=admin, params={"format": "json"})
    files = {"file": ("danh-muc.json", good.content, "application/json")}
    dry = portal.http.post(f"{ADMIN}/import", headers=admin, files=files, data={"dry_run": "true"})
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["created"] == dry.json()["updated"] == 0
    files = {"file": ("notes.txt", b"hello", "text/plain")}
    _problem(portal.http.post(f"{ADMIN}/import", headers=admin, files=files), 422)


def test_an_agency_reorganisation_is_imported_and_old_codes_still_resolve(portal, admin):
    saigon = portal.commune_code()
    plan = {"agencies": [{"code": "068.00.99.H29.T01", "name": "Tổ Một cửa (thử nghiệm)", "kind": "team",
                          "parent_code": saigon}]}
    files = {"file": ("to-chuc.json", json.dumps(plan).encode(), "application/json")}
    reply = portal.http.post(f"{ADMIN}/agencies/import", headers=admin, files=files)
    assert reply.status_code == 200, reply.text and reply.json()["created"] == 1
    teams = portal.http.get("/api/v1/agencies", params={"kind": "team", "parent": saigon}).json()["items"]
    assert [t["code"] for t in teams] == ["068.00.99.H29.T01"]
    plan["agencies"][0]["parent_code"] = "999.99.99.H29"
    files = {"file": ("to-chuc.json", json.dumps(plan).encode(), "application/json")}
    bad = _problem(portal.http.post(f"{ADMIN}/agencies/import", headers=admin, files=files), 422)
    assert "row 1: parent_code" in bad["errors"]


@pytest.mark.parametrize("action,body,field", [
    ("publish", {"effective_from": 5}, "effective_from"),
    ("publish", {"effective_from": ["2030-01-01T00:00:00+07:00"]}, "effective_from"),
    ("retire", {"effective_to": 5}, "effective_to"),
    ("retire", {"reason": {"why": "x"}}, "reason"),
    ("retire", {"effective_to": "2020-01-01T00:00:00+07:00"}, "effective_to"),  # in the past
])
def test_bad_dates_for_publishing_or_retiring_are_refused_naming_the_field(portal, admin, action, body, field):
    reply = portal.http.post(f"{ADMIN}/procedures/1.001193/versions/1/{action}", headers=admin, json=body)
    assert field in _problem(reply, 422)["errors"]
    assert portal.http.get("/api/v1/procedures/1.001193").json()["status"] == "published"
